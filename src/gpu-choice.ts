/**
 * Which GPU a run uses: the one `--gpu N` names, else the one with the most free memory
 * (what a user with several cards wants by default; ties go to the lower index).
 */
import type { GpuInfo, GpuInventory } from './facts.js';
import type { Settings } from './settings.js';

export type GpuChoice =
  | { ok: true; gpu: GpuInfo; reason: 'flag' | 'only' | 'most-free' }
  | { ok: false; summary: string; fix: string };

export function chooseGpu(gpus: readonly GpuInfo[], settings: Pick<Settings, 'gpu'>): GpuChoice {
  if (gpus.length === 0) {
    return { ok: false, summary: 'nvidia-smi lists no GPU', fix: 'check that the GPU is seated and visible (`nvidia-smi -L`), or serve on CPU with --cpu' };
  }
  if (settings.gpu !== null) {
    const gpu = gpus.find((g) => g.index === settings.gpu);
    if (!gpu) {
      const indexes = gpus.map((g) => g.index).join(', ');
      return {
        ok: false,
        summary: `--gpu ${settings.gpu}: there is no GPU ${settings.gpu}; this host has ${gpus.length === 1 ? 'GPU' : 'GPUs'} ${indexes}`,
        fix: `give one of --gpu ${gpus.map((g) => g.index).join(', --gpu ')} (nvidia-smi indexes)`,
      };
    }
    return { ok: true, gpu, reason: 'flag' };
  }
  if (gpus.length === 1) return { ok: true, gpu: gpus[0]!, reason: 'only' };
  const byFree = [...gpus].sort((a, b) => (b.memoryFreeMiB ?? -1) - (a.memoryFreeMiB ?? -1) || a.index - b.index);
  return { ok: true, gpu: byFree[0]!, reason: 'most-free' };
}

/** "GPU 1 (NVIDIA A100-SXM4-80GB)" */
export function gpuLabel(gpu: GpuInfo): string {
  return `GPU ${gpu.index} (${gpu.name})`;
}

/**
 * Why there is no GPU to judge, for the checks that judge one (gpu.driver says how to fix the
 * driver). `factsMissing`: in a full run these checks show as "needs gpu.driver" (blockedBy).
 */
export function inventoryProblem(inventory: Exclude<GpuInventory, { state: 'ok' }>): { summary: string; fix: string; factsMissing: true } {
  switch (inventory.state) {
    case 'no-nvidia-smi':
      return { summary: `no GPU to check: ${inventory.message}`, fix: 'install the NVIDIA driver (see gpu.driver), or serve on CPU with --cpu', factsMissing: true };
    case 'no-driver':
      return { summary: `no GPU to check: nvidia-smi cannot reach the driver (${inventory.message})`, fix: 'load or reinstall the NVIDIA driver (see gpu.driver), or serve on CPU with --cpu', factsMissing: true };
    case 'unreadable':
      return { summary: `no GPU to check: ${inventory.message}`, fix: 'run `nvidia-smi` by hand to see what is wrong with the GPU or driver', factsMissing: true };
  }
}

export const CPU_SKIP_REASON = 'serving on CPU (--cpu): no GPU is used';
