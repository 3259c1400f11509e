/**
 * The GPU probe: one `nvidia-smi --query-gpu` for every GPU's facts and, at the same time,
 * `nvidia-smi --version` for the driver's CUDA version. systeminformation is not used here
 * (see FACTS.md: it drops NVIDIA data where `lspci` is missing and knows no compute capability).
 *
 * The parsers are pure and never throw: nvidia-smi's output differs across driver series,
 * and whatever it prints, the doctor must answer with a verdict rather than a stack trace.
 */
import type { GpuInfo, GpuInventory } from '../facts.js';
import type { Settings } from '../settings.js';
import { capabilityFromName } from '../data/gpus.js';
import { describeFailure, localHost, type ExecResult, type Host } from '../exec.js';
import { ProbeTimeoutError } from '../errors.js';

export const NVIDIA_SMI = 'nvidia-smi';
export const QUERY_FIELDS = ['index', 'name', 'uuid', 'driver_version', 'memory.total', 'memory.used', 'memory.free', 'compute_cap'] as const;
/** 470-series drivers and older reject `compute_cap`; the probe asks again without it. */
export const QUERY_FIELDS_NO_CC = QUERY_FIELDS.filter((f) => f !== 'compute_cap');
export type QueryField = (typeof QUERY_FIELDS)[number];

export function queryGpuArgs(fields: readonly string[]): string[] {
  return [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'];
}

// ---- parsers ----

/** Values nvidia-smi prints where it has none. */
const NO_VALUE = /^\[?(n\/a|not supported|unknown error|insufficient permissions|gpu is lost|requested functionality has been deprecated)\]?$/i;

function cell(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '' || NO_VALUE.test(trimmed)) return null;
  return trimmed;
}

/** "81920", "81920 MiB" -> 81920; "[N/A]" and nonsense -> null. */
export function parseMiB(value: string | undefined): number | null {
  const text = cell(value);
  if (text === null) return null;
  const match = /^(\d+(?:\.\d+)?)\s*(MiB|MB)?$/i.exec(text);
  if (!match) return null;
  const n = Number(match[1]);
  return Number.isFinite(n) ? Math.round(n) : null;
}

function isHeaderLine(cells: string[]): boolean {
  const first = (cells[0] ?? '').trim().toLowerCase();
  return first === 'index' || first === 'pid' || cells.some((c) => /\[(mib|%|w|mhz)\]/i.test(c));
}

export interface GpuQueryParse {
  gpus: GpuInfo[];
  /** Lines that did not read as a GPU (kept for the "unreadable" message). */
  unreadLines: string[];
}

/**
 * Parse `--query-gpu=<fields> --format=csv[,noheader][,nounits]`: one line per GPU, values
 * separated by ", ". Header lines and unit suffixes are tolerated; a line with the wrong
 * number of values or no integer index is set aside, not guessed at.
 */
export function parseGpuQuery(text: string, fields: readonly string[] = QUERY_FIELDS): GpuQueryParse {
  const gpus: GpuInfo[] = [];
  const unreadLines: string[] = [];
  for (const rawLine of String(text ?? '').split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '') continue;
    const cells = line.split(',').map((c) => c.trim());
    if (isHeaderLine(cells)) continue;
    if (cells.length !== fields.length) {
      unreadLines.push(line);
      continue;
    }
    const get = (field: string) => {
      const at = fields.indexOf(field);
      return at < 0 ? undefined : cells[at];
    };
    const indexText = cell(get('index'));
    if (indexText === null || !/^\d+$/.test(indexText)) {
      unreadLines.push(line);
      continue;
    }
    const capability = cell(get('compute_cap'));
    const validCapability = capability !== null && /^\d+\.\d+$/.test(capability) ? capability : null;
    gpus.push({
      index: Number(indexText),
      name: cell(get('name')) ?? 'unknown GPU',
      uuid: cell(get('uuid')),
      driverVersion: cell(get('driver_version')),
      memoryTotalMiB: parseMiB(get('memory.total')),
      memoryUsedMiB: parseMiB(get('memory.used')),
      memoryFreeMiB: parseMiB(get('memory.free')),
      computeCapability: validCapability,
      computeCapabilitySource: validCapability ? 'nvidia-smi' : 'unknown',
    });
  }
  return { gpus, unreadLines };
}

export interface DriverVersions {
  driverVersion: string | null;
  cudaVersion: string | null;
}

const VERSION_TOKEN = '(\\d+(?:\\.\\d+)+)';

/** `nvidia-smi --version`: "DRIVER version      : 550.54.15" and "CUDA Version        : 12.4". */
export function parseSmiVersion(text: string): DriverVersions {
  const body = String(text ?? '');
  return {
    driverVersion: new RegExp(`^\\s*DRIVER version\\s*:\\s*${VERSION_TOKEN}`, 'im').exec(body)?.[1] ?? null,
    cudaVersion: new RegExp(`^\\s*CUDA Version\\s*:\\s*${VERSION_TOKEN}`, 'im').exec(body)?.[1] ?? null,
  };
}

