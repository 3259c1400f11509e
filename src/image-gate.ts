/**
 * What the serving image asks of the host, and where the doctor learnt it: the image's own
 * environment when it is present locally, else the known-image table (src/data/images.ts),
 * else `--cuda` or the server kind's default CUDA judged by NVIDIA's driver table.
 */
import type { GpuInfo, GpuInventory, ImageInfo } from './facts.js';
import type { Settings } from './settings.js';
import { DEFAULT_CUDA, KNOWN_IMAGES, imageRef, knownImage, type KnownImage } from './data/images.js';
import { containerBrand } from './data/gpus.js';
import { compareVersions, requiredDriver } from './data/cuda.js';
import { evaluateGate, gateRequirements, parseGoBool, type GateContext, type GateResult } from './nvidia-require.js';

export type CudaSource = 'flag' | 'image' | 'table' | 'default';

/** `--cuda` wins, else the local image's CUDA_VERSION, else the known-image table, else the server kind's default. */
export function resolveImageCuda(settings: Settings, image: ImageInfo | undefined): { version: string; source: CudaSource } {
  if (settings.cuda) return { version: settings.cuda, source: 'flag' };
  if (image?.present && image.cudaVersion) return { version: image.cudaVersion, source: 'image' };
  const known = knownImage(settings.image);
  if (known) return { version: known.cudaVersion, source: 'table' };
  return { version: DEFAULT_CUDA[settings.server], source: 'default' };
}

/** The image's CUDA version and where it came from, in words: "image CUDA_VERSION 12.8.1". */
export function describeCudaSource(cuda: { version: string; source: CudaSource }, settings: Settings): string {
  if (cuda.source === 'flag') return `CUDA ${cuda.version} (--cuda)`;
  if (cuda.source === 'image') return `image CUDA_VERSION ${cuda.version}`;
  if (cuda.source === 'table') return `${settings.image} (CUDA ${cuda.version})`;
  return `CUDA ${cuda.version} (the --server ${settings.server} default: image ${settings.image} is unknown and not present locally)`;
}

export interface ImageGate {
  /** Where the requirements come from: the local image's environment, the table, or nowhere. */
  source: 'image' | 'table' | 'none';
  /** The `--require` strings nvidia-container-cli would get (empty: no gate, or switched off). */
  requirements: string[];
  /** NVIDIA_DISABLE_REQUIRE switches the gate off. */
  disabled: boolean;
  known: KnownImage | undefined;
  /** The compiled architectures, from the image's environment or the table; null when unknown. */
  archList: string[] | null;
  archSource: 'image' | 'table' | null;
}

export function resolveImageGate(settings: Settings, image: ImageInfo | undefined): ImageGate {
  const known = knownImage(settings.image);
  const local = image?.present ? image : undefined;
  const archFromImage = local?.torchCudaArchList ?? null;
  const archList = archFromImage ?? (known ? [...known.archList] : null);
  const archSource = archFromImage ? 'image' : known ? 'table' : null;
  if (local) {
    const disabled = parseGoBool(local.disableRequire);
    const requirements = gateRequirements({
      cudaVersion: local.cudaVersion,
      requireCuda: local.requireCuda ?? null,
      otherRequires: local.otherRequires,
      disableRequire: local.disableRequire ?? null,
    });
    return { source: local.requireCuda || local.cudaVersion ? 'image' : 'none', requirements, disabled, known, archList, archSource };
  }
  if (known) return { source: 'table', requirements: [known.requireCuda], disabled: false, known, archList, archSource };
  return { source: 'none', requirements: [], disabled: false, known, archList, archSource };
}

export function gateContext(inventory: Extract<GpuInventory, { state: 'ok' }>, gpu: GpuInfo | null): GateContext {
  return {
    cudaVersion: inventory.cudaVersion,
    driverVersion: inventory.driverVersion,
    device: gpu ? { arch: gpu.computeCapability, brand: containerBrand(gpu.brand) } : null,
  };
}

/** The gate judged per visible GPU, as nvidia-container-cli does; the first GPU refused decides. */
export function judgeGate(requirements: readonly string[], inventory: Extract<GpuInventory, { state: 'ok' }>, gpus: readonly GpuInfo[]): { result: GateResult; gpu: GpuInfo | null } {
  if (gpus.length === 0) return { result: evaluateGate(requirements, gateContext(inventory, null)), gpu: null };
  let admitted: { result: GateResult; gpu: GpuInfo | null } | null = null;
  for (const gpu of gpus) {
    const result = evaluateGate(requirements, gateContext(inventory, gpu));
    if (!result.ok) return { result, gpu };
    // All share driver and CUDA; a brand rule admitting any of them is what is worth saying, on the first such GPU.
    const byBrand = Boolean(result.alternative && !result.alternative.startsWith('cuda'));
    const admittedByBrand = Boolean(admitted?.result.ok && admitted.result.alternative && !admitted.result.alternative.startsWith('cuda'));
    if (!admitted || (byBrand && !admittedByBrand)) admitted = { result, gpu };
  }
  return admitted!;
}

/** Known images this driver (and these GPUs) can start, newest first. */
export function startableImages(inventory: Extract<GpuInventory, { state: 'ok' }>, gpus: readonly GpuInfo[], server: Settings['server']): KnownImage[] {
  return KNOWN_IMAGES.filter((image) => image.server === server && judgeGate([image.requireCuda], inventory, gpus).result.ok).reverse();
}

/** The driver a CUDA version needs, with its update-release floor ("570.124.06" for 12.8.1). */
export function driverFloor(cuda: string): string | null {
  return requiredDriver(cuda)?.minDriver ?? null;
}

export function isOlder(a: string, b: string): boolean {
  return compareVersions(a, b) < 0;
}

export { imageRef };
