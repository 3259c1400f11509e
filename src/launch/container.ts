/**
 * The container operations of `up`, `down` and `diagnose`: inspect, logs, run, stop, remove,
 * all through run() with argument arrays and time limits. Docker and podman take the same
 * arguments for everything used here.
 */
import { describeFailure, localHost, type ExecResult, type Host } from '../exec.js';
import { DoctorError } from '../errors.js';
import { EXIT, type RuntimeName } from '../types.js';
import type { ContainerStateFacts } from '../diagnose.js';

export const INSPECT_TIMEOUT_MS = 15_000;
export const LOGS_TIMEOUT_MS = 30_000;
export const RUN_TIMEOUT_MS = 120_000;
/** A multi-GB serving image over a slow link. */
export const PULL_TIMEOUT_MS = 60 * 60_000;
/** Seconds the server gets to exit on SIGTERM before the runtime kills it. */
export const STOP_GRACE_S = 10;

export interface ContainerInfo {
  id: string;
  name: string;
  /** The image reference the container was created from (Config.Image). */
  image: string;
  labels: Record<string, string>;
  running: boolean;
  restarting: boolean;
  restartCount: number;
  state: ContainerStateFacts;
  /** Bind mounts as host path -> container path. */
  mounts: { source: string; destination: string }[];
  /** Host ports published for the container's ports ("8000/tcp" -> [{hostIp, hostPort}]). */
  publishedPorts: { containerPort: string; hostIp: string; hostPort: number }[];
}

/**
 * The same image under the names the two runtimes record: docker keeps the reference as the
 * user gave it, podman stores it fully qualified (`docker.io/library/x:latest`, and
 * `localhost/x` for an image made locally with `podman import` or `podman build`).
 */
export function sameImageRef(a: string, b: string): boolean {
  return canonicalImageRef(a) === canonicalImageRef(b);
}

