/**
 * Hosts over SSH. The system `ssh` client does the work, so the user's ssh config, agent,
 * ProxyJump and known_hosts all apply; the doctor adds only: never prompt (BatchMode), a
 * connection time limit, one shared connection per host (ControlMaster, with its socket in a
 * private temp folder removed at the end), a time limit on every remote command (locally and,
 * with coreutils' `timeout`, on the host too), and quoting that keeps every argument data.
 * For speed: commands asked for in the same turn share one session and stream their results
 * back as each ends, file reads travel in batches, check's nvidia-smi rides the master's own
 * session, and masters are closed over their control socket. GUARD_DOCTOR_DEBUG=ssh traces it.
 * Nothing is installed on a host: it needs a POSIX shell, coreutils, findutils and iproute2's ss.
 * The pieces: src/ssh/batch.ts (commands sharing a session), src/ssh/remote-fs.ts (the host's
 * file reads and listening ports), src/ssh/mux.ts (closing a master), src/ssh/trace.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsError, run, type ExecOptions, type ExecResult, type FileStat, type Host, type HostFs, type ListenAttempt } from './exec.js';
import type { SshTarget } from './targets.js';
import { shellQuote } from './report/format.js';
import { BatchFrames, DEFAULT_MAX_BUFFER, RUN_BATCH_MAX, RUN_BATCH_SCRIPT, batchToken, batchWords, lostResult, type QueuedRun } from './ssh/batch.js';
import { terminateMaster } from './ssh/mux.js';
import { listenersBlock, remoteFs } from './ssh/remote-fs.js';
import { firstLine, trace } from './ssh/trace.js';

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

  /** Set by close(): a connection that comes up afterwards is closed at once. */
  closed = false;

  host(target: SshTarget): SshHost {
    const host = new SshHost(target, this, this.hosts.length);
    this.hosts.push(host);
    return host;
  }

  /** Ask every master connection to exit (closing its forwards) and remove the folder. */
  async close(): Promise<void> {
    this.closed = true;
    const started = performance.now();
    // A handshake still under way ends first (it closes itself, see connect), so that no master
    // outlives the run or finds its socket folder gone.
    await Promise.all(this.hosts.map((h) => h.connecting?.catch(() => undefined)));
    await Promise.all(this.hosts.map((h) => h.disconnect()));
    trace('session', `closed ${this.hosts.length} connections`, started, 0);
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

  /** The handshake under way, if any (SshSession.close waits for it). */
  connecting: Promise<Connection> | null = null;

  /**
   * Open the shared (master) connection. Its log goes to a file (-E): a backgrounded master
   * would otherwise hold our stderr pipe open. On failure: ssh's own words.
   */
  connect(first?: FirstCommand): Promise<Connection> {
    this.connecting ??= (first ? this.openMasterWith(first) : this.openMaster()).finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** The first command's result, handed out once to the run() that asks for that very command. */
  private first: { key: string; result: Promise<ExecResult> } | null = null;

  /**
   * Open the master connection with a first command riding on it (the fleet's nvidia-smi,
   * which takes longest): with ControlPersist and no -f, ssh authenticates, opens the control
   * socket, moves the master to the background and runs the command through it, so the
   * command starts the moment the connection is up, without another ssh process. The
   * connection counts as up when its control socket appears.
   */
  private async openMasterWith(first: FirstCommand): Promise<Connection> {
    const dir = await this.session.controlDir();
    const controlPath = path.join(dir, `c${this.id}`);
    const logFile = path.join(dir, `c${this.id}.log`);
    const limitMs = this.session.options.connectTimeoutMs + 5_000;
    const started = performance.now();
    const giveUp = new AbortController();
    const line = `exec ${remoteCommand('timeout', ['-k', '2', String(Math.max(1, Math.ceil(first.timeoutMs / 1000))), first.command, ...first.args])}`;
    const running = run('ssh', [...this.baseArgs(), '-E', logFile, '-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-o', 'ControlPersist=600', '--', this.target.destination, line], {
      timeoutMs: limitMs + first.timeoutMs + REMOTE_GRACE_MS,
      maxBuffer: first.maxBuffer,
      signal: giveUp.signal,
    });
    let ended = false;
    void running.then(() => (ended = true));
    const { stat } = await import('node:fs/promises');
    const up = async () => (await stat(controlPath).catch(() => null))?.isSocket() ?? false;
    while (!ended && performance.now() - started < limitMs && !(await up())) await new Promise((r) => setTimeout(r, 10));
    const durationMs = Math.round(performance.now() - started);
    trace(this.label, `connect (ControlMaster, with ${first.command})`, started, null);
    void running.then((r) => trace(this.label, `  [first] ${first.command} ${first.args.slice(0, 1).join(' ').slice(0, 50)}`, started, r.exitCode));
    if (await up()) {
      this.controlPath = controlPath;
      this.first = { key: commandKey(first.command, first.args), result: running.then((r) => remoteResult(r, first.command, first.args)) };
      if (this.session.closed) {
        await this.disconnect();
        return { ok: false, message: 'the run was stopped before this host was reached', durationMs };
      }
      return { ok: true, durationMs };
    }
    if (!ended) giveUp.abort();
    const result = await running;
    return { ok: false, message: await this.connectFailure(logFile, result, limitMs, !ended), durationMs };
  }

  private async connectFailure(logFile: string, result: ExecResult, limitMs: number, timedOut: boolean): Promise<string> {
    const logged = await readFile(logFile, 'utf8').catch(() => '');
    const words = (logged.trim() || result.stderr.trim()).split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' ');
    return result.notFound
      ? 'ssh is not installed or not on PATH'
      : timedOut || result.timedOut
        ? `ssh did not connect within ${Math.round(limitMs / 1000)} s${words ? `: ${words}` : ''}`
        : words || `ssh exited with code ${result.exitCode}`;
  }

  private async openMaster(): Promise<Connection> {
    const dir = await this.session.controlDir();
    const controlPath = path.join(dir, `c${this.id}`);
    const logFile = path.join(dir, `c${this.id}.log`);
    const limitMs = this.session.options.connectTimeoutMs + 5_000;
    const result = await run(
      'ssh',
      [...this.baseArgs(), '-E', logFile, '-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-o', 'ControlPersist=600', '-f', '-N', '--', this.target.destination],
      { timeoutMs: limitMs },
    );
    trace(this.label, 'connect (ControlMaster)', performance.now() - result.durationMs, result.exitCode);
    if (result.exitCode === 0) {
      this.controlPath = controlPath;
      if (this.session.closed) {
        // Started ahead of its turn, and the run ended meanwhile (Ctrl-C): leave nothing behind.
        await this.disconnect();
        return { ok: false, message: 'the run was stopped before this host was reached', durationMs: result.durationMs };
      }
      return { ok: true, durationMs: result.durationMs };
    }
    return { ok: false, message: await this.connectFailure(logFile, result, limitMs, false), durationMs: result.durationMs };
  }

  /**
   * Ask the master connection to exit: what `ssh -O exit` sends, sent from here over the
   * control socket (no process to start at the end of every run); `ssh -O exit` if that fails.
   */
  async disconnect(): Promise<void> {
    if (!this.controlPath) return;
    if (!(await terminateMaster(this.controlPath, 2_000))) await run('ssh', [...this.baseArgs(), '-O', 'exit', '--', this.target.destination], { timeoutMs: 5_000 });
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

  private readonly queue: QueuedRun[] = [];
  private flushScheduled = false;
  private readonly drains: Array<() => void> = [];

  /** Something that hands its own queued work to run() just before a flush (the file reads). */
  onFlush(drain: () => void): void {
    this.drains.push(drain);
  }

  /** Commands asked for within one turn of the event loop leave together (see run). */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const drain of this.drains) drain();
    const queued = this.queue.splice(0);
    for (let at = 0; at < queued.length; at += RUN_BATCH_MAX) {
      const batch = queued.slice(at, at + RUN_BATCH_MAX);
      if (batch.length === 1) void this.runAlone(batch[0]!.command, batch[0]!.args, batch[0]!.options).then(batch[0]!.resolve);
      else void this.runBatch(batch);
    }
  }

  /**
   * Run one command on the host. Commands asked for at the same moment (the probes start
   * together) share one ssh session: a small script on the host starts them all at once and
   * sends each one's result back the moment it ends, so a slow nvidia-smi delays nobody and
   * the host is asked once per step instead of once per command. A command with standard
   * input, environment or a working folder gets its own session.
   */
  run(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
    if (this.first && this.first.key === commandKey(command, args)) {
      const { result } = this.first;
      this.first = null;
      return result;
    }
    const hasEnv = Object.values(options.env ?? {}).some((v) => v !== undefined);
    if (options.input !== undefined || hasEnv || options.cwd) return this.runAlone(command, args, options);
    return new Promise((resolve) => {
      this.queue.push({ command, args, options, resolve });
      this.scheduleFlush();
    });
  }

  /**
   * One command in its own session. The command line is quoted word by word, so nothing in
   * an argument is expanded by the remote shell; `env` values travel on standard input (never
   * on a command line, where `ps` would show them). Exit 127 (not found) and 124 (the remote
   * `timeout` fired) read as they do locally.
   */
  private async runAlone(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    const envKeys = Object.entries(options.env ?? {}).filter((e): e is [string, string] => e[1] !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(e[0]));
    const prefix: string[] = [];
    for (const [key] of envKeys) prefix.push(`IFS= read -r ${key} && export ${key} &&`);
    if (options.cwd) prefix.push(`cd ${shellQuote(options.cwd)} &&`);
    const line = [...prefix, 'exec', remoteCommand('timeout', ['-k', '2', String(seconds), command, ...args])].join(' ');
    const input = envKeys.length ? envKeys.map(([, v]) => `${v.replace(/\n/g, ' ')}\n`).join('') + (options.input ?? '') : options.input;
    const release = await this.slot();
    const started = performance.now();
    try {
      const result = await run('ssh', [...this.baseArgs(), '-o', 'ControlMaster=no', '--', this.target.destination, line], {
        timeoutMs: options.timeoutMs + REMOTE_GRACE_MS,
        input,
        maxBuffer: options.maxBuffer,
      });
      trace(this.label, `${command} ${args.slice(0, 2).join(' ').slice(0, 60)}`, started, result.exitCode);
      return remoteResult(result, command, args);
    } finally {
      release();
    }
  }

  /** Several commands in one session (RUN_BATCH_SCRIPT); each settles when its own result arrives. */
  private async runBatch(batch: QueuedRun[]): Promise<void> {
    const token = batchToken();
    const settled = new Set<number>();
    const timers: NodeJS.Timeout[] = [];
    const settle = (index: number, result: ExecResult) => {
      if (settled.has(index)) return;
      settled.add(index);
      trace(this.label, `  [${index}] ${batch[index]!.command} ${batch[index]!.args.slice(0, 2).join(' ').slice(0, 50)}`, started, result.exitCode);
      batch[index]!.resolve(result);
    };
    const release = await this.slot();
    const started = performance.now();
    batch.forEach((item, index) => {
      // The host's `timeout` ends each command; this is the net under it (a connection that hangs).
      timers.push(setTimeout(() => settle(index, { ...lostResult(item, performance.now() - started), timedOut: true, stderr: `no answer from ${this.label} within ${Math.round(item.options.timeoutMs / 1000)} s` }), item.options.timeoutMs + REMOTE_GRACE_MS));
    });
    const frames = new BatchFrames(token, (frame) => {
      const item = batch[frame.index];
      if (!item) return;
      const limit = item.options.maxBuffer ?? DEFAULT_MAX_BUFFER;
      settle(frame.index, {
        command: item.command,
        args: item.args,
        exitCode: frame.exitCode,
        stdout: frame.stdout.subarray(0, limit).toString('utf8'),
        stderr: frame.stderr.subarray(0, limit).toString('utf8'),
        timedOut: frame.exitCode === 124 || frame.exitCode === 137,
        notFound: frame.exitCode === 127 || frame.exitCode === 126,
        failed: frame.stdout.length > limit || frame.stderr.length > limit,
        durationMs: Math.round(performance.now() - started),
      });
    });
    let result: ExecResult;
    try {
      result = await run('ssh', [...this.baseArgs(), '-o', 'ControlMaster=no', '--', this.target.destination, `exec ${remoteCommand('sh', ['-c', RUN_BATCH_SCRIPT, 'sh', ...batchWords(token, batch)])}`], {
        timeoutMs: Math.max(...batch.map((b) => b.options.timeoutMs)) + REMOTE_GRACE_MS,
        maxBuffer: batch.reduce((n, b) => n + 2 * (b.options.maxBuffer ?? DEFAULT_MAX_BUFFER), 64 * 1024),
        onStdout: (chunk) => frames.push(chunk),
      });
    } finally {
      release();
      for (const timer of timers) clearTimeout(timer);
    }
    trace(this.label, `${batch.length} commands (${batch.map((b) => `${b.command} ${b.args[0] ?? ''}`).join(', ').slice(0, 120)})`, started, result.exitCode);
    const left = batch.map((_, i) => i).filter((i) => !settled.has(i));
    if (left.length === 0) return;
    // A host that could not run the script at all (no mktemp or mkfifo there): one session each.
    if (frames.count === 0 && !result.timedOut && result.exitCode !== 255) {
      await Promise.all(left.map(async (i) => settle(i, await this.runAlone(batch[i]!.command, batch[i]!.args, batch[i]!.options))));
      return;
    }
    for (const i of left) {
      settle(i, { ...lostResult(batch[i]!, result.durationMs), exitCode: result.exitCode, stderr: result.stderr, timedOut: result.timedOut, failed: true });
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

/** A command to run on the master connection itself (see SshHost.connect). */
export interface FirstCommand {
  command: string;
  args: readonly string[];
  timeoutMs: number;
  maxBuffer?: number;
}

function commandKey(command: string, args: readonly string[]): string {
  return [command, ...args].join('\0');
}

/** An ssh run's result as the command's own: 127/126 not found, 124/137 the remote `timeout`, 255 ssh itself. */
function remoteResult(result: ExecResult, command: string, args: readonly string[]): ExecResult {
  return {
    ...result,
    command,
    args,
    timedOut: result.timedOut || result.exitCode === 124 || result.exitCode === 137,
    notFound: result.exitCode === 127 || result.exitCode === 126,
    failed: result.failed || result.exitCode === 255,
  };
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

