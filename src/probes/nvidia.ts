/**
 * The GPU probe. Each nvidia-smi call initialises NVML, which costs hundreds of milliseconds to
 * seconds on a host without persistence mode, so the common case is ONE call:
 * `nvidia-smi --query-gpu=...,compute_cap,mig.mode.current`, with the driver's CUDA version
 * derived from the driver version with NVIDIA's table. `nvidia-smi -q` (and `-L` for MIG) runs
 * only where the verdict needs what only it says: NVML's brand (when the brand may decide the
 * image's start gate), the CUDA version as the driver reports it (WSL, drivers newer than the
 * table, old drivers), and MIG devices. systeminformation is not used here (see FACTS.md: it
 * drops NVIDIA data where `lspci` is missing and knows no compute capability).
 *
 * The parsers are pure and never throw: nvidia-smi's output differs across driver series,
 * and whatever it prints, the doctor must answer with a verdict rather than a stack trace.
 */
import os from 'node:os';
import type { GpuInfo, GpuInventory, LostGpu, MigDevice } from '../facts.js';
import type { Settings } from '../settings.js';
import { brandFromName, capabilityFromName } from '../data/gpus.js';
import { DEFAULT_CUDA, knownImage } from '../data/images.js';
import { compareVersions, cudaForDriver, requiredDriver } from '../data/cuda.js';
import { requiredCudaOf } from '../nvidia-require.js';
import { describeFailure, localHost, type ExecResult, type Host } from '../exec.js';
import { ProbeTimeoutError } from '../errors.js';

export const NVIDIA_SMI = 'nvidia-smi';
export const QUERY_FIELDS = ['index', 'name', 'uuid', 'driver_version', 'memory.total', 'memory.used', 'memory.free', 'compute_cap'] as const;
/** 470-series drivers and older reject `compute_cap`; the probe asks again without it. */
export const QUERY_FIELDS_NO_CC = QUERY_FIELDS.filter((f) => f !== 'compute_cap');
/** What the probe asks: the fields above and whether MIG is on (drivers before 450 reject that field too). */
export const PROBE_FIELDS: readonly string[] = [...QUERY_FIELDS, 'mig.mode.current'];
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
  /** GPUs nvidia-smi names as unreachable ("Unable to determine the device handle for GPU..."). */
  lostGpus: LostGpu[];
  /** Lines that did not read as a GPU (kept for the "unreadable" message). */
  unreadLines: string[];
}

/**
 * One GPU fallen off the bus: "Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error"
 * (older drivers) or "... for GPU1: 0000:34:00.0: Unknown Error" (index, then bus id).
 */
const LOST_GPU = /Unable to determine the device handle for GPU\s*(?:(\d+):\s+)?([0-9A-Fa-f]+:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]|\d+)?\s*:/i;

export function parseLostGpu(line: string): LostGpu | null {
  const text = line.trim();
  const match = LOST_GPU.exec(text);
  if (!match) return null;
  const [, index, bus] = match;
  const id = index !== undefined && bus !== undefined ? `GPU ${index} (${bus})` : (bus ?? text);
  return { id, line: text };
}

/**
 * Parse `--query-gpu=<fields> --format=csv[,noheader][,nounits]`: one line per GPU, values
 * separated by ", ". Header lines and unit suffixes are tolerated; a line with the wrong
 * number of values or no integer index is set aside, not guessed at.
 */
export function parseGpuQuery(text: string, fields: readonly string[] = QUERY_FIELDS): GpuQueryParse {
  const gpus: GpuInfo[] = [];
  const unreadLines: string[] = [];
  const lostGpus: LostGpu[] = [];
  for (const rawLine of String(text ?? '').split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '') continue;
    const lost = parseLostGpu(line);
    if (lost) {
      lostGpus.push(lost);
      continue;
    }
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
    const mig = cell(get('mig.mode.current'));
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
      ...(fields.includes('mig.mode.current') ? { migEnabled: mig === null ? null : /^enabled$/i.test(mig) } : {}),
    });
  }
  return { gpus, lostGpus, unreadLines };
}

export interface DriverVersions {
  driverVersion: string | null;
  cudaVersion: string | null;
  /** What the CUDA field said when it was not a version ("ERR!", "Not Found"); null otherwise. */
  cudaText?: string | null;
}

