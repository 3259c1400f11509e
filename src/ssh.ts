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
import { UsageError } from './errors.js';
import { shellQuote } from './report/format.js';

/** `[ssh://][user@]host[:port]` or an ssh config alias, as the user gave it and as ssh takes it. */
export interface SshTarget {
  /** As given (the label in reports). */
  raw: string;
  /** `user@host` or `host`, handed to ssh after `--`. */
  destination: string;
  port: number | null;
}

const HOST_NAME = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])$/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Parse one TARGET; `option` names where it came from for the error (`--host`, `--hosts FILE line 3`). */
export function parseTarget(input: string, option: string): SshTarget {
  const raw = input.trim();
  const example = `give [ssh://][user@]host[:port] or a Host alias of your ssh config, e.g. ${option.startsWith('--hosts') ? 'gpu1.example.com' : '--host gpu1'}`;
  if (raw === '') throw new UsageError(`${option}: empty target; ${example}`);
  if (raw.startsWith('-')) throw new UsageError(`${option}: "${raw}" starts with "-" and would be read as an ssh option; ${example}`);
  const rest = raw.startsWith('ssh://') ? raw.slice('ssh://'.length).replace(/\/$/, '') : raw;
  const match = /^(?:([^@]*)@)?(\[[^\]]*\]|[^:@]*)(?::([^:]*))?$/.exec(rest);
  if (!match) throw new UsageError(`${option}: "${raw}" is not a valid target; ${example}`);
  const [, user, host = '', portText] = match;
  if (user !== undefined && !USER_NAME.test(user)) throw new UsageError(`${option}: "${raw}" has an invalid user name "${user}"; ${example}`);
  if (!HOST_NAME.test(host)) throw new UsageError(`${option}: "${raw}" has no valid host name${host ? ` ("${host}")` : ''}; ${example}`);
  let port: number | null = null;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${option}: "${raw}" has an invalid port "${portText}"; give a port from 1 to 65535`);
  }
  const bareHost = host.startsWith('[') ? host.slice(1, -1) : host;
  return { raw, destination: user !== undefined ? `${user}@${bareHost}` : bareHost, port };
}

/** The targets of `--host` (repeatable) and `--hosts FILE`, in order, duplicates dropped. */
export async function readTargets(hosts: readonly string[], hostsFile: string | null): Promise<SshTarget[]> {
  const targets = hosts.map((h) => parseTarget(h, '--host'));
  if (hostsFile !== null) {
    let text: string;
    try {
      text = await readFile(hostsFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : String((error as Error).message);
      throw new UsageError(`--hosts: cannot read ${hostsFile}: ${why}. Give a file with one [user@]host[:port] per line`);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      targets.push(parseTarget(trimmed, `--hosts ${hostsFile} line ${i + 1}`));
    });
    if (targets.length === 0 && hosts.length === 0) throw new UsageError(`--hosts: ${hostsFile} names no host (only blank lines and # comments); give one [user@]host[:port] per line`);
  }
  const seen = new Set<string>();
  return targets.filter((t) => (seen.has(t.raw) ? false : (seen.add(t.raw), true)));
}

/** Quote a command and its arguments for the remote shell: every word single-quoted data. */
export function remoteCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map(shellQuote).join(' ');
}

export interface SshOptions {
  /** Connection time limit (ssh's ConnectTimeout). */
  connectTimeoutMs: number;
  /** An ssh config file to use instead of the user's (GUARD_DOCTOR_SSH_CONFIG). */
  configFile?: string | null;
}

/** sshd's MaxSessions defaults to 10 per connection; stay under it. */
const SESSIONS_PER_HOST = 8;
/** What the doctor's own reads on a host may take, each. */
const FS_TIMEOUT_MS = 15_000;
/** Extra time the local ssh gets beyond the remote `timeout`, to bring back its exit status. */
const REMOTE_GRACE_MS = 3_000;

