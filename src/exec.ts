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
  /** Standard output as it arrives, chunk by chunk (the result still holds all of it). */
  onStdout?: (chunk: Buffer) => void;
  /** Kill the process when this aborts (a handshake given up on before the command's own limit). */
  signal?: AbortSignal;
}

export async function run(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  const subprocess = execa(command, args, {
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
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  if (options.onStdout) subprocess.stdout?.on('data', options.onStdout);
  const result = await subprocess;
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

// ---- Where a command runs: this machine, or a host over SSH (src/ssh.ts) ----

/** What stat says about a path, the same on this machine and on a host. */
export interface FileStat {
  kind: 'file' | 'folder' | 'symlink' | 'other';
  sizeBytes: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
}

/** A file-system error with the errno code node:fs would give (ENOENT, EACCES, ENOTDIR, ...). */
export class FsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FsError';
  }
}

/**
 * The few file reads the probes need, so that one probe reads a folder on this machine
 * (node:fs) or on a host (its own stat, find, od, ...) with the same code. Failures throw an
 * FsError carrying the errno code.
 */
export interface HostFs {
  stat(p: string): Promise<FileStat>;
  lstat(p: string): Promise<FileStat>;
  /** Entry names of a folder (not sorted). */
  readdir(p: string): Promise<string[]>;
  readlink(p: string): Promise<string>;
  realpath(p: string): Promise<string>;
  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  read(p: string, offset: number, length: number): Promise<Buffer>;
  /** A whole (small) text file. */
  readText(p: string, maxBytes?: number): Promise<string>;
  /** Bytes an unprivileged writer may still use on the file system holding `p`. */
  freeBytes(p: string): Promise<number>;
  /**
   * Each step of reads costs a round trip (a host over SSH, which answers a repeated read from
   * what it already fetched): a probe asks early, all at once, for what it will likely need.
   */
  readsAreRoundTrips?: boolean;
}

export type ListenAttempt = { ok: true } | { ok: false; code: string; message: string };

/** The machine the probes and launches act on. */
export interface Host {
  /** `this machine`, or the TARGET as the user gave it. */
  label: string;
  remote: boolean;
  run(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult>;
  fs: HostFs;
  /** Could a server listen on address:port there? (Locally: try it; on a host: its listening sockets.) */
  tryListen(port: number, address: string): Promise<ListenAttempt>;
}

const FILE_KIND = (s: import('node:fs').Stats): FileStat['kind'] =>
  s.isFile() ? 'file' : s.isDirectory() ? 'folder' : s.isSymbolicLink() ? 'symlink' : 'other';

function toFileStat(s: import('node:fs').Stats): FileStat {
  return { kind: FILE_KIND(s), sizeBytes: s.size, mode: s.mode & 0o7777, uid: s.uid };
}

async function nodeFs() {
  return import('node:fs/promises');
}

/** node:fs, with its errors turned into FsError. */
const localFs: HostFs = {
  stat: async (p) => toFileStat(await asFsError((await nodeFs()).stat(p))),
  lstat: async (p) => toFileStat(await asFsError((await nodeFs()).lstat(p))),
  readdir: async (p) => asFsError((await nodeFs()).readdir(p)),
  readlink: async (p) => asFsError((await nodeFs()).readlink(p)),
  realpath: async (p) => asFsError((await nodeFs()).realpath(p)),
  async read(p, offset, length) {
    const handle = await asFsError((await nodeFs()).open(p, 'r'));
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  },
  async readText(p, maxBytes = 16 * 1024 * 1024) {
    const buffer = await localFs.read(p, 0, maxBytes);
    return buffer.toString('utf8');
  },
  async freeBytes(p) {
    const stats = await asFsError((await nodeFs()).statfs(p));
    return Number(stats.bavail) * Number(stats.bsize);
  },
};

async function asFsError<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new FsError(e.code ?? 'EIO', e.message);
  }
}

async function listenLocally(port: number, address: string): Promise<ListenAttempt> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, code: error.code ?? 'UNKNOWN', message: error.message }));
    server.listen({ port, host: address, exclusive: true }, () => server.close(() => resolve({ ok: true })));
  });
}

export const localHost: Host = {
  label: 'this machine',
  remote: false,
  run,
  fs: localFs,
  tryListen: listenLocally,
};
