/**
 * CUDA toolkit -> minimum Linux driver (NVIDIA's CUDA release notes, table 3, GA releases),
 * and the minor-version-compatibility floors: a driver at or above its major's floor runs any
 * toolkit of that major, with a limited feature set (no PTX JIT of newer code).
 */
import type { ImageInfo } from '../facts.js';
import { DEFAULT_CUDA, type Settings } from '../settings.js';

export interface CudaDriverRow {
  /** "major.minor" */
  cuda: string;
  /** Minimum driver for this toolkit without compatibility tricks. */
  minDriver: string;
}

export const CUDA_DRIVER_MINIMUMS: readonly CudaDriverRow[] = [
  { cuda: '11.0', minDriver: '450.36.06' },
  { cuda: '11.1', minDriver: '455.23.05' },
  { cuda: '11.2', minDriver: '460.27.04' },
  { cuda: '11.3', minDriver: '465.19.01' },
  { cuda: '11.4', minDriver: '470.42.01' },
  { cuda: '11.5', minDriver: '495.29.05' },
  { cuda: '11.6', minDriver: '510.39.01' },
  { cuda: '11.7', minDriver: '515.43.04' },
  { cuda: '11.8', minDriver: '520.61.05' },
  { cuda: '12.0', minDriver: '525.60.13' },
  { cuda: '12.1', minDriver: '530.30.02' },
  { cuda: '12.2', minDriver: '535.54.03' },
  { cuda: '12.3', minDriver: '545.23.06' },
  { cuda: '12.4', minDriver: '550.54.14' },
  { cuda: '12.5', minDriver: '555.42.02' },
  { cuda: '12.6', minDriver: '560.28.03' },
  { cuda: '12.8', minDriver: '570.26' },
  { cuda: '12.9', minDriver: '575.51.03' },
  { cuda: '13.0', minDriver: '580.65.06' },
];

/** Per CUDA major: the oldest driver that runs any toolkit of that major (minor-version compatibility). */
export const MINOR_VERSION_FLOORS: Readonly<Record<number, string>> = {
  11: '450.80.02',
  12: '525.60.13',
  13: '580.65.06',
};

/**
 * Compare dotted versions numerically ("570.26" < "570.124.06" < "575"); missing parts count
 * as 0 and non-numeric parts are ignored, so driver strings from any source compare sanely.
 */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.trim().split('.').map((p) => Number.parseInt(p, 10)).map((n) => (Number.isFinite(n) ? n : 0));
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  return 0;
}

/** "12.8.1" -> "12.8"; null when it does not start with major.minor. */
export function cudaMajorMinor(version: string): string | null {
  const match = /^\s*(\d+)\.(\d+)/.exec(version);
  return match ? `${Number(match[1])}.${Number(match[2])}` : null;
}

export interface DriverRequirement {
  /** The toolkit asked about, as "major.minor". */
  cuda: string;
  major: number;
  /** Driver that runs this toolkit fully. */
  minDriver: string;
  /** The table row the minimum came from; differs from `cuda` when that release is not in the table. */
  tableCuda: string;
  /** Oldest driver that runs it under minor-version compatibility, when NVIDIA defines one for the major. */
  compatFloor: string | null;
}

/**
 * What a toolkit needs of the driver. A release missing from the table (a newer minor, say)
 * borrows the nearest older row of the same major, which understates the need; `tableCuda`
 * tells so. Unknown majors give null.
 */
export function requiredDriver(cuda: string): DriverRequirement | null {
  const wanted = cudaMajorMinor(cuda);
  if (!wanted) return null;
  const major = Number(wanted.split('.')[0]);
  const sameMajor = CUDA_DRIVER_MINIMUMS.filter((row) => Number(row.cuda.split('.')[0]) === major && compareVersions(row.cuda, wanted) <= 0);
  const row = sameMajor.at(-1);
  if (!row) return null;
  return { cuda: wanted, major, minDriver: row.minDriver, tableCuda: row.cuda, compatFloor: MINOR_VERSION_FLOORS[major] ?? null };
}

