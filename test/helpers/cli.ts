/**
 * Runs the built program the way a user does (`node bin/guard-doctor.js ...`), with a time
 * limit, and hands back what the user sees: exit code, stdout, stderr, and the parsed JSON.
 */
import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'guard-doctor.js');
/** Fake programs (nvidia-smi, ...) that tests put first on PATH. */
export const FAKE_BIN = path.join(ROOT, 'test', 'helpers', 'bin');

/**
 * Without --model-dir the model comes from the hub: by default the tests' user has every
 * size in the cache and HF_HUB_OFFLINE on (test/global-setup.ts), and no hub variables of the
 * machine running the tests leak in. Tests of the hub source set their own.
 */
export const HERMETIC_HUB_ENV: Record<string, string | undefined> = {
  HF_HOME: process.env.GUARD_TEST_HF_HOME,
  HF_HUB_OFFLINE: process.env.GUARD_TEST_HF_HOME ? '1' : undefined,
  HF_HUB_CACHE: undefined,
  HUGGINGFACE_HUB_CACHE: undefined,
  HF_TOKEN: undefined,
  HUGGING_FACE_HUB_TOKEN: undefined,
  HF_TOKEN_PATH: undefined,
  HF_ENDPOINT: undefined,
  MODELSCOPE_CACHE: undefined,
  MODELSCOPE_DOMAIN: undefined,
  MODELSCOPE_API_TOKEN: undefined,
  HTTPS_PROXY: undefined,
  https_proxy: undefined,
  ALL_PROXY: undefined,
  all_proxy: undefined,
};

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON. */
  json: any;
  durationMs: number;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
  /** Put test/helpers/bin (fake nvidia-smi) first on PATH. Default true. */
  fakeBin?: boolean;
  /** Extra folders to put first on PATH. */
  pathPrepend?: string[];
}

export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const started = Date.now();
  const pathParts = [...(options.pathPrepend ?? []), ...(options.fakeBin === false ? [] : [FAKE_BIN]), process.env.PATH ?? ''];
  const result = await execa(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: '1', CI: '', GITHUB_ACTIONS: '', ...HERMETIC_HUB_ENV, ...options.env, PATH: pathParts.join(path.delimiter) },
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
  });
  let json: unknown;
  try {
    json = JSON.parse(String(result.stdout));
  } catch {
    json = undefined;
  }
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    json,
    durationMs: Date.now() - started,
  };
}

/**
 * Starts the built program as a user would (no CI, a plain terminal's environment plus `env`) and
 * resolves once its stderr shows `text`, e.g. to interrupt `up` while it waits. Rejects with what it
 * printed when it ends first. The process comes back inside an object: a subprocess is itself a
 * promise, so returning it bare from an async function would wait for it to end.
 */
export async function startUntilStderr(args: string[], text: string, env: Record<string, string | undefined> = {}) {
  const child = execa(process.execPath, [BIN, ...args], {
    env: { NO_COLOR: '1', CI: '', PATH: `${FAKE_BIN}:${process.env.PATH}`, ...env },
    reject: false,
    timeout: 90_000,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const watch = setInterval(() => {
      if (stderr.includes(text)) {
        clearInterval(watch);
        resolve();
      }
    }, 50);
    void child.then(() => {
      clearInterval(watch);
      reject(new Error(`the program ended before printing ${JSON.stringify(text)}: ${stderr}`));
    });
  });
  return { child };
}
