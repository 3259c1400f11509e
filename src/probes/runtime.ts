/**
 * The container runtime's facts: the CLI, its daemon, how it can hand a GPU to a container
 * (NVIDIA runtime, the hook Docker's `--gpus` uses, or NVIDIA CDI specs), and what a local
 * image says about the CUDA it was built for. One `docker info` (or `podman info`) call.
 */
import path from 'node:path';
import { localHost, type ExecResult, type Host } from '../exec.js';
import type { ImageInfo, PodmanHost, RuntimeInfo } from '../facts.js';
import type { Settings } from '../settings.js';
import type { RuntimeName } from '../types.js';
import { ProbeTimeoutError } from '../errors.js';

/** Where the NVIDIA Container Toolkit writes CDI specs (`nvidia-ctk cdi generate`) by default. */
export const DEFAULT_CDI_SPEC_DIRS: readonly string[] = ['/etc/cdi', '/var/run/cdi'];
/** The CDI kind of NVIDIA GPU devices, as in `--device nvidia.com/gpu=all`. */
export const NVIDIA_CDI_KIND = 'nvidia.com/gpu';
/**
 * Docker's daemon registers the device driver behind `--gpus` only when this program is on
 * its PATH (moby daemon/nvidia_linux.go); without it: `could not select device driver ""`.
 */
export const NVIDIA_HOOK = 'nvidia-container-runtime-hook';
/** The first Docker Engine release with CDI on by default. */
export const DOCKER_CDI_DEFAULT_ON_MAJOR = 28;
const HOOK_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/sbin', '/usr/local/sbin', '/bin', '/sbin'];
const CDI_SPEC_MAX_BYTES = 1024 * 1024;

export interface DockerInfoFields {
  daemonVersion: string | null;
  cliVersion: string | null;
  runtimes: string[];
  defaultRuntime: string | null;
  /** null when the daemon does not report it (Docker before 25, or CDI disabled). */
  cdiSpecDirs: string[] | null;
}

/**
 * Reads `docker info --format '{{json .}}'`. With the daemon down the CLI still prints a
 * document (empty server fields, ClientInfo filled) and exits 1, so emptiness is checked.
 */
export function parseDockerInfo(stdout: string): DockerInfoFields | null {
  let doc: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(stdout.trim());
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    doc = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
  const client = doc.ClientInfo && typeof doc.ClientInfo === 'object' ? (doc.ClientInfo as Record<string, unknown>) : {};
  const runtimes = doc.Runtimes && typeof doc.Runtimes === 'object' && !Array.isArray(doc.Runtimes) ? Object.keys(doc.Runtimes) : [];
  const cdi = Array.isArray(doc.CDISpecDirs) ? doc.CDISpecDirs.filter((d): d is string => typeof d === 'string' && d !== '') : null;
  return {
    daemonVersion: text(doc.ServerVersion),
    cliVersion: text(client.Version),
    runtimes: runtimes.sort(),
    defaultRuntime: text(doc.DefaultRuntime),
    cdiSpecDirs: cdi && cdi.length > 0 ? cdi : null,
  };
}

export interface PodmanInfoFields {
  version: string | null;
  ociRuntime: string | null;
  host: PodmanHost;
}

/**
 * Reads `podman info --format json`: the version, the OCI runtime, and how this podman runs
 * (rootless or not, cgroup manager, events logger, network backend, storage, uid mappings).
 */