const VERSION_TOKEN = '(\\d+(?:\\.\\d+)+)';
/** The CUDA field's value: a version, or what stands there instead (ERR!, Not Found, N/A). */
const CUDA_FIELD = /CUDA(?: UMD)? Version\s*:\s*([^\s|][^|\n]*?)(?:\s{2,}|\s*\||\s*$)/im;

function cudaField(body: string, anchored: boolean): { cudaVersion: string | null; cudaText: string | null } {
  const pattern = anchored ? new RegExp(`^\\s*${CUDA_FIELD.source}`, 'im') : CUDA_FIELD;
  const raw = pattern.exec(body)?.[1]?.trim() ?? null;
  if (raw === null) return { cudaVersion: null, cudaText: null };
  const version = /^(\d+(?:\.\d+)+)/.exec(raw)?.[1] ?? null;
  // "Deprecated..." (driver 610+ --version) is no statement about CUDA; ERR! and Not Found are.
  if (version === null && /deprecated/i.test(raw)) return { cudaVersion: null, cudaText: null };
  return { cudaVersion: version, cudaText: version === null ? raw : null };
}

/** `nvidia-smi --version`: "DRIVER version      : 550.54.15" and "CUDA Version        : 12.4" (610+: "Deprecated..."). */
export function parseSmiVersion(text: string): DriverVersions {
  const body = String(text ?? '');
  return {
    driverVersion: new RegExp(`^\\s*(?:DRIVER|KMD) version\\s*:\\s*${VERSION_TOKEN}`, 'im').exec(body)?.[1] ?? null,
    ...cudaField(body, true),
  };
}

/**
 * Plain `nvidia-smi`'s banner: "| NVIDIA-SMI 470.239.06   Driver Version: 470.239.06   CUDA Version: 11.4 |";
 * from 610: "KMD Version: 610.57.04     CUDA UMD Version: 13.3"; WSL and vGPU: "CUDA Version: ERR!".
 */
export function parseSmiHeader(text: string): DriverVersions {
  const body = String(text ?? '');
  return {
    driverVersion: new RegExp(`(?:Driver|KMD) Version:\\s*${VERSION_TOKEN}`, 'i').exec(body)?.[1] ?? null,
    ...cudaField(body, false),
  };
}

/** `nvidia-smi -q`: "Driver Version                            : 470.239.06" near the top. */
export function parseSmiQ(text: string): DriverVersions {
  const body = String(text ?? '');
  return {
    driverVersion: new RegExp(`^\\s*(?:Driver|KMD) Version\\s*:\\s*${VERSION_TOKEN}`, 'im').exec(body)?.[1] ?? null,
    ...cudaField(body, true),
  };
}

/** One GPU's block of `nvidia-smi -q`: what only -q says. */
export interface SmiQGpu {
  busId: string;
  name: string | null;
  brand: string | null;
  uuid: string | null;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
  memoryFreeMiB: number | null;
  migEnabled: boolean | null;
  migDevices: MigDevice[];
}

/**
 * The per-GPU blocks of `nvidia-smi -q` (labels nested by indentation): Product Name, Product
 * Brand, GPU UUID, MIG Mode/Current and each MIG Device's index, instance ids and FB memory.
 */