/** Plain `nvidia-smi`'s banner: "| NVIDIA-SMI 470.239.06   Driver Version: 470.239.06   CUDA Version: 11.4 |". */
export function parseSmiHeader(text: string): DriverVersions {
  const body = String(text ?? '');
  return {
    driverVersion: new RegExp(`Driver Version:\\s*${VERSION_TOKEN}`, 'i').exec(body)?.[1] ?? null,
    cudaVersion: new RegExp(`CUDA Version:\\s*${VERSION_TOKEN}`, 'i').exec(body)?.[1] ?? null,
  };
}

/** `nvidia-smi -q`: "Driver Version                            : 470.239.06" near the top. */
export function parseSmiQ(text: string): DriverVersions {
  const body = String(text ?? '');
  return {
    driverVersion: new RegExp(`^\\s*Driver Version\\s*:\\s*${VERSION_TOKEN}`, 'im').exec(body)?.[1] ?? null,
    cudaVersion: new RegExp(`^\\s*CUDA Version\\s*:\\s*${VERSION_TOKEN}`, 'im').exec(body)?.[1] ?? null,
  };
}

export interface ComputeApp {
  pid: number;
  /** null where nvidia-smi cannot tell (`[N/A]`: inside containers, some drivers). */
  usedMiB: number | null;
  gpuUuid: string | null;
  processName: string | null;
}

const APP_COLUMN: Record<string, 'pid' | 'usedMiB' | 'gpuUuid' | 'processName'> = {
  pid: 'pid',
  used_memory: 'usedMiB',
  used_gpu_memory: 'usedMiB',
  gpu_uuid: 'gpuUuid',
  process_name: 'processName',
  name: 'processName',
};

/**
 * Parse `nvidia-smi --query-compute-apps=pid,used_memory --format=csv[,noheader][,nounits]`.
 * With a header (`pid, used_gpu_memory [MiB]`) the columns are taken from it; without one,
 * from `fields` (default pid, used_memory). Lines without an integer pid are skipped.
 */
export function parseComputeApps(text: string, fields: readonly string[] = ['pid', 'used_memory']): ComputeApp[] {
  const apps: ComputeApp[] = [];
  let columns = fields.map((f) => APP_COLUMN[f.trim().toLowerCase()]);
  for (const rawLine of String(text ?? '').split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '') continue;
    const cells = line.split(',').map((c) => c.trim());
    const names = cells.map((c) => c.replace(/\[.*?\]/g, '').trim().toLowerCase());
    if (names.includes('pid')) {
      columns = names.map((n) => APP_COLUMN[n]);
      continue;
    }
    const pidAt = columns.indexOf('pid');
    const pidText = cells[pidAt < 0 ? 0 : pidAt]?.trim() ?? '';
    if (!/^\d+$/.test(pidText)) continue;
    const at = (name: 'usedMiB' | 'gpuUuid' | 'processName') => {
      const i = columns.indexOf(name);
      return i < 0 ? undefined : cells[i];
    };
    apps.push({ pid: Number(pidText), usedMiB: parseMiB(at('usedMiB')), gpuUuid: cell(at('gpuUuid')), processName: cell(at('processName')) });
  }
  return apps;
}

// ---- failure kinds ----

/** What nvidia-smi says when the kernel driver is not loaded or NVML cannot reach it (exit 9 and kin). */
const NO_DRIVER = /couldn't communicate with the NVIDIA driver|NVIDIA-SMI has failed|Failed to initialize NVML|NVML Shared Library Not Found|Driver\/library version mismatch|libnvidia-ml\.so/i;
const NO_DRIVER_EXIT_CODES = new Set([9, 12]);
const COMPUTE_CAP_REJECTED = /Field "compute_cap" is not a valid field to query/i;
const NO_DEVICES = /No devices were found/i;

function outputOf(result: ExecResult): string {
  return `${result.stdout}\n${result.stderr}`.trim();
}

function firstLines(text: string, n = 2): string {
  return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).slice(0, n).join(' ');
}

export function isNoDriver(result: ExecResult): boolean {
  return NO_DRIVER.test(outputOf(result)) || (result.exitCode !== null && NO_DRIVER_EXIT_CODES.has(result.exitCode));
}

export function rejectsComputeCap(result: ExecResult): boolean {
  return COMPUTE_CAP_REJECTED.test(outputOf(result));
}

// ---- the probe ----

