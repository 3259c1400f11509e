/**
 * Hosts over SSH. The system `ssh` client does the work, so the user's ssh config, agent,
 * ProxyJump and known_hosts all apply; the doctor adds only: never prompt (BatchMode), a
 * connection time limit, one shared connection per host (ControlMaster, with its socket in a
 * private temp folder removed at the end), a time limit on every remote command (locally and,
 * with coreutils' `timeout`, on the host too), and quoting that keeps every argument data.
 * Nothing is installed on a host: it needs a POSIX shell, coreutils, findutils and iproute2's ss.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsError, run, type ExecOptions, type ExecResult, type FileStat, type Host, type HostFs, type ListenAttempt } from './exec.js';
import type { SshTarget } from './targets.js';
import { shellQuote } from './report/format.js';

/** Quote a command and its arguments for the remote shell: every word single-quoted data. */
export function remoteCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map(shellQuote).join(' ');
}

export interface SshOptions {
  /** Connection time limit (ssh's ConnectTimeout). */
  connectTimeoutMs: number;
  /** An ssh config file to use instead of the user's (GUARD_DOCTOR_SSH_CONFIG). */
  configFile?: string | null;
  /** Time limit of each batch of file reads on a host (the probes' limit). */
  readTimeoutMs?: number;
}

/** sshd's MaxSessions defaults to 10 per connection; stay under it. */
const SESSIONS_PER_HOST = 8;
/** What the doctor's own reads on a host may take, each, unless the session says otherwise. */
const FS_TIMEOUT_MS = 15_000;
/** Extra time the local ssh gets beyond the remote `timeout`, to bring back its exit status. */
const REMOTE_GRACE_MS = 3_000;

/** One run's SSH connections: a private folder for the control sockets, closed together. */
export class SshSession {
  private dir: Promise<string> | null = null;
  private readonly hosts: SshHost[] = [];
  constructor(readonly options: SshOptions) {}

  async controlDir(): Promise<string> {
    // Unix socket paths are short (108 bytes): a short folder under the temp dir, mode 0700.
    // One promise, so hosts connecting at once share the folder rather than race to make two.
    this.dir ??= mkdtemp(path.join(os.tmpdir(), 'gd-ssh-'));
    return this.dir;
  }

  host(target: SshTarget): SshHost {
    const host = new SshHost(target, this, this.hosts.length);
    this.hosts.push(host);
    return host;
  }

  /** Ask every master connection to exit (closing its forwards) and remove the folder. */
  async close(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.disconnect()));
    if (this.dir) await rm(await this.dir, { recursive: true, force: true }).catch(() => undefined);
    this.dir = null;
  }
}

export type Connection = { ok: true; durationMs: number } | { ok: false; message: string; durationMs: number };