export function parseSmiQGpus(text: string): SmiQGpu[] {
  const gpus: SmiQGpu[] = [];
  let gpu: SmiQGpu | null = null;
  let mig: MigDevice | null = null;
  const stack: { indent: number; label: string }[] = [];
  for (const raw of String(text ?? '').split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '') continue;
    const head = /^GPU ([0-9A-Fa-f]+:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])$/.exec(line);
    if (head) {
      gpu = { busId: head[1]!, name: null, brand: null, uuid: null, memoryTotalMiB: null, memoryUsedMiB: null, memoryFreeMiB: null, migEnabled: null, migDevices: [] };
      gpus.push(gpu);
      mig = null;
      stack.length = 0;
      continue;
    }
    if (!gpu) continue;
    const indent = line.length - line.trimStart().length;
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    if (mig && !stack.some((s) => s.label === 'MIG Device')) mig = null;
    const kv = /^\s*([^:]+?)\s*:\s?(.*)$/.exec(line);
    if (!kv) {
      const label = line.trim();
      stack.push({ indent, label });
      if (label === 'MIG Device') {
        mig = { index: gpu.migDevices.length, profile: null, uuid: null, gpuInstanceId: null, computeInstanceId: null, memoryTotalMiB: null, memoryUsedMiB: null, memoryFreeMiB: null };
        gpu.migDevices.push(mig);
      }
      continue;
    }
    const key = [...stack.map((s) => s.label), kv[1]!].join('/');
    const value = kv[2]!.trim();
    if (mig) {
      // 610 and later call it "Shared FB Memory Usage".
      const inMig = key.slice(key.lastIndexOf('MIG Device/') + 'MIG Device/'.length).replace(/^Shared FB Memory Usage\//, 'FB Memory Usage/');
      const int = /^\d+$/.test(value) ? Number(value) : null;
      if (inMig === 'Index' && int !== null) mig.index = int;
      else if (inMig === 'GPU Instance ID') mig.gpuInstanceId = int;
      else if (inMig === 'Compute Instance ID') mig.computeInstanceId = int;
      else if (inMig === 'FB Memory Usage/Total') mig.memoryTotalMiB = parseMiB(value);
      else if (inMig === 'FB Memory Usage/Used') mig.memoryUsedMiB = parseMiB(value);
      else if (inMig === 'FB Memory Usage/Free') mig.memoryFreeMiB = parseMiB(value);
      continue;
    }
    if (key === 'Product Name') gpu.name = cell(value);
    else if (key === 'Product Brand') gpu.brand = cell(value);
    else if (key === 'GPU UUID') gpu.uuid = cell(value);
    else if (key === 'FB Memory Usage/Total') gpu.memoryTotalMiB = parseMiB(value);
    else if (key === 'FB Memory Usage/Used') gpu.memoryUsedMiB = parseMiB(value);
    else if (key === 'FB Memory Usage/Free') gpu.memoryFreeMiB = parseMiB(value);
    else if (key === 'MIG Mode/Current') gpu.migEnabled = /^enabled$/i.test(value) ? true : /^disabled$/i.test(value) ? false : null;
  }
  return gpus;
}

/**
 * The "MIG devices" table of plain `nvidia-smi`: per GPU index, each device's GPU instance,
 * compute instance, MIG device index and memory ("|  0    3   0   0  |  12MiB /  9856MiB  | ...").
 */
export function parseSmiMigTable(text: string): Map<number, MigDevice[]> {
  const byGpu = new Map<number, MigDevice[]>();
  const body = String(text ?? '');
  const start = body.search(/MIG devices:/i);
  if (start < 0) return byGpu;
  for (const line of body.slice(start).split(/\r?\n/)) {
    if (/Processes:/i.test(line)) break;
    const row = /^\|\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\|\s*(\d+)\s*MiB\s*\/\s*(\d+)\s*MiB/.exec(line);
    if (!row) continue;
    const [gpu, gi, ci, dev, used, total] = row.slice(1).map(Number) as [number, number, number, number, number, number];
    const list = byGpu.get(gpu) ?? [];
    list.push({ index: dev, profile: null, uuid: null, gpuInstanceId: gi, computeInstanceId: ci, memoryTotalMiB: total, memoryUsedMiB: used, memoryFreeMiB: total - used });
    byGpu.set(gpu, list);
  }
  return byGpu;
}

/** `nvidia-smi -L`: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)", one per GPU. */
export function parseSmiListGpus(text: string): { index: number; name: string; uuid: string | null }[] {
  const gpus: { index: number; name: string; uuid: string | null }[] = [];
  for (const line of String(text ?? '').split(/\r?\n/)) {
    const match = /^GPU (\d+):\s*(.+?)\s*(?:\(UUID:\s*([^)]+)\))?\s*$/.exec(line.trim());
    if (match) gpus.push({ index: Number(match[1]), name: match[2]!, uuid: match[3]?.trim() ?? null });
  }
  return gpus;
}