/** One run's SSH connections: a private folder for the control sockets, closed together. */
export class SshSession {
  private dir: string | null = null;
  private readonly hosts: SshHost[] = [];
  constructor(readonly options: SshOptions) {}

  async controlDir(): Promise<string> {
    // Unix socket paths are short (108 bytes): a short folder under the temp dir, mode 0700.
    this.dir ??= await mkdtemp(path.join(os.tmpdir(), 'gd-ssh-'));
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
    if (this.dir) await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
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
    this.fs = remoteFs(this);
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

  /** `ssh -O forward -L local:127.0.0.1:remote` on the shared connection. */
  async forward(localPort: number, remotePort: number, cancel = false): Promise<ExecResult> {
    return run('ssh', [...this.baseArgs(), '-O', cancel ? 'cancel' : 'forward', '-L', `127.0.0.1:${localPort}:127.0.0.1:${remotePort}`, '--', this.target.destination], { timeoutMs: 10_000 });
  }

  /** The `ssh -L` line a user types to reach a port of the host from their machine. */
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

  async tryListen(port: number, address: string): Promise<ListenAttempt> {
    const result = await this.run('ss', ['-Hltn'], { timeoutMs: FS_TIMEOUT_MS });
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

/** `od -An -v -tx1` output back to bytes. */
export function parseOdHex(text: string): Buffer {
  const hex = text.replace(/[^0-9a-f]/gi, '');
  return Buffer.from(hex, 'hex');
}

/** The file reads of the model and runtime probes, done with the host's own POSIX tools. */
function remoteFs(host: SshHost): HostFs {
  const limit = { timeoutMs: FS_TIMEOUT_MS };
  const statWith = async (p: string, follow: boolean): Promise<FileStat> => {
    const result = await host.run('stat', [...(follow ? ['-L'] : []), '-c', '%f %s %u', '--', p], limit);
    const parsed = result.exitCode === 0 ? parseStat(result.stdout) : null;
    if (!parsed) throw fsErrorFrom(result, p);
    return parsed;
  };
  return {
    stat: (p) => statWith(p, true),
    lstat: (p) => statWith(p, false),
    async readdir(p) {
      // -H follows the folder itself when it is a link, as readdir does; NUL-separated names survive anything.
      const result = await host.run('find', ['-H', p, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\0'], { ...limit, maxBuffer: 8 * 1024 * 1024 });
      if (result.exitCode !== 0) throw fsErrorFrom(result, p);
      return result.stdout.split('\0').filter((n) => n !== '');
    },
    async readlink(p) {
      const result = await host.run('readlink', ['--', p], limit);
      if (result.exitCode !== 0) throw fsErrorFrom(result, p);
      return result.stdout.replace(/\n$/, '');
    },
    async realpath(p) {
      const result = await host.run('realpath', ['-e', '--', p], limit);
      if (result.exitCode !== 0) throw fsErrorFrom(result, p);
      return result.stdout.replace(/\n$/, '');
    },
    async read(p, offset, length) {
      const result = await host.run('od', ['-An', '-v', '-tx1', '-j', String(offset), '-N', String(length), '--', p], { ...limit, maxBuffer: length * 4 + 1024 });
      if (result.exitCode !== 0) throw fsErrorFrom(result, p);
      return parseOdHex(result.stdout);
    },
    async readText(p, maxBytes = 16 * 1024 * 1024) {
      const result = await host.run('head', ['-c', String(maxBytes), '--', p], { ...limit, maxBuffer: maxBytes + 1024 });
      if (result.exitCode !== 0) throw fsErrorFrom(result, p);
      return result.stdout;
    },
    async freeBytes(p) {
      const result = await host.run('stat', ['-f', '-c', '%a %S', '--', p], limit);
      const m = /^(\d+) (\d+)/.exec(result.stdout.trim());
      if (result.exitCode !== 0 || !m) throw fsErrorFrom(result, p);
      return Number(m[1]) * Number(m[2]);
    },
  };
}