export function parsePodmanInfo(stdout: string): PodmanInfoFields | null {
  let doc: PodmanInfoDocument;
  try {
    doc = JSON.parse(stdout.trim()) as PodmanInfoDocument;
  } catch {
    return null;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return null;
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
  const version = text(doc.version?.Version);
  const ociRuntime = text(doc.host?.ociRuntime?.name);
  if (version === null && ociRuntime === null) return null;
  const host = doc.host ?? {};
  const uidmap = host.idMappings?.uidmap;
  const slirp = text(host.slirp4netns?.executable);
  const pasta = text(host.pasta?.executable);
  const networkReported = host.slirp4netns !== undefined || host.pasta !== undefined;
  return {
    version,
    ociRuntime,
    host: {
      rootless: Boolean(host.security?.rootless ?? host.rootless),
      cgroupManager: text(host.cgroupManager),
      cgroupVersion: text(host.cgroupVersion),
      eventLogger: text(host.eventLogger),
      networkBackend: text(host.networkBackend),
      graphDriver: text(doc.store?.graphDriverName),
      graphRoot: text(doc.store?.graphRoot),
      uidMapSize: Array.isArray(uidmap) ? uidmap.reduce((n, m) => n + (typeof m?.size === 'number' ? m.size : 0), 0) : null,
      ...(networkReported ? { rootlessNetwork: pasta ?? slirp } : {}),
    },
  };
}

interface PodmanInfoDocument {
  version?: { Version?: unknown };
  host?: {
    ociRuntime?: { name?: unknown };
    rootless?: unknown;
    security?: { rootless?: unknown };
    cgroupManager?: unknown;
    cgroupVersion?: unknown;
    eventLogger?: unknown;
    networkBackend?: unknown;
    idMappings?: { uidmap?: { size?: unknown }[] | null };
    slirp4netns?: { executable?: unknown };
    pasta?: { executable?: unknown };
  };
  store?: { graphDriverName?: unknown; graphRoot?: unknown };
}

/**
 * The NVIDIA devices `nvidia-ctk cdi list` names on standard output, one per line
 * (`nvidia.com/gpu=0`, `nvidia.com/gpu=GPU-<uuid>`, `nvidia.com/gpu=all`); its
 * `Found N CDI devices` line is a log line on standard error.
 */
export function parseNvidiaCtkCdiList(stdout: string): string[] {
  const devices = new Set<string>();
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^\s*(nvidia\.com\/gpu=[^\s]+)\s*$/.exec(line);
    if (m?.[1]) devices.add(m[1]);
  }
  return [...devices].sort();
}

/** Devices `nvidia-ctk cdi list` reports, or null when nvidia-ctk is absent or failed. */
async function nvidiaCtkCdiList(settings: Settings, host: Host): Promise<string[] | null> {
  const result = await host.run('nvidia-ctk', ['cdi', 'list'], { timeoutMs: settings.probeTimeoutMs });
  if (result.notFound || result.timedOut || result.exitCode !== 0) return null;
  return parseNvidiaCtkCdiList(result.stdout);
}

/**
 * The fully qualified NVIDIA devices (`nvidia.com/gpu=all`) a CDI spec declares, or [] when
 * the spec is of another kind. JSON is parsed; YAML gets a line scan of the top-level `kind:`
 * and the `- name:` entries under the top-level `devices:` (no YAML dependency needed).
 */
export function nvidiaDevicesInCdiSpec(text: string): string[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const doc = JSON.parse(trimmed) as { kind?: unknown; devices?: unknown };
      if (doc.kind !== NVIDIA_CDI_KIND || !Array.isArray(doc.devices)) return [];
      return doc.devices
        .map((d) => (d && typeof d === 'object' ? (d as { name?: unknown }).name : undefined))
        .filter((n): n is string => typeof n === 'string' && n !== '')
        .map((n) => `${NVIDIA_CDI_KIND}=${n}`);
    } catch {
      return [];
    }
  }
  let kind: string | null = null;
  let topKey: string | null = null;
  let itemIndent: number | null = null;
  let keyColumn: number | null = null;
  const names: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(line) || line.startsWith('---')) continue;
    const top = /^([A-Za-z][\w-]*):\s*(.*)$/.exec(line);
    if (top) {
      topKey = top[1] ?? null;
      itemIndent = null;
      if (topKey === 'kind') kind = unquote(top[2] ?? '');
      continue;
    }
    if (topKey !== 'devices') continue;
    // A device is a "- " item of the shallowest list under devices:; its own keys sit at the
    // column after the dash. `nvidia-ctk cdi generate` sorts keys, so `name:` often comes
    // after `containerEdits:` on a line of its own.
    const item = /^(\s*)-(\s+)(.*)$/.exec(line);
    const indent = /^\s*/.exec(line)?.[0].length ?? 0;
    let entry: string | null = null;
    if (item && (itemIndent === null || indent === itemIndent)) {
      itemIndent = indent;
      keyColumn = indent + 1 + (item[2]?.length ?? 1);
      entry = item[3] ?? '';
    } else if (keyColumn !== null && indent === keyColumn) {
      entry = line.trim();
    }
    const name = entry === null ? null : /^name:\s*(.+?)\s*$/.exec(entry);
    if (name?.[1]) names.push(unquote(name[1]));
  }
  return kind === NVIDIA_CDI_KIND ? names.filter((n) => n !== '').map((n) => `${NVIDIA_CDI_KIND}=${n}`) : [];
}