export class SshHost implements Host {
  readonly label: string;
  readonly remote = true;
  readonly fs: HostFs;
  private controlPath: string | null = null;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly target: SshTarget,
    private readonly session: SshSession,
    private readonly id: number,
  ) {
    this.label = target.raw;
    this.fs = remoteFs(this, session.options.readTimeoutMs ?? FS_TIMEOUT_MS);
  }

  /** ssh's options for every call: no prompts, a connection limit, the shared connection. */
  private baseArgs(): string[] {
    const args: string[] = [];
    if (this.session.options.configFile) args.push('-F', this.session.options.configFile);
    args.push(
      '-o', 'BatchMode=yes',
      '-o', `ConnectTimeout=${Math.max(1, Math.round(this.session.options.connectTimeoutMs / 1000))}`,
      '-o', 'ServerAliveInterval=15',
      '-o', 'ServerAliveCountMax=3',
      '-o', 'LogLevel=ERROR',
    );
    if (this.controlPath) args.push('-o', `ControlPath=${this.controlPath}`);
    if (this.target.port !== null) args.push('-p', String(this.target.port));
    return args;
  }

  /**
   * Open the shared (master) connection. Its log goes to a file (-E): a backgrounded master
   * would otherwise hold our stderr pipe open. On failure: ssh's own words.
   */
  async connect(): Promise<Connection> {
    const dir = await this.session.controlDir();
    const controlPath = path.join(dir, `c${this.id}`);
    const logFile = path.join(dir, `c${this.id}.log`);
    const limitMs = this.session.options.connectTimeoutMs + 5_000;
    const result = await run(
      'ssh',
      [...this.baseArgs(), '-E', logFile, '-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-o', 'ControlPersist=600', '-f', '-N', '--', this.target.destination],
      { timeoutMs: limitMs },
    );
    if (result.exitCode === 0) {
      this.controlPath = controlPath;
      return { ok: true, durationMs: result.durationMs };
    }
    const logged = await readFile(logFile, 'utf8').catch(() => '');
    const words = (logged.trim() || result.stderr.trim()).split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' ');
    const message = result.notFound
      ? 'ssh is not installed or not on PATH'
      : result.timedOut
        ? `ssh did not connect within ${Math.round(limitMs / 1000)} s${words ? `: ${words}` : ''}`
        : words || `ssh exited with code ${result.exitCode}`;
    return { ok: false, message, durationMs: result.durationMs };
  }

  async disconnect(): Promise<void> {
    if (!this.controlPath) return;
    await run('ssh', [...this.baseArgs(), '-O', 'exit', '--', this.target.destination], { timeoutMs: 5_000 });
    this.controlPath = null;
  }

  /**
   * A local forward on the shared connection: 127.0.0.1:<free port> here reaches
   * remoteAddress:remotePort as the host sees it. Closed with the connection, or by close().
   */
  async forward(remoteAddress: string, remotePort: number): Promise<{ ok: true; localPort: number; close(): Promise<void> } | { ok: false; message: string }> {
    const localPort = await freeLocalPort();
    const spec = `127.0.0.1:${localPort}:${remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress}:${remotePort}`;
    const result = await run('ssh', [...this.baseArgs(), '-O', 'forward', '-L', spec, '--', this.target.destination], { timeoutMs: 15_000 });
    if (result.exitCode !== 0) return { ok: false, message: firstLine(result) };
    return {
      ok: true,
      localPort,
      close: async () => {
        if (this.controlPath) await run('ssh', [...this.baseArgs(), '-O', 'cancel', '-L', spec, '--', this.target.destination], { timeoutMs: 10_000 });
      },
    };
  }

  /** The `ssh -L` line a user types to reach a port on the host's 127.0.0.1 from their machine. */
  forwardCommand(localPort: number, remotePort: number): string {
    const port = this.target.port !== null ? ` -p ${this.target.port}` : '';
    return `ssh -N -L ${localPort}:127.0.0.1:${remotePort}${port} ${shellQuote(this.target.destination)}`;
  }

  private async slot(): Promise<() => void> {
    if (this.active >= SESSIONS_PER_HOST) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    return () => {
      this.active -= 1;
      this.waiting.shift()?.();
    };
  }

  /**
   * Run one command on the host. The command line is quoted word by word, so nothing in an
   * argument is expanded by the remote shell; `env` values travel on standard input (never
   * on a command line, where `ps` would show them). Exit 127 (not found) and 124 (the
   * remote `timeout` fired) read as they do locally.
   */
  async run(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    const envKeys = Object.entries(options.env ?? {}).filter((e): e is [string, string] => e[1] !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(e[0]));
    const prefix: string[] = [];
    for (const [key] of envKeys) prefix.push(`IFS= read -r ${key} && export ${key} &&`);
    if (options.cwd) prefix.push(`cd ${shellQuote(options.cwd)} &&`);
    const line = [...prefix, 'exec', remoteCommand('timeout', ['-k', '2', String(seconds), command, ...args])].join(' ');
    const input = envKeys.length ? envKeys.map(([, v]) => `${v.replace(/\n/g, ' ')}\n`).join('') + (options.input ?? '') : options.input;
    const release = await this.slot();
    try {
      const result = await run('ssh', [...this.baseArgs(), '-o', 'ControlMaster=no', '--', this.target.destination, line], {
        timeoutMs: options.timeoutMs + REMOTE_GRACE_MS,
        input,
        maxBuffer: options.maxBuffer,
      });
      const notFound = result.exitCode === 127 || result.exitCode === 126;
      return {
        ...result,
        command,
        args,
        timedOut: result.timedOut || result.exitCode === 124 || result.exitCode === 137,
        notFound,
        failed: result.failed || result.exitCode === 255,
      };
    } finally {
      release();
    }
  }

  private listeners: { at: number; result: Promise<ExecResult> } | null = null;

  async tryListen(port: number, address: string): Promise<ListenAttempt> {
    // One `ss` answers for every port tried within a few seconds (the probe's search for a free neighbour).
    if (!this.listeners || performance.now() - this.listeners.at > 5_000) {
      this.listeners = { at: performance.now(), result: this.run('ss', ['-Hltn'], { timeoutMs: this.session.options.readTimeoutMs ?? FS_TIMEOUT_MS }) };
    }
    const result = await this.listeners.result;
    if (result.exitCode !== 0) return { ok: false, code: 'UNTESTED', message: `ss on ${this.label} did not answer: ${firstLine(result)}` };
    return listenersBlock(result.stdout, port, address) ? { ok: false, code: 'EADDRINUSE', message: `${address}:${port} is already in use on ${this.label}` } : { ok: true };
  }
}