/** `nvidia-smi -L`: per GPU index, its MIG devices ("  MIG 3g.40gb     Device  0: (UUID: MIG-...)"). */
export function parseSmiList(text: string): Map<number, { index: number; profile: string; uuid: string | null }[]> {
  const byGpu = new Map<number, { index: number; profile: string; uuid: string | null }[]>();
  let current: number | null = null;
  for (const line of String(text ?? '').split(/\r?\n/)) {
    const gpu = /^GPU (\d+):/.exec(line.trim());
    if (gpu) {
      current = Number(gpu[1]);
      byGpu.set(current, []);
      continue;
    }
    const mig = /^MIG\s+(\S+)\s+Device\s+(\d+):\s*\(UUID:\s*([^)]+)\)/.exec(line.trim());
    if (mig && current !== null) byGpu.get(current)!.push({ index: Number(mig[2]), profile: mig[1]!, uuid: mig[3]!.trim() });
  }
  return byGpu;
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
const FIELD_REJECTED = /Field "([^"]+)" is not a valid field to query/i;
export const NO_DEVICES = /No devices were found/i;
export const NVML_MISMATCH = /Driver\/library version mismatch/i;

export function outputOf(result: ExecResult): string {
  return `${result.stdout}\n${result.stderr}`.trim();
}

export function firstLines(text: string, n = 2): string {
  return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).slice(0, n).join(' ');
}

export function isNoDriver(result: ExecResult): boolean {
  return NO_DRIVER.test(outputOf(result)) || (result.exitCode !== null && NO_DRIVER_EXIT_CODES.has(result.exitCode));
}

export function rejectsComputeCap(result: ExecResult): boolean {
  return COMPUTE_CAP_REJECTED.test(outputOf(result));
}

/**
 * "Failed to initialize NVML: Driver/library version mismatch", often followed by "NVML library
 * version: 570.133" (the user-space library) and, from the kernel log, "NVRM: API mismatch: the
 * client has the version 570.133.07, but this kernel module has the version 565.57.01".
 */
export function parseNvmlMismatch(text: string): { libraryVersion: string | null; kernelVersion: string | null } {
  return {
    libraryVersion: /NVML library version:\s*(\d+(?:\.\d+)+)/i.exec(text)?.[1] ?? /client has the version\s+(\d+(?:\.\d+)+)/i.exec(text)?.[1] ?? null,
    kernelVersion: /kernel module has the version\s+(\d+(?:\.\d+)+)/i.exec(text)?.[1] ?? null,
  };
}

/** The lines of a failed call that say why: the error lines, not usage text or GPU rows. */
export function explainingLines(text: string, n = 3): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const why = lines.filter((l) => /error|fail|unable|mismatch|not found|no devices|couldn't|invalid|not a valid|lost|ERR!/i.test(l));
  return (why.length > 0 ? why : lines).slice(0, n).join(' ');
}

// ---- the probe ----

/**
 * The driver below which NVML's brand may decide the image's start gate: the floor of the CUDA
 * the image asks for (its known gate, --cuda, or the server's default). At or above it the gate's
 * `cuda>=` alternative holds and the brand alternatives never count.
 */
export function brandMattersBelow(settings: Pick<Settings, 'image' | 'cuda' | 'server'>): string | null {
  const known = knownImage(settings.image);
  // --cuda says what the image needs; otherwise the table's gate, or the server kind's default.
  const wanted = (settings.cuda ? [settings.cuda] : [known ? requiredCudaOf(known.requireCuda) : null, DEFAULT_CUDA[settings.server]]).filter((v): v is string => Boolean(v));
  const floors = wanted.map((cuda) => requiredDriver(cuda)?.minDriver).filter((v): v is string => Boolean(v));
  return floors.sort(compareVersions).at(-1) ?? null;
}

/** WSL2 (its nvidia-smi can print "CUDA Version: ERR!" or "Not Found"): judged by reading, never derived. */
function onWsl(): boolean {
  return process.platform === 'linux' && /microsoft/i.test(os.release());
}

/**
 * The GPU facts from `nvidia-smi -q`, else from `-L`, for when --query-gpu answers nothing
 * usable. Memory that neither says is marked unread, so it is "could not tell", never enough.
 */
