/**
 * CUDA toolkit -> minimum Linux driver (NVIDIA's CUDA release notes, "CUDA Toolkit and
 * Corresponding Driver Versions", GA releases and the update releases that raise the floor),
 * the minor-version-compatibility floors (a driver at or above its major's floor runs any
 * toolkit of that major, with a limited feature set: no PTX JIT of newer code), and the CUDA
 * version each driver branch reports, for when nvidia-smi is not asked.
 *
 * Source of every row: docs.nvidia.com/cuda/cuda-toolkit-release-notes, table 3 (and
 * ../shared/FACTS.md "NVIDIA driver and CUDA", where the 11.1, 11.2 and 12.8 Update 1 rows
 * were corrected).
 */

export interface CudaDriverRow {
  /** "major.minor" */
  cuda: string;
  /** Minimum driver for this toolkit without compatibility tricks. */
  minDriver: string;
}

export const CUDA_DRIVER_MINIMUMS: readonly CudaDriverRow[] = [
  { cuda: '9.0', minDriver: '384.81' },
  { cuda: '9.1', minDriver: '390.46' },
  { cuda: '9.2', minDriver: '396.26' },
  { cuda: '10.0', minDriver: '410.48' },
  { cuda: '10.1', minDriver: '418.39' },
  { cuda: '10.2', minDriver: '440.33' },
  { cuda: '11.0', minDriver: '450.36.06' },
  { cuda: '11.1', minDriver: '455.23' },
  { cuda: '11.2', minDriver: '460.27.03' },
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

/**
 * Update releases whose floor is above their GA release's: CUDA 12.8 Update 1 (the 12.8.1 of
 * the nvidia/cuda base images and so of vLLM 0.9-0.11) needs 570.124.06, not 570.26.
 */
export const CUDA_UPDATE_MINIMUMS: readonly CudaDriverRow[] = [{ cuda: '12.8.1', minDriver: '570.124.06' }];

/**
 * The CUDA version drivers of a branch print in nvidia-smi's banner, where the toolkit table
 * has no row for it (565 prints 12.7, which no toolkit release carries). Source: real banners
 * (../shared/conformance/nvidia-smi/02-h100-sxm-80gb-x8-r565: 565.57.01 "CUDA Version: 12.7";
 * public captures: 595.91.07 "CUDA Version: 13.2", 610.57.04 "CUDA UMD Version: 13.3").
 */
export const DRIVER_BRANCH_CUDA: readonly { branch: number; cuda: string }[] = [
  { branch: 565, cuda: '12.7' },
  { branch: 595, cuda: '13.2' },
  { branch: 610, cuda: '13.3' },
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
  const update = CUDA_UPDATE_MINIMUMS.find((u) => cudaMajorMinor(u.cuda) === wanted && compareVersions(cuda.trim(), u.cuda) >= 0);
  if (update) return { cuda: cuda.trim(), major, minDriver: update.minDriver, tableCuda: update.cuda, compatFloor: MINOR_VERSION_FLOORS[major] ?? null };
  return { cuda: wanted, major, minDriver: row.minDriver, tableCuda: row.cuda, compatFloor: MINOR_VERSION_FLOORS[major] ?? null };
}

/**
 * The newest CUDA a driver supports, worked out without nvidia-smi: the highest toolkit whose
 * floor the driver meets, or the branch's own banner value. Conservative for branches newer
 * than the table (it answers the newest known), so `exact` says whether the driver's branch
 * is known.
 */
export function cudaForDriver(driverVersion: string): { cuda: string; exact: boolean } | null {
  const major = Number.parseInt(driverVersion, 10);
  if (!Number.isFinite(major)) return null;
  let best: string | null = null;
  for (const row of CUDA_DRIVER_MINIMUMS) if (compareVersions(driverVersion, row.minDriver) >= 0 && (best === null || compareVersions(row.cuda, best) > 0)) best = row.cuda;
  for (const row of DRIVER_BRANCH_CUDA) if (major >= row.branch && (best === null || compareVersions(row.cuda, best) > 0)) best = row.cuda;
  if (best === null) return null;
  const newestBranch = Math.max(...CUDA_DRIVER_MINIMUMS.map((r) => Number.parseInt(r.minDriver, 10)), ...DRIVER_BRANCH_CUDA.map((r) => r.branch));
  return { cuda: best, exact: major <= newestBranch };
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