/** Does a listener in `ss -Hltn` output keep address:port from being bound? (wildcards clash with everything) */
export function listenersBlock(ssOutput: string, port: number, address: string): boolean {
  const wildcard = (a: string) => a === '0.0.0.0' || a === '::' || a === '*' || a === '';
  const want = address.replace(/^\[|\]$/g, '');
  for (const line of ssOutput.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const at = local.lastIndexOf(':');
    if (Number(local.slice(at + 1)) !== port) continue;
    const bound = local.slice(0, at).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    if (wildcard(bound) || wildcard(want) || bound === want) return true;
  }
  return false;
}

/** A port nobody listens on here right now (the kernel's pick). */
async function freeLocalPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as import('node:net').AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function firstLine(result: ExecResult): string {
  return (result.stderr.trim() || result.stdout.trim()).split('\n')[0] ?? `exit code ${result.exitCode}`;
}

/** stat's, find's and readlink's complaints, as the errno codes node:fs would give. */
function fsErrorFrom(result: ExecResult, p: string): FsError {
  const text = `${result.stderr}\n${result.stdout}`;
  if (result.timedOut) return new FsError('ETIMEDOUT', `reading ${p} on the host did not finish in time`);
  if (/No such file or directory/i.test(text)) return new FsError('ENOENT', `${p}: no such file or directory`);
  if (/Not a directory/i.test(text)) return new FsError('ENOTDIR', `${p}: not a directory`);
  if (/Permission denied/i.test(text)) return new FsError('EACCES', `${p}: permission denied`);
  if (/Invalid argument/i.test(text)) return new FsError('EINVAL', `${p}: invalid argument`);
  if (/Too many levels of symbolic links/i.test(text)) return new FsError('ELOOP', `${p}: too many levels of symbolic links`);
  return new FsError('EIO', `${p}: ${firstLine(result)}`);
}

const S_IFMT = 0o170000;
function kindOf(rawMode: number): FileStat['kind'] {
  switch (rawMode & S_IFMT) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'folder';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}

/** `%f %s %u`: raw mode in hex, size, owner. */
export function parseStat(line: string): FileStat | null {
  const m = /^([0-9a-f]+) (\d+) (\d+)\s*$/i.exec(line.trim());
  if (!m) return null;
  const raw = parseInt(m[1]!, 16);
  return { kind: kindOf(raw), sizeBytes: Number(m[2]), mode: raw & 0o7777, uid: Number(m[3]) };
}

/** How long a listing's facts about an entry stand in for a stat of it. */
const STAT_CACHE_MS = 60_000;

/** find's `%y %m %s %U` for one entry: type letter, permission bits (octal), size, owner. */
export function parseListingMeta(text: string): FileStat | null {
  const m = /^([a-zA-Z]) ([0-7]+) (\d+) (\d+)$/.exec(text.trim());
  if (!m) return null;
  const kind: FileStat['kind'] = m[1] === 'f' ? 'file' : m[1] === 'd' ? 'folder' : m[1] === 'l' ? 'symlink' : 'other';
  return { kind, mode: parseInt(m[2]!, 8) & 0o7777, sizeBytes: Number(m[3]), uid: Number(m[4]) };
}