async function factsWithoutQuery(smi: (args: string[]) => Promise<ExecResult>, why: string): Promise<Extract<GpuInventory, { state: 'ok' }> | null> {
  const q = await smi(['-q']);
  const blocks = q.timedOut ? [] : parseSmiQGpus(q.stdout);
  const versions = parseSmiQ(q.stdout);
  let gpus: GpuInfo[] = blocks.map((block, index) => ({
    index,
    name: block.name ?? 'unknown GPU',
    uuid: block.uuid,
    driverVersion: versions.driverVersion,
    memoryTotalMiB: block.memoryTotalMiB,
    memoryUsedMiB: block.memoryUsedMiB,
    memoryFreeMiB: block.memoryFreeMiB,
    computeCapability: null,
    computeCapabilitySource: 'unknown',
    ...(block.memoryTotalMiB === null && block.memoryFreeMiB === null ? { memoryUnread: true } : {}),
    ...(block.brand ? { brand: block.brand, brandSource: 'nvidia-smi' as const } : {}),
    migEnabled: block.migEnabled,
    migDevices: block.migDevices,
  }));
  let source = 'nvidia-smi -q';
  if (gpus.length === 0) {
    const list = await smi(['-L']);
    gpus = list.timedOut
      ? []
      : parseSmiListGpus(list.stdout).map((g) => ({
          index: g.index,
          name: g.name,
          uuid: g.uuid,
          driverVersion: null,
          memoryTotalMiB: null,
          memoryUsedMiB: null,
          memoryFreeMiB: null,
          memoryUnread: true,
          computeCapability: null,
          computeCapabilitySource: 'unknown' as const,
        }));
    source = 'nvidia-smi -L';
    if (gpus.length > 0) {
      const migs = parseSmiList(list.stdout);
      for (const gpu of gpus) {
        const named = migs.get(gpu.index) ?? [];
        if (named.length > 0) {
          gpu.migEnabled = true;
          gpu.migDevices = named.map((n) => ({ index: n.index, profile: n.profile, uuid: n.uuid, gpuInstanceId: null, computeInstanceId: null, memoryTotalMiB: null, memoryUsedMiB: null, memoryFreeMiB: null }));
        }
      }
    }
  }
  if (gpus.length === 0) return null;
  for (const gpu of gpus) {
    const fromName = capabilityFromName(gpu.name);
    if (fromName) {
      gpu.computeCapability = fromName;
      gpu.computeCapabilitySource = 'name-table';
    }
    if (!gpu.brand) {
      gpu.brand = brandFromName(gpu.name);
      gpu.brandSource = 'name';
    }
  }
  const driverVersion = versions.driverVersion;
  const derived = driverVersion ? cudaForDriver(driverVersion) : null;
  const notes = [`${why}; GPU facts read from ${source} instead${gpus.some((g) => g.memoryUnread) ? ', which gave no memory figures' : ''}`];
  let cudaVersion = versions.cudaVersion ?? derived?.cuda ?? null;
  let cudaVersionSource: 'nvidia-smi' | 'derived' | 'unreadable' = versions.cudaVersion ? 'nvidia-smi' : 'derived';
  if (!versions.cudaVersion && versions.cudaText) {
    cudaVersion = null;
    cudaVersionSource = 'unreadable';
  } else if (!versions.cudaVersion && cudaVersion && driverVersion) notes.push(`CUDA ${cudaVersion} derived from driver ${driverVersion} with NVIDIA's table`);
  return { state: 'ok', driverVersion, cudaVersion, cudaVersionSource, cudaVersionText: versions.cudaText ?? null, gpus, lostGpus: [], notes };
}

