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

interface QueuedRun {
  command: string;
  args: readonly string[];
  options: ExecOptions;
  resolve(result: ExecResult): void;
}

/** At most this many commands share one session (sshd starts them all at once on the host). */
const RUN_BATCH_MAX = 16;
const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024;

function batchToken(): string {
  return `gd${Math.random().toString(16).slice(2, 10)}${Date.now().toString(16)}`;
}

function lostResult(item: QueuedRun, durationMs: number): ExecResult {
  return { command: item.command, args: item.args, exitCode: null, stdout: '', stderr: '', timedOut: false, notFound: false, failed: false, durationMs: Math.round(durationMs) };
}

/** The batch script's positional parameters: the token, then per command its time limit (s), its word count and its words. */
export function batchWords(token: string, batch: ReadonlyArray<{ command: string; args: readonly string[]; options: { timeoutMs: number } }>): string[] {
  return [token, ...batch.flatMap((b) => [String(Math.max(1, Math.ceil(b.options.timeoutMs / 1000))), String(1 + b.args.length), b.command, ...b.args])];
}

/**
 * Runs several commands on the host at once and sends each result back as soon as it ends:
 * `TOKEN index exit-status stdout-bytes stderr-bytes`, then the bytes of standard output and
 * of standard error. The commands' words are positional parameters, reached from `eval` only
 * as "${N}" references built from numbers, so nothing in a word is ever script text. Finished
 * commands report on a private FIFO; only the main loop writes to the session's output.
 */
export const RUN_BATCH_SCRIPT = [
  't=$1; shift',
  'd=$(mktemp -d "${TMPDIR:-/tmp}/gd-run.XXXXXX") || exit 97',
  "trap 'rm -rf \"$d\"' EXIT",
  'mkfifo "$d/f" || exit 97',
  'exec 3<>"$d/f"',
  'n=0; i=1',
  'while [ "$i" -lt "$#" ]; do',
  '  eval "s=\\${$i} c=\\${$((i + 1))}"',
  '  r=; j=$((i + 2)); e=$((i + 2 + c))',
  '  while [ "$j" -lt "$e" ]; do r="$r \\"\\${$j}\\""; j=$((j + 1)); done',
  '  { eval "timeout -k 2 \\"\\$s\\" $r" </dev/null >"$d/$n.o" 2>"$d/$n.e"; echo "$n $?" >&3; } >/dev/null 2>&1 &',
  '  n=$((n + 1)); i=$e',
  'done',
  'k=0',
  'while [ "$k" -lt "$n" ] && read -r m x <&3; do',
  '  printf \'%s %s %s %s %s\\n\' "$t" "$m" "$x" "$(wc -c <"$d/$m.o")" "$(wc -c <"$d/$m.e")"',
  '  cat "$d/$m.o" "$d/$m.e"',
  '  k=$((k + 1))',
  'done',
].join('\n');

/** Reads RUN_BATCH_SCRIPT's output as it streams in; anything before a frame (a chatty login) is skipped. */
export class BatchFrames {
  private chunks: Buffer[] = [];
  private length = 0;
  private body: { index: number; exitCode: number; outBytes: number; errBytes: number } | null = null;
  private readonly header: RegExp;
  count = 0;

  constructor(
    token: string,
    private readonly onFrame: (frame: { index: number; exitCode: number; stdout: Buffer; stderr: Buffer }) => void,
  ) {
    this.header = new RegExp(`(?:^|\\n)${token} (\\d+) (\\d+) +(\\d+) +(\\d+)\\n`);
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    for (;;) {
      if (this.body) {
        const need = this.body.outBytes + this.body.errBytes;
        if (this.length < need) return;
        const all = this.take();
        const { index, exitCode, outBytes } = this.body;
        this.body = null;
        this.keep(all.subarray(need));
        this.count += 1;
        this.onFrame({ index, exitCode, stdout: all.subarray(0, outBytes), stderr: all.subarray(outBytes, need) });
        continue;
      }
      const all = this.take();
      const m = this.header.exec(all.toString('latin1'));
      if (!m) {
        this.keep(all);
        return;
      }
      this.body = { index: Number(m[1]), exitCode: Number(m[2]), outBytes: Number(m[3]), errBytes: Number(m[4]) };
      this.keep(all.subarray(m.index + m[0].length));
    }
  }

  private take(): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    this.chunks = [];
    this.length = 0;
    return all;
  }

  private keep(rest: Buffer): void {
    if (rest.length === 0) return;
    this.chunks = [rest];
    this.length = rest.length;
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

/** OpenSSH's multiplexing protocol (PROTOCOL.mux in its sources), version 4: the messages a terminate needs. */
const MUX_MSG_HELLO = 0x00000001;
const MUX_C_TERMINATE = 0x10000005;
const MUX_S_OK = 0x80000001;

function muxPacket(...words: number[]): Buffer {
  const packet = Buffer.alloc(4 + 4 * words.length);
  packet.writeUInt32BE(4 * words.length, 0);
  words.forEach((word, i) => packet.writeUInt32BE(word, 4 + 4 * i));
  return packet;
}

/**
 * Tell the master listening on `socketPath` to exit, as `ssh -O exit` does: exchange hellos,
 * send MUX_C_TERMINATE, wait for MUX_S_OK or the end of the connection. False when no master
 * answered there (the caller falls back).
 */
export async function terminateMaster(socketPath: string, limitMs: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    let settled = false;
    let input = Buffer.alloc(0);
    let helloSeen = false;
    const socket = net.connect(socketPath);
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), limitMs);
    // The master may exit before its MUX_S_OK gets out (OpenSSH's mux.c says so): once the
    // terminate is sent, the socket closing is the answer, as `ssh -O exit` takes it.
    socket.on('error', () => finish(helloSeen));
    socket.on('close', () => finish(helloSeen));
    socket.on('connect', () => socket.write(muxPacket(MUX_MSG_HELLO, 4)));
    socket.on('data', (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
      while (input.length >= 4 && input.length >= 4 + input.readUInt32BE(0)) {
        const body = input.subarray(4, 4 + input.readUInt32BE(0));
        input = input.subarray(4 + body.length);
        const type = body.length >= 4 ? body.readUInt32BE(0) : -1;
        if (!helloSeen) {
          if (type !== MUX_MSG_HELLO) return finish(false);
          helloSeen = true;
          socket.write(muxPacket(MUX_C_TERMINATE, 1));
        } else {
          return finish(type === MUX_S_OK && body.length >= 8 && body.readUInt32BE(4) === 1);
        }
      }
    });
  });
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

/** GUARD_DOCTOR_DEBUG=ssh: one line per ssh call, with when it started and ended (ms since the process began). */
function trace(label: string, what: string, started: number, exitCode: number | null): void {
  if (!/\bssh\b/.test(process.env.GUARD_DOCTOR_DEBUG ?? '')) return;
  const now = performance.now();
  process.stderr.write(`[ssh ${label}] ${Math.round(started)}..${Math.round(now)} ms (${Math.round(now - started)} ms) exit ${exitCode}: ${what}\n`);
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
  const flush = () => {
    scheduled = false;
    const batch = queue.splice(0, FS_BATCH_MAX);
    if (queue.length > 0) schedule();
    if (batch.length > 0) void readBatch(batch);
  };
  const readBatch = async (batch: Pending[]) => {
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
  // The reads leave with the commands asked for in the same turn (one session for both).
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    host.scheduleFlush();
  };
  host.onFlush(() => {
    if (scheduled) void flush();
  });
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
    readsAreRoundTrips: true,
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