/** `od -An -v -tx1` output back to bytes. */
export function parseOdHex(text: string): Buffer {
  const hex = text.replace(/[^0-9a-f]/gi, '');
  return Buffer.from(hex, 'hex');
}

/**
 * One shell loop that runs a batch of file reads with the host's own tools. The operations
 * and paths arrive as positional parameters ("$p" is always quoted), never as script text, so
 * nothing in a path is run. Each result ends with a line holding the batch's random token
 * and the exit status.
 */
const FS_BATCH_SCRIPT = [
  'LC_ALL=C; export LC_ALL; t=$1; shift',
  'while [ $# -ge 4 ]; do',
  '  op=$1; p=$2; a=$3; b=$4; shift 4',
  '  case $op in',
  "    stat) stat -L -c '%f %s %u' -- \"$p\" ;;",
  "    lstat) stat -c '%f %s %u' -- \"$p\" ;;",
  "    readdir) find -H \"$p\" -mindepth 1 -maxdepth 1 -printf '%f\\0%y %m %s %U\\0' ;;",
  '    readlink) readlink -- "$p" ;;',
  '    realpath) realpath -e -- "$p" ;;',
  '    read) od -An -v -tx1 -j "$a" -N "$b" -- "$p" ;;',
  '    text) head -c "$b" -- "$p" ;;',
  "    free) stat -f -c '%a %S' -- \"$p\" ;;",
  '    *) echo "unknown operation" >&2; false ;;',
  '  esac 2>&1',
  "  printf '\\n%s %s\\n' \"$t\" \"$?\"",
  'done',
].join('\n');

type FsOp = 'stat' | 'lstat' | 'readdir' | 'readlink' | 'realpath' | 'read' | 'text' | 'free';
interface Pending {
  op: FsOp;
  path: string;
  a: number;
  b: number;
  resolve(value: { exitCode: number; output: string }): void;
  reject(error: unknown): void;
}

/** At most this many operations share one remote command. */
const FS_BATCH_MAX = 200;

/** Splits a batch's output into each operation's output and exit status. */
export function splitBatchOutput(stdout: string, token: string, count: number): Array<{ exitCode: number; output: string }> {
  const results: Array<{ exitCode: number; output: string }> = [];
  const marker = new RegExp(`\\n${token} (\\d+)\\n`, 'g');
  let from = 0;
  for (const m of stdout.matchAll(marker)) {
    results.push({ exitCode: Number(m[1]), output: stdout.slice(from, m.index) });
    from = m.index! + m[0].length;
    if (results.length === count) break;
  }
  return results;
}

/**
 * The file reads of the probes, done with the host's own POSIX tools (stat, find, readlink,
 * realpath, od, head). Reads asked for at the same moment (a probe's Promise.all) travel
 * together in one remote command: one round trip per step of the probe, not one per file.
 */