function canonicalImageRef(ref: string): string {
  let name = ref.trim();
  const digestAt = name.indexOf('@');
  const digest = digestAt >= 0 ? name.slice(digestAt) : '';
  if (digestAt >= 0) name = name.slice(0, digestAt);
  const lastSlash = name.lastIndexOf('/');
  if (!digest && !name.slice(lastSlash + 1).includes(':')) name += ':latest';
  name = name.replace(/^(localhost|docker\.io|index\.docker\.io)\//, '');
  if (!name.includes('/')) name = `library/${name}`;
  return name + digest;
}

export type InspectResult = { exists: true; info: ContainerInfo } | { exists: false };

const NO_SUCH = /no such (container|object)|no container with name or id/i;

/** The runtime did not answer or failed: the doctor cannot tell what the container does. */
export class RuntimeError extends DoctorError {
  constructor(what: string, result: ExecResult, limitMs: number) {
    super(`${what}: ${describeFailure(result, limitMs)}`, EXIT.undetermined, result.notFound ? `install ${result.command}, or pick the runtime with --runtime` : `check that the ${result.command} daemon answers (\`${result.command} info\`)`);
    this.name = 'RuntimeError';
  }
}

export async function inspectContainer(cli: RuntimeName, name: string, host: Host = localHost): Promise<InspectResult> {
  const result = await host.run(cli, ['container', 'inspect', name], { timeoutMs: INSPECT_TIMEOUT_MS });
  if (result.exitCode !== 0) {
    if (!result.timedOut && !result.notFound && NO_SUCH.test(result.stderr + result.stdout)) return { exists: false };
    throw new RuntimeError(`could not inspect container ${name}`, result, INSPECT_TIMEOUT_MS);
  }
  const parsed = JSON.parse(result.stdout) as unknown[];
  const raw = parsed[0] as DockerInspect | undefined;
  if (!raw) return { exists: false };
  return { exists: true, info: toInfo(raw, name) };
}

interface DockerInspect {
  Id?: string;
  Name?: string;
  RestartCount?: number;
  State?: { Status?: string; Running?: boolean; Restarting?: boolean; OOMKilled?: boolean; ExitCode?: number; Error?: string };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  Mounts?: { Type?: string; Source?: string; Destination?: string }[];
  NetworkSettings?: { Ports?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null };
  HostConfig?: { PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null };
}

function toInfo(raw: DockerInspect, name: string): ContainerInfo {
  const state = raw.State ?? {};
  const ports = raw.NetworkSettings?.Ports ?? raw.HostConfig?.PortBindings ?? {};
  const publishedPorts: ContainerInfo['publishedPorts'] = [];
  for (const [containerPort, bindings] of Object.entries(ports ?? {})) {
    for (const b of bindings ?? []) {
      const hostPort = Number(b.HostPort);
      if (Number.isInteger(hostPort) && hostPort > 0) publishedPorts.push({ containerPort, hostIp: b.HostIp ?? '', hostPort });
    }
  }
  // A stopped container has no NetworkSettings ports; the requested bindings still say what it holds when started.
  if (publishedPorts.length === 0) {
    for (const [containerPort, bindings] of Object.entries(raw.HostConfig?.PortBindings ?? {})) {
      for (const b of bindings ?? []) {
        const hostPort = Number(b.HostPort);
        if (Number.isInteger(hostPort) && hostPort > 0) publishedPorts.push({ containerPort, hostIp: b.HostIp ?? '', hostPort });
      }
    }
  }
  return {
    id: raw.Id ?? '',
    name: (raw.Name ?? name).replace(/^\//, ''),
    image: raw.Config?.Image ?? '',
    labels: raw.Config?.Labels ?? {},
    running: Boolean(state.Running),
    restarting: Boolean(state.Restarting),
    restartCount: raw.RestartCount ?? 0,
    state: {
      status: state.Status ?? 'unknown',
      exitCode: typeof state.ExitCode === 'number' ? state.ExitCode : null,
      oomKilled: Boolean(state.OOMKilled),
      error: state.Error ? state.Error : null,
    },
    mounts: (raw.Mounts ?? []).filter((m) => m.Source && m.Destination).map((m) => ({ source: m.Source!, destination: m.Destination! })),
    publishedPorts,
  };
}

/**
 * The container's output, stdout and stderr merged in the order they were written (by the
 * runtime's timestamps), without the timestamps.
 */
export async function containerLogs(cli: RuntimeName, name: string, tail?: number, host: Host = localHost): Promise<string> {
  const args = ['logs', '--timestamps', ...(tail === undefined ? [] : ['--tail', String(tail)]), name];
  const result = await host.run(cli, args, { timeoutMs: LOGS_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  if (result.exitCode !== 0) throw new RuntimeError(`could not read the logs of ${name}`, result, LOGS_TIMEOUT_MS);
  return mergeTimestamped(result.stdout, result.stderr);
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ?/;

export function mergeTimestamped(stdout: string, stderr: string): string {
  const entries: { at: string; seq: number; text: string }[] = [];
  let seq = 0;
  for (const stream of [stdout, stderr]) {
    const lines = stream.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let last = '';
    for (const line of lines) {
      const m = TIMESTAMP.exec(line);
      if (m) last = normalizeStamp(m[1]!);
      entries.push({ at: last, seq: seq++, text: m ? line.slice(m[0].length) : line });
    }
  }
  entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.seq - b.seq));
  return entries.map((e) => e.text).join('\n') + (entries.length ? '\n' : '');
}

// Docker trims trailing zeros of the fraction, so compare on a fixed width.
function normalizeStamp(stamp: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(stamp);
  if (!m) return stamp;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}${m[3]}`;
}

/** The last non-empty log line, for the spinner; '' when there is none or the runtime is slow. */
export async function latestLogLine(cli: RuntimeName, name: string, host: Host = localHost): Promise<string> {
  const result = await host.run(cli, ['logs', '--tail', '3', name], { timeoutMs: 5_000 });
  const lines = `${result.stdout}\n${result.stderr}`.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

export async function runContainer(cli: RuntimeName, args: readonly string[], env: Record<string, string>, host: Host = localHost): Promise<ExecResult> {
  return host.run(cli, args, { timeoutMs: RUN_TIMEOUT_MS, env });
}

export async function imagePresent(cli: RuntimeName, image: string, host: Host = localHost): Promise<boolean> {
  const result = await host.run(cli, ['image', 'inspect', image], { timeoutMs: INSPECT_TIMEOUT_MS });
  return result.exitCode === 0;
}

export async function pullImage(cli: RuntimeName, image: string, host: Host = localHost): Promise<ExecResult> {
  return host.run(cli, ['pull', image], { timeoutMs: PULL_TIMEOUT_MS });
}

/** Stop (SIGTERM, then SIGKILL after the grace period) and remove. */
export async function stopAndRemove(cli: RuntimeName, name: string, host: Host = localHost): Promise<{ ok: boolean; message: string }> {
  const stopLimitMs = (STOP_GRACE_S + 20) * 1000;
  const stop = await host.run(cli, ['stop', '-t', String(STOP_GRACE_S), name], { timeoutMs: stopLimitMs });
  const removeLimitMs = 30_000;
  const remove = await host.run(cli, ['rm', '-f', name], { timeoutMs: removeLimitMs });
  if (remove.exitCode === 0 || NO_SUCH.test(remove.stderr)) return { ok: true, message: '' };
  const failed = stop.exitCode !== 0 && !NO_SUCH.test(stop.stderr) ? stop : remove;
  return { ok: false, message: describeFailure(failed, failed === stop ? stopLimitMs : removeLimitMs) };
}

/** Remove at once (SIGKILL): for a container this run started and is abandoning. */
export async function forceRemove(cli: RuntimeName, name: string, host: Host = localHost): Promise<{ ok: boolean; message: string }> {
  const limitMs = 30_000;
  const result = await host.run(cli, ['rm', '-f', name], { timeoutMs: limitMs });
  if (result.exitCode === 0 || NO_SUCH.test(result.stderr)) return { ok: true, message: '' };
  return { ok: false, message: describeFailure(result, limitMs) };
}