function unquote(value: string): string {
  const v = value.trim().replace(/\s+#.*$/, '');
  return /^(["']).*\1$/.test(v) ? v.slice(1, -1) : v;
}

async function scanCdiDirs(host: Host, dirs: readonly string[]): Promise<string[]> {
  const fs = host.fs;
  const devices = new Set<string>();
  await Promise.all(
    dirs.map(async (dir) => {
      let names: string[];
      try {
        names = await fs.readdir(dir);
      } catch {
        return;
      }
      await Promise.all(
        names
          .filter((n) => /\.(ya?ml|json)$/i.test(n))
          .map(async (n) => {
            const file = path.join(dir, n);
            try {
              const stat = await fs.stat(file);
              if (stat.kind !== 'file' || stat.sizeBytes > CDI_SPEC_MAX_BYTES) return;
              for (const d of nvidiaDevicesInCdiSpec(await fs.readText(file, CDI_SPEC_MAX_BYTES))) devices.add(d);
            } catch {
              // An unreadable spec is one the runtime cannot read either.
            }
          }),
      );
    }),
  );
  return [...devices].sort();
}

/**
 * The hook on the daemon's machine, when the daemon is that host's own (a remote daemon has
 * its own). On this machine the PATH is searched too; on a host, the usual folders.
 */
async function findNvidiaHook(host: Host): Promise<string | null> {
  const dockerHost = host.remote ? '' : (process.env.DOCKER_HOST ?? '');
  if (dockerHost !== '' && !dockerHost.startsWith('unix://')) return null;
  const fromPath = host.remote ? [] : (process.env.PATH ?? '').split(path.delimiter).filter((d) => d.startsWith('/'));
  const dirs = [...new Set([...fromPath, ...HOOK_DIRS])];
  const found = await Promise.all(
    dirs.map(async (dir) => {
      const candidate = path.posix.join(dir, NVIDIA_HOOK);
      const stat = await host.fs.stat(candidate).catch(() => null);
      return stat && stat.kind === 'file' && (stat.mode & 0o111) !== 0 ? candidate : null;
    }),
  );
  return found.find((c) => c !== null) ?? null;
}

/**
 * The CDI spec folders a Docker daemon reads, or null when it does not read any. Docker 25-27
 * read them only with CDI switched on, and then report them; from 28 CDI is on by default and
 * the defaults are read even when `docker info` lists no folders.
 */
export function dockerCdiDirs(info: DockerInfoFields): string[] | null {
  if (info.cdiSpecDirs) return info.cdiSpecDirs;
  const major = Number(/^(\d+)\./.exec(info.daemonVersion ?? '')?.[1] ?? NaN);
  return major >= DOCKER_CDI_DEFAULT_ON_MAJOR ? [...DEFAULT_CDI_SPEC_DIRS] : null;
}

function failureText(result: ExecResult): string {
  // With the daemon down, `docker info --format '{{json .}}'` still prints its document on
  // stdout; the reason is on stderr (or in the document's ServerErrors on newer CLIs).
  const stdout = result.stdout.trim();
  let fromDocument = '';
  if (stdout.startsWith('{')) {
    try {
      const errors = (JSON.parse(stdout) as { ServerErrors?: unknown }).ServerErrors;
      if (Array.isArray(errors)) fromDocument = errors.filter((e) => typeof e === 'string').join(' ');
    } catch {
      // not JSON after all
    }
  }
  const source = result.stderr.trim() || fromDocument || (stdout.startsWith('{') ? '' : stdout);
  const text = source.split('\n').map((l) => l.trim()).filter(Boolean);
  // The last lines carry the reason; earlier ones are often usage or warnings.
  return text.slice(-2).join(' ') || `${result.command} exited with code ${result.exitCode}`;
}

function throwIfTimedOut(result: ExecResult, settings: Settings): void {
  if (result.timedOut) {
    throw new ProbeTimeoutError(`\`${result.command} ${result.args.slice(0, 2).join(' ')}\` did not answer within ${Math.round(settings.probeTimeoutMs / 1000)} s (a hung daemon?)`);
  }
}

function notInstalled(runtime: RuntimeName, result: ExecResult): RuntimeInfo {
  return {
    runtime,
    cliInstalled: false,
    cliVersion: null,
    daemonAnswering: false,
    daemonVersion: null,
    daemonMessage: result.notFound ? `${runtime} is not installed or not on PATH` : failureText(result),
    runtimes: [],
    defaultRuntime: null,
    cdiSpecDirs: [],
    cdiNvidiaDevices: [],
    nvidiaHookPath: null,
    gpuRuntimeRegistered: false,
  };
}

export async function probeRuntime(settings: Settings, host: Host = localHost): Promise<RuntimeInfo> {
  return settings.runtime === 'podman' ? probePodman(settings, host) : probeDocker(settings, host);
}

async function probeDocker(settings: Settings, host: Host): Promise<RuntimeInfo> {
  const [result, hook, defaultCdiDevices] = await Promise.all([
    host.run('docker', ['info', '--format', '{{json .}}'], { timeoutMs: settings.probeTimeoutMs }),
    findNvidiaHook(host),
    scanCdiDirs(host, DEFAULT_CDI_SPEC_DIRS),
  ]);
  throwIfTimedOut(result, settings);
  if (result.notFound) return notInstalled('docker', result);
  const info = parseDockerInfo(result.stdout);
  // Current CLIs put their own version in info's document (ClientInfo); only older ones (Debian's
  // docker.io 20.10) need `docker version` too. Asked only then: every docker CLI start costs a
  // core for a tenth of a second, on a host that is probing everything else at the same moment.
  const clientVersion = info?.cliVersion ? null : await dockerClientVersion(settings, host);
  const daemonAnswering = result.exitCode === 0 && info?.daemonVersion != null;
  const daemonCdiDirs = daemonAnswering && info ? dockerCdiDirs(info) : null;
  const extraDirs = (daemonCdiDirs ?? []).filter((d) => !DEFAULT_CDI_SPEC_DIRS.includes(d));
  const cdiNvidiaDevices = [...new Set([...defaultCdiDevices, ...(await scanCdiDirs(host, extraDirs))])].sort();
  const runtimes = daemonAnswering ? (info?.runtimes ?? []) : [];
  return {
    runtime: 'docker',
    cliInstalled: true,
    cliVersion: info?.cliVersion ?? clientVersion,
    daemonAnswering,
    daemonVersion: daemonAnswering ? (info?.daemonVersion ?? null) : null,
    daemonMessage: daemonAnswering ? null : failureText(result),
    runtimes,
    defaultRuntime: daemonAnswering ? (info?.defaultRuntime ?? null) : null,
    cdiSpecDirs: daemonCdiDirs ?? [],
    cdiNvidiaDevices,
    nvidiaHookPath: hook,
    gpuRuntimeRegistered: daemonAnswering && (runtimes.includes('nvidia') || hook !== null || (daemonCdiDirs !== null && cdiNvidiaDevices.length > 0)),
  };
}

/**
 * Older CLIs (Debian's docker.io 20.10) leave ClientInfo out of `docker info`'s document; ask
 * `docker version`, which prints the client's version even when the daemon is down.
 */
async function dockerClientVersion(settings: Settings, host: Host): Promise<string | null> {
  const result = await host.run('docker', ['version', '--format', '{{.Client.Version}}'], { timeoutMs: settings.probeTimeoutMs });
  throwIfTimedOut(result, settings);
  const version = result.stdout.trim().split('\n')[0]?.trim() ?? '';
  return /^\d+\.\d+/.test(version) ? version : null;
}

async function probePodman(settings: Settings, host: Host): Promise<RuntimeInfo> {
  const [result, specDevices, ctkDevices] = await Promise.all([
    host.run('podman', ['info', '--format', 'json'], { timeoutMs: settings.probeTimeoutMs }),
    scanCdiDirs(host, DEFAULT_CDI_SPEC_DIRS),
    nvidiaCtkCdiList(settings, host),
  ]);
  throwIfTimedOut(result, settings);
  if (result.notFound) return notInstalled('podman', result);
  const info = result.exitCode === 0 ? parsePodmanInfo(result.stdout) : null;
  const answering = info !== null;
  const daemonMessage = answering ? podmanWarnings(result.stderr) : failureText(result);
  // Podman's own error usually names a limit of this machine that the diagnosis knows the setting
  // for; the diagnosis code loads only on that path, never on a healthy host.
  const daemonFinding = answering || !daemonMessage ? null : await podmanFinding(daemonMessage);
  const cdiNvidiaDevices = [...new Set([...specDevices, ...(ctkDevices ?? [])])].sort();
  const cdiSources = [...(specDevices.length > 0 ? [`spec files in ${DEFAULT_CDI_SPEC_DIRS.join(' or ')}`] : []), ...(ctkDevices && ctkDevices.length > 0 ? ['nvidia-ctk cdi list'] : [])];
  return {
    runtime: 'podman',
    cliInstalled: true,
    cliVersion: info?.version ?? null,
    daemonAnswering: answering,
    daemonVersion: info?.version ?? null,
    // Podman answers `info` even when it has to fall back (no subuid ranges): its warnings and errors are on stderr.
    daemonMessage,
    daemonFinding,
    runtimes: info?.ociRuntime ? [info.ociRuntime] : [],
    defaultRuntime: info?.ociRuntime ?? null,
    cdiSpecDirs: [...DEFAULT_CDI_SPEC_DIRS],
    cdiNvidiaDevices,
    cdiSources,
    nvidiaHookPath: null,
    // Podman hands GPUs over only through CDI (`--device nvidia.com/gpu=all`).
    gpuRuntimeRegistered: answering && cdiNvidiaDevices.length > 0,
    podman: info?.host ?? null,
  };
}

/** The error-level lines podman printed while still answering (`level=error msg="..."`), or null. */
export function podmanWarnings(stderr: string): string | null {
  const errors = stderr
    .split(/\r?\n/)
    .map((line) => /level=error msg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1])
    .filter((m): m is string => Boolean(m))
    .map((m) => m.replace(/\\"/g, '"'));
  return errors.length > 0 ? errors.join('; ') : null;
}

type ImageEnv = Pick<ImageInfo, 'cudaVersion' | 'torchCudaArchList' | 'requireCuda' | 'otherRequires' | 'disableRequire'>;

/**
 * What the image's environment (`docker image inspect --format '{{json .Config.Env}}'`) says to
 * the NVIDIA runtime and to the doctor: CUDA_VERSION, TORCH_CUDA_ARCH_LIST, NVIDIA_REQUIRE_CUDA
 * (and any other NVIDIA_REQUIRE_*), NVIDIA_DISABLE_REQUIRE.
 */
export function parseImageEnv(stdout: string): ImageEnv | null {
  let env: unknown;
  try {
    env = JSON.parse(stdout.trim());
  } catch {
    return null;
  }
  if (env === null) return { cudaVersion: null, torchCudaArchList: null, requireCuda: null, otherRequires: {}, disableRequire: null };
  if (!Array.isArray(env)) return null;
  const vars = new Map<string, string>();
  for (const entry of env) {
    if (typeof entry !== 'string') continue;
    const eq = entry.indexOf('=');
    if (eq > 0) vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  const cuda = vars.get('CUDA_VERSION')?.trim();
  const arch = vars.get('TORCH_CUDA_ARCH_LIST');
  const archList = arch === undefined ? null : arch.split(/[\s;,]+/).filter((a) => a !== '');
  const otherRequires: Record<string, string> = {};
  for (const [name, value] of vars) {
    if (name.startsWith('NVIDIA_REQUIRE_') && name !== 'NVIDIA_REQUIRE_CUDA' && !name.startsWith('NVIDIA_REQUIRE_JETPACK')) otherRequires[name] = value;
  }
  return {
    cudaVersion: cuda ? cuda : null,
    torchCudaArchList: archList && archList.length > 0 ? archList : null,
    requireCuda: vars.get('NVIDIA_REQUIRE_CUDA') ?? null,
    otherRequires,
    disableRequire: vars.get('NVIDIA_DISABLE_REQUIRE') ?? null,
  };
}

export async function probeImage(settings: Settings, host: Host = localHost): Promise<ImageInfo> {
  const absent: ImageInfo = { ref: settings.image, present: false, cudaVersion: null, torchCudaArchList: null, requireCuda: null, otherRequires: {}, disableRequire: null };
  const result = await host.run(settings.runtime, ['image', 'inspect', '--format', '{{json .Config.Env}}', settings.image], {
    timeoutMs: settings.probeTimeoutMs,
  });
  throwIfTimedOut(result, settings);
  // Not local (or no runtime to ask): the checks fall back to --cuda or the server's default.
  if (result.exitCode !== 0) return absent;
  const env = parseImageEnv(result.stdout);
  if (!env) return absent;
  return { ref: settings.image, present: true, ...env };
}

/** What the log diagnosis knows about a failed `podman info`: its finding id and fix, or null. */
async function podmanFinding(said: string): Promise<{ id: string; fix: string } | null> {
  const { diagnose } = await import('../diagnose.js');
  const known = diagnose([{ name: 'podman info', text: said }])[0];
  return known ? { id: known.id, fix: known.fix } : null;
}