function remoteFs(host: SshHost, timeoutMs: number): HostFs {
  const queue: Pending[] = [];
  let scheduled = false;
  const flush = async () => {
    scheduled = false;
    const batch = queue.splice(0, FS_BATCH_MAX);
    if (queue.length > 0) schedule();
    if (batch.length === 0) return;
    const token = `gd${Math.random().toString(16).slice(2, 10)}${Date.now().toString(16)}`;
    const args = [token, ...batch.flatMap((op) => [op.op, op.path, String(op.a), String(op.b)])];
    const maxBuffer = 16 * 1024 * 1024 + batch.reduce((n, op) => n + (op.op === 'read' ? op.b * 4 : op.op === 'text' ? op.b : 4096), 0);
    try {
      const result = await host.run('sh', ['-c', FS_BATCH_SCRIPT, 'sh', ...args], { timeoutMs, maxBuffer });
      if (process.env.GUARD_DOCTOR_DEBUG) process.stderr.write(`[ssh ${host.label}] ${batch.length} reads (${batch.map((b) => `${b.op} ${b.path}`).join(', ')}) in ${result.durationMs} ms\n`);
      const parts = splitBatchOutput(result.stdout, token, batch.length);
      batch.forEach((op, i) => {
        const part = parts[i];
        if (part) op.resolve(part);
        else op.reject(result.timedOut ? new FsError('ETIMEDOUT', `reading ${op.path} on ${host.label} did not finish within ${Math.round(timeoutMs / 1000)} s`) : new FsError('EIO', `reading ${op.path} on ${host.label} failed: ${firstLine(result)}`));
      });
    } catch (error) {
      for (const op of batch) op.reject(error);
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  };
  // The probe asks some things twice (a folder's listing while it looks for the model, then
  // while it describes it): within a run, the host's first answer stands.
  const answers = new Map<string, { at: number; answer: Promise<{ exitCode: number; output: string }> }>();
  const call = (op: FsOp, p: string, a = 0, b = 0) => {
    const key = `${op}\0${p}\0${a}\0${b}`;
    const hit = answers.get(key);
    if (hit && performance.now() - hit.at < STAT_CACHE_MS) return hit.answer;
    const answer = new Promise<{ exitCode: number; output: string }>((resolve, reject) => {
      queue.push({ op, path: p, a, b, resolve, reject });
      schedule();
    });
    answers.set(key, { at: performance.now(), answer });
    return answer;
  };
  // What a listing already said about each entry (type, mode, size, owner): the probe's lstat
  // of every entry, and its stat of those that are not links, need no second round trip.
  const known = new Map<string, { at: number; lstat: FileStat }>();
  const cached = (p: string, follow: boolean): FileStat | null => {
    const hit = known.get(p);
    if (!hit || performance.now() - hit.at > STAT_CACHE_MS) return null;
    return follow && hit.lstat.kind === 'symlink' ? null : hit.lstat;
  };
  const fail = (p: string, output: string) => fsErrorFrom({ stdout: '', stderr: output, exitCode: 1, timedOut: false } as ExecResult, p);
  const statWith = async (op: 'stat' | 'lstat', p: string): Promise<FileStat> => {
    const hit = cached(p, op === 'stat');
    if (hit) return hit;
    const r = await call(op, p);
    const parsed = r.exitCode === 0 ? parseStat(r.output) : null;
    if (!parsed) throw fail(p, r.output);
    return parsed;
  };
  return {
    stat: (p) => statWith('stat', p),
    lstat: (p) => statWith('lstat', p),
    async readdir(p) {
      // -H follows the folder itself when it is a link, as readdir does; NUL-separated names survive anything.
      const r = await call('readdir', p);
      if (r.exitCode !== 0) throw fail(p, r.output);
      const parts = r.output.split('\0');
      const names: string[] = [];
      const at = performance.now();
      for (let i = 0; i + 1 < parts.length; i += 2) {
        const name = parts[i]!;
        if (name === '') continue;
        names.push(name);
        const meta = parseListingMeta(parts[i + 1]!);
        if (meta) known.set(path.posix.join(p, name), { at, lstat: meta });
      }
      return names;
    },
    async readlink(p) {
      const r = await call('readlink', p);
      if (r.exitCode !== 0) throw fail(p, r.output);
      return r.output.replace(/\n$/, '');
    },
    async realpath(p) {
      const r = await call('realpath', p);
      if (r.exitCode !== 0) throw fail(p, r.output);
      return r.output.replace(/\n$/, '');
    },
    async read(p, offset, length) {
      const r = await call('read', p, offset, length);
      if (r.exitCode !== 0) throw fail(p, r.output);
      return parseOdHex(r.output);
    },
    async readText(p, maxBytes = 16 * 1024 * 1024) {
      const r = await call('text', p, 0, maxBytes);
      if (r.exitCode !== 0) throw fail(p, r.output);
      return r.output;
    },
    async freeBytes(p) {
      const r = await call('free', p);
      const m = /^(\d+) (\d+)/.exec(r.output.trim());
      if (r.exitCode !== 0 || !m) throw fail(p, r.output);
      return Number(m[1]) * Number(m[2]);
    },
  };
}