export type CudaSource = 'flag' | 'image' | 'default';

/** `--cuda` wins, else the local image's CUDA_VERSION, else the server kind's default. */
export function resolveImageCuda(settings: Settings, image: ImageInfo | undefined): { version: string; source: CudaSource } {
  if (settings.cuda) return { version: settings.cuda, source: 'flag' };
  if (image?.present && image.cudaVersion) return { version: image.cudaVersion, source: 'image' };
  return { version: DEFAULT_CUDA[settings.server], source: 'default' };
}

/** The image's CUDA version and where it came from, in words: "image CUDA_VERSION 12.8.1". */
export function describeCudaSource(cuda: { version: string; source: CudaSource }, settings: Settings): string {
  if (cuda.source === 'flag') return `CUDA ${cuda.version} (--cuda)`;
  if (cuda.source === 'image') return `image CUDA_VERSION ${cuda.version}`;
  return `CUDA ${cuda.version} (the --server ${settings.server} default: image not present locally)`;
}

// ---- compiled architectures (TORCH_CUDA_ARCH_LIST) ----

export interface ArchEntry {
  major: number;
  minor: number;
  /** "a": arch-specific (runs on exactly this capability); "f": family-specific. */
  variant: '' | 'a' | 'f';
  /** PTX is shipped too, which the driver can JIT-compile for newer GPUs. */
  ptx: boolean;
  raw: string;
}

/** "8.6", "8.6+PTX", "9.0a", "10.0f", "sm_90", "compute_90" -> parts; anything else -> null. */
export function parseArchEntry(raw: string): ArchEntry | null {
  const text = raw.trim();
  const ptx = /\+ptx$/i.test(text) || /^compute_/i.test(text);
  const body = text.replace(/\+ptx$/i, '');
  const dotted = /^(\d+)\.(\d+)([af]?)$/i.exec(body);
  const sm = /^(?:sm|compute)_(\d+)(\d)([af]?)$/i.exec(body);
  const match = dotted ?? sm;
  if (!match) return null;
  return { major: Number(match[1]), minor: Number(match[2]), variant: (match[3] ?? '').toLowerCase() as ArchEntry['variant'], ptx, raw: text };
}

export type ArchCoverage =
  /** The list names this capability. */
  | { kind: 'exact'; entry: ArchEntry }
  /** Kernels for an older minor of the same major run as they are (CUDA binary compatibility). */
  | { kind: 'binary'; entry: ArchEntry }
  /** Only PTX of an older architecture: the driver JIT-compiles it at first start. */
  | { kind: 'ptx'; entry: ArchEntry }
  | { kind: 'none' };

/**
 * Whether an image compiled for `list` has kernels for a GPU of `capability`. A cubin for X.y
 * runs on X.z with z >= y; PTX for X.y can be compiled for anything newer; "a" builds run only
 * on their exact capability.
 */
export function archCoverage(capability: string, list: readonly string[]): ArchCoverage {
  const gpu = parseArchEntry(capability);
  if (!gpu) return { kind: 'none' };
  const entries = list.map(parseArchEntry).filter((e): e is ArchEntry => e !== null);
  const exact = entries.find((e) => e.major === gpu.major && e.minor === gpu.minor);
  if (exact) return { kind: 'exact', entry: exact };
  const binary = entries
    .filter((e) => e.major === gpu.major && e.minor < gpu.minor && e.variant !== 'a')
    .sort((a, b) => b.minor - a.minor)[0];
  if (binary) return { kind: 'binary', entry: binary };
  const ptx = entries
    .filter((e) => e.ptx && e.variant !== 'a' && (e.major < gpu.major || (e.major === gpu.major && e.minor < gpu.minor)))
    .sort((a, b) => b.major - a.major || b.minor - a.minor)[0];
  if (ptx) return { kind: 'ptx', entry: ptx };
  return { kind: 'none' };
}