export async function probeGpus(settings: Settings, host: Host = localHost): Promise<GpuInventory> {
  // One budget for the whole probe: fall-back calls get what is left, so a slow driver
  // costs at most the probe's time limit.
  const deadline = performance.now() + settings.probeTimeoutMs;
  const left = () => Math.max(1, Math.round(deadline - performance.now()));
  const smi = (args: string[]) => host.run(NVIDIA_SMI, args, { timeoutMs: left(), maxBuffer: 4 * 1024 * 1024 });

  const [query, version] = await Promise.all([smi(queryGpuArgs(QUERY_FIELDS)), smi(['--version'])]);

  // 127 is the shell's "command not found", as wrappers and shims report a missing binary.
  if (query.notFound || query.exitCode === 127) {
    return { state: 'no-nvidia-smi', message: 'nvidia-smi is not on PATH (the NVIDIA driver is not installed, or its tools are not on PATH)' };
  }
  if (query.timedOut) {
    throw new ProbeTimeoutError(`nvidia-smi did not answer within ${Math.round(settings.probeTimeoutMs / 1000)} s (a wedged GPU or driver can hang it; try \`nvidia-smi\` by hand)`);
  }
  if (isNoDriver(query)) {
    return { state: 'no-driver', message: firstLines(outputOf(query)) || describeFailure(query, settings.probeTimeoutMs) };
  }

  const notes: string[] = [];
  let result = query;
  let fields: readonly string[] = QUERY_FIELDS;
  if (rejectsComputeCap(query)) {
    fields = QUERY_FIELDS_NO_CC;
    result = await smi(queryGpuArgs(fields));
    if (result.timedOut) throw new ProbeTimeoutError(`nvidia-smi did not answer the second query (without compute_cap) within ${Math.round(settings.probeTimeoutMs / 1000)} s`);
    notes.push('the driver does not know the compute_cap field (470 series or older); compute capability taken from the GPU name');
  }

  if (NO_DEVICES.test(outputOf(result))) {
    const versions = await driverVersions(version, smi);
    return { state: 'ok', driverVersion: versions.driverVersion, cudaVersion: versions.cudaVersion, gpus: [], notes: [...notes, 'nvidia-smi: No devices were found'] };
  }
  const parsed = parseGpuQuery(result.stdout, fields);
  if (result.exitCode !== 0) {
    // One wedged GPU ("Unable to determine the device handle ... Unknown Error") fails the
    // whole call while the others still answer: keep those and say what went wrong.
    if (parsed.gpus.length === 0) return { state: 'unreadable', message: describeFailure(result, settings.probeTimeoutMs) };
    notes.push(describeFailure(result, settings.probeTimeoutMs));
  }
  if (parsed.gpus.length === 0) {
    const shown = firstLines(outputOf(result));
    return { state: 'unreadable', message: shown ? `nvidia-smi answered something unexpected: ${shown}` : 'nvidia-smi answered nothing to --query-gpu' };
  }
  if (parsed.unreadLines.length > 0) notes.push(`nvidia-smi lines not understood: ${parsed.unreadLines.slice(0, 3).join(' | ')}`);

  for (const gpu of parsed.gpus) {
    if (gpu.computeCapability !== null) continue;
    const fromName = capabilityFromName(gpu.name);
    if (fromName) {
      gpu.computeCapability = fromName;
      gpu.computeCapabilitySource = 'name-table';
    }
  }

  const versions = await driverVersions(version, smi);
  if (versions.cudaVersion === null) notes.push("could not read the driver's CUDA version from nvidia-smi");
  return {
    state: 'ok',
    driverVersion: versions.driverVersion ?? parsed.gpus.find((g) => g.driverVersion)?.driverVersion ?? null,
    cudaVersion: versions.cudaVersion,
    gpus: parsed.gpus.sort((a, b) => a.index - b.index),
    notes,
  };
}

/**
 * The driver's CUDA version: `--version` on recent drivers; older ones do not know that flag,
 * so fall back to plain `nvidia-smi`'s banner and then to `-q`.
 */
async function driverVersions(version: ExecResult, smi: (args: string[]) => Promise<ExecResult>): Promise<DriverVersions> {
  const fromVersion = version.exitCode === 0 ? parseSmiVersion(version.stdout) : { driverVersion: null, cudaVersion: null };
  if (fromVersion.cudaVersion) return fromVersion;
  if (version.timedOut) return fromVersion;
  const banner = await smi([]);
  const fromBanner = banner.exitCode === 0 ? parseSmiHeader(banner.stdout) : { driverVersion: null, cudaVersion: null };
  if (fromBanner.cudaVersion) return { driverVersion: fromVersion.driverVersion ?? fromBanner.driverVersion, cudaVersion: fromBanner.cudaVersion };
  if (banner.timedOut) return fromVersion;
  const q = await smi(['-q']);
  const fromQ = q.exitCode === 0 ? parseSmiQ(q.stdout) : { driverVersion: null, cudaVersion: null };
  return {
    driverVersion: fromVersion.driverVersion ?? fromBanner.driverVersion ?? fromQ.driverVersion,
    cudaVersion: fromQ.cudaVersion,
  };
}
