/**
 * The one way the doctor starts a process: execa with an argument array (never a shell),
 * a time limit, and a result instead of an exception. Paths with spaces, quotes or `$(...)`
 * are passed as they are and nothing in them is ever run.
 */
import { execa } from 'execa';

export interface ExecResult {
  command: string;
  args: readonly string[];
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The process ran past its time limit and was killed. */
  timedOut: boolean;
  /** The program is not installed (ENOENT) or not executable. */
  notFound: boolean;
  /** Any other failure to start or a kill by signal. */
  failed: boolean;
  signal?: string;
  durationMs: number;
}

export interface ExecOptions {
  timeoutMs: number;
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Stop reading output beyond this many bytes per stream. */
  maxBuffer?: number;
}

export async function run(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  const result = await execa(command, args, {
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
    reject: false,
    stdin: options.input === undefined ? 'ignore' : undefined,
    input: options.input,
    env: options.env,
    extendEnv: true,
    cwd: options.cwd,
    maxBuffer: options.maxBuffer ?? 16 * 1024 * 1024,
    stripFinalNewline: false,
    windowsHide: true,
  });
  const code = (result as { code?: string }).code;
  const notFound = code === 'ENOENT' || code === 'EACCES';
  return {
    command,
    args,
    exitCode: result.exitCode ?? null,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    timedOut: Boolean(result.timedOut),
    notFound,
    failed: Boolean(result.failed) && !result.timedOut && result.exitCode === undefined,
    signal: result.signal ?? undefined,
    durationMs: Math.round(performance.now() - started),
  };
}

/** A short description of why a finished process did not succeed, for summaries. */
export function describeFailure(result: ExecResult, limitMs: number): string {
  if (result.notFound) return `${result.command} is not installed or not on PATH`;
  if (result.timedOut) return `${result.command} did not answer within ${(limitMs / 1000).toFixed(0)} s`;
  const text = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' ').trim();
  if (result.signal) return `${result.command} was killed by ${result.signal}${text ? `: ${text}` : ''}`;
  return `${result.command} exited with code ${result.exitCode}${text ? `: ${text}` : ''}`;
}
