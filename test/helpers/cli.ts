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
    env: { NO_COLOR: '1', CI: '', GITHUB_ACTIONS: '', ...options.env, PATH: pathParts.join(path.delimiter) },
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