export async function probeGpus(settings: Settings, host: Host = localHost): Promise<GpuInventory> {
  // One budget for the whole probe: later calls get what is left, so a slow driver costs at
  // most the probe's time limit.
  const deadline = performance.now() + settings.probeTimeoutMs;
  const left = () => Math.max(1, Math.round(deadline - performance.now()));
  let calls = 0;
  const smi = (args: string[]) => {
    calls += 1;
    return host.run(NVIDIA_SMI, args, { timeoutMs: left(), maxBuffer: 8 * 1024 * 1024 });
  };
  const timeout = (what: string) =>
    new ProbeTimeoutError(`nvidia-smi ${what}did not answer within ${Math.round(settings.probeTimeoutMs / 1000)} s (a wedged GPU or driver can hang it; try \`nvidia-smi\` by hand)`);

  // Old drivers reject fields they do not know (compute_cap before 510, mig.mode.* before 450): asked again without them.
  const asked = await askGpuQuery(smi, PROBE_FIELDS);
  const { result, fields } = asked;

  // 127 is the shell's "command not found", as wrappers and shims report a missing binary.
  if (result.notFound || result.exitCode === 127) {
    return { state: 'no-nvidia-smi', message: 'nvidia-smi is not on PATH (the NVIDIA driver is not installed, or its tools are not on PATH)' };
  }
  if (result.timedOut) throw timeout(asked.rejected.length > 0 ? `(asked again without ${asked.rejected.at(-1)}) ` : '');
  const notes: string[] = [];
  if (asked.rejected.includes('compute_cap')) notes.push('the driver does not know the compute_cap field (470 series or older); compute capability taken from the GPU name');

  const text = outputOf(result);
  if (NVML_MISMATCH.test(text)) {
    return { state: 'nvml-mismatch', message: explainingLines(text), ...parseNvmlMismatch(text) };
  }
  if (isNoDriver(result)) {
    return { state: 'no-driver', message: firstLines(text) || describeFailure(result, settings.probeTimeoutMs) };
  }
  if (NO_DEVICES.test(text)) {
    return { state: 'no-devices', message: `${explainingLines(text, 1)}${result.exitCode ? ` (nvidia-smi exit ${result.exitCode})` : ''}` };
  }

  const parsed = parseGpuQuery(result.stdout, fields);
  parsed.lostGpus.push(...parseGpuQuery(result.stderr, fields).lostGpus);
  if (parsed.gpus.length === 0 && parsed.lostGpus.length === 0) {
    const why = result.exitCode !== 0 ? `nvidia-smi --query-gpu exited with code ${result.exitCode}: ${explainingLines(text) || describeFailure(result, settings.probeTimeoutMs)}` : `nvidia-smi answered something unexpected to --query-gpu: ${firstLines(text) || '(nothing)'}`;
    // Whatever the query could not say, -q (or at least -L) may: a verdict from fewer facts beats none.
    const fallback = await factsWithoutQuery(smi, why);
    if (fallback) return { ...fallback, smiCalls: calls };
    return { state: 'unreadable', message: why };
  }
  if (result.exitCode !== 0 && parsed.lostGpus.length === 0) notes.push(`nvidia-smi exited with code ${result.exitCode}: ${explainingLines(text)}`);
  if (parsed.unreadLines.length > 0) notes.push(`nvidia-smi lines not understood: ${parsed.unreadLines.slice(0, 3).join(' | ')}`);

  const gpus = parsed.gpus.sort((a, b) => a.index - b.index);
  for (const gpu of gpus) {
    if (gpu.computeCapability !== null) continue;
    const fromName = capabilityFromName(gpu.name);
    if (fromName) {
      gpu.computeCapability = fromName;
      gpu.computeCapabilitySource = 'name-table';
    }
  }
  const driverVersion = gpus.find((g) => g.driverVersion)?.driverVersion ?? null;
  const derived = driverVersion ? cudaForDriver(driverVersion) : null;

  // The second call, only where the verdict needs what only `-q` says.
  const migOn = gpus.some((g) => g.migEnabled === true);
  const floor = brandMattersBelow(settings);
  const reasons: string[] = [];
  if (migOn) reasons.push('MIG');
  if (driverVersion && floor && compareVersions(driverVersion, floor) < 0) reasons.push('brand');
  if (!derived || !derived.exact) reasons.push('cuda');
  if (!fields.includes('compute_cap') || (!host.remote && onWsl())) reasons.push('cuda');
  let cudaVersion = derived?.cuda ?? null;
  let cudaVersionSource: 'nvidia-smi' | 'derived' | 'unreadable' = 'derived';
  let cudaVersionText: string | null = null;
  if (reasons.length > 0) {
    const [q, list] = await Promise.all([smi(['-q']), migOn ? smi(['-L']) : Promise.resolve(null)]);
    if (q.timedOut || list?.timedOut) throw timeout('-q ');
    let versions = parseSmiQ(q.stdout);
    if (q.exitCode !== 0 && !versions.cudaVersion && !versions.cudaText) {
      // -q failed: the banner says the CUDA version on every generation ("CUDA Version: ERR!" included).
      const banner = await smi([]);
      if (banner.timedOut) throw timeout('');
      const fromBanner = parseSmiHeader(banner.stdout);
      if (fromBanner.cudaVersion || fromBanner.cudaText) versions = { ...versions, cudaVersion: fromBanner.cudaVersion, cudaText: fromBanner.cudaText };
    }
    if (versions.cudaVersion) {
      cudaVersion = versions.cudaVersion;
      cudaVersionSource = 'nvidia-smi';
    } else if (versions.cudaText) {
      cudaVersion = null;
      cudaVersionSource = 'unreadable';
      cudaVersionText = versions.cudaText;
    } else if (q.exitCode !== 0) {
      notes.push(`nvidia-smi -q failed (${explainingLines(outputOf(q)) || `exit ${q.exitCode}`}); the CUDA version is derived from the driver version`);
    }
    const blocks = parseSmiQGpus(q.stdout);
    const migLists = list ? parseSmiList(list.stdout) : new Map();
    // Some hosts' -q shows no MIG device blocks; the plain table lists them with their memory.
    const needTable = migOn && !blocks.some((b) => b.migDevices.length > 0);
    const table = needTable ? await smi([]) : null;
    if (table?.timedOut) throw timeout('');
    const migTable = table ? parseSmiMigTable(table.stdout) : new Map<number, MigDevice[]>();
    gpus.forEach((gpu, at) => {
      const block = blocks.find((b) => gpu.uuid !== null && b.uuid === gpu.uuid) ?? (blocks.length === gpus.length ? blocks[at] : undefined);
      if (block?.brand) {
        gpu.brand = block.brand;
        gpu.brandSource = 'nvidia-smi';
      }
      if (gpu.migEnabled === undefined || gpu.migEnabled === null) gpu.migEnabled = block?.migEnabled ?? gpu.migEnabled ?? null;
      if (gpu.migEnabled) {
        const named = migLists.get(gpu.index) ?? [];
        const devices = block?.migDevices?.length ? block.migDevices : (migTable.get(gpu.index) ?? []);
        gpu.migDevices = (devices.length > 0 ? devices : named.map((n: { index: number }) => ({ index: n.index, profile: null, uuid: null, gpuInstanceId: null, computeInstanceId: null, memoryTotalMiB: null, memoryUsedMiB: null, memoryFreeMiB: null }))).map(
          (device: MigDevice) => {
            const name = named.find((n: { index: number }) => n.index === device.index);
            return { ...device, profile: name?.profile ?? device.profile, uuid: name?.uuid ?? device.uuid };
          },
        );
      }
    });
  }
  for (const gpu of gpus) {
    if (!gpu.brand) {
      gpu.brand = brandFromName(gpu.name);
      gpu.brandSource = 'name';
    }
  }
  if (cudaVersionSource === 'derived' && cudaVersion && driverVersion) {
    notes.push(`CUDA ${cudaVersion} derived from driver ${driverVersion} with NVIDIA's table${derived && !derived.exact ? ' (the driver is newer than the table: at least this)' : ''}`);
  }
  return {
    state: 'ok',
    driverVersion,
    cudaVersion,
    cudaVersionSource,
    cudaVersionText,
    gpus,
    lostGpus: parsed.lostGpus,
    notes,
    smiCalls: calls,
  };
}

/**
 * `--query-gpu` for `fields`, asked again without each field the driver rejects
 * ("Field "compute_cap" is not a valid field to query": compute_cap before 510, mig.mode.* before 450).
 */
export async function askGpuQuery(smi: (args: string[]) => Promise<ExecResult>, fields: readonly string[]): Promise<{ result: ExecResult; fields: readonly string[]; rejected: string[] }> {
  let result = await smi(queryGpuArgs(fields));
  const rejected: string[] = [];
  for (let tries = 0; tries < 3 && !result.timedOut; tries++) {
    const field = FIELD_REJECTED.exec(outputOf(result))?.[1];
    if (!field || !fields.includes(field)) break;
    fields = fields.filter((f) => f !== field);
    rejected.push(field);
    result = await smi(queryGpuArgs(fields));
  }
  return { result, fields, rejected };
}
