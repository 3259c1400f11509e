/**
 * Which GPU a run uses: the one `--gpu N` names, else the one with the most free memory
 * (what a user with several cards wants by default; ties go to the lower index). The checks
 * never call this: they read the derived `gpu` fact (selectGpu below), worked out once a run.
 */
import type { GpuInfo, GpuInventory, GpuSelection, LostGpu, MigDevice } from './facts.js';
import type { Settings } from './settings.js';
import type { Status } from './types.js';

export type GpuChoice =
  | { ok: true; gpu: GpuInfo; reason: 'flag' | 'only' | 'most-free' }
  | { ok: false; summary: string; fix: string };

export function chooseGpu(gpus: readonly GpuInfo[], settings: Pick<Settings, 'gpu'> & Partial<Pick<Settings, 'migDevice'>>): GpuChoice {
  const byMigUuid = gpuHoldingMigUuid(gpus, settings.migDevice ?? null);
  if (byMigUuid) return { ok: true, gpu: byMigUuid, reason: 'flag' };
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
  const byFree = [...gpus].sort((a, b) => usableFreeMiB(b) - usableFreeMiB(a) || a.index - b.index);
  return { ok: true, gpu: byFree[0]!, reason: 'most-free' };
}

/** The GPU that holds the MIG device `--gpu MIG-<uuid>` names, if nvidia-smi listed it. */
function gpuHoldingMigUuid(gpus: readonly GpuInfo[], migDevice: string | null): GpuInfo | undefined {
  if (!migDevice?.startsWith('MIG-')) return undefined;
  return gpus.find((g) => (g.migDevices ?? []).some((d) => d.uuid === migDevice));
}

/**
 * The GPUs a container started by `up` gets, whose start gate nvidia-container-cli judges: the one
 * --gpu names (for --gpu N:M or --gpu MIG-<uuid>, its parent), else all of them (`--gpus all`).
 * A --gpu that names no GPU leaves all of them: gpu.vram reports the bad flag.
 */
export function containerGpus(gpus: readonly GpuInfo[], settings: Pick<Settings, 'gpu' | 'migDevice'>): GpuInfo[] {
  const named = settings.gpu !== null ? gpus.find((g) => g.index === settings.gpu) : gpuHoldingMigUuid(gpus, settings.migDevice);
  return named ? [named] : [...gpus];
}

/** The free memory a container can use on a GPU: in MIG mode, its largest MIG device's, never the parent's. */
function usableFreeMiB(gpu: GpuInfo): number {
  if (!gpu.migEnabled) return gpu.memoryFreeMiB ?? -1;
  const devices = (gpu.migDevices ?? []).map((d) => d.memoryFreeMiB ?? (d.memoryTotalMiB !== null && d.memoryUsedMiB !== null ? d.memoryTotalMiB - d.memoryUsedMiB : -1));
  return devices.length > 0 ? Math.max(...devices) : -1;
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
    case 'nvml-mismatch':
      return { summary: `no GPU to check: nvidia-smi cannot initialise NVML (${inventory.message})`, fix: 'reboot, or reload the nvidia kernel modules (see gpu.driver)', factsMissing: true };
    case 'no-devices':
      return { summary: `no GPU to check: ${inventory.message}`, fix: 'make the GPU visible to this machine (see gpu.driver), or serve on CPU with --cpu', factsMissing: true };
    case 'unreadable':
      return { summary: `no GPU to check: ${inventory.message}`, fix: 'run `nvidia-smi` by hand to see what is wrong with the GPU or driver', factsMissing: true };
  }
}

/** "GPU 0 MIG 3g.40gb device 1" */
export function migLabel(gpu: GpuInfo, device: MigDevice): string {
  return `GPU ${gpu.index} MIG ${device.profile ? `${device.profile} ` : ''}device ${device.index}`;
}

export type MigChoice =
  /** The GPU is not in MIG mode: the container gets the whole GPU. */
  | { kind: 'whole-gpu' }
  | { kind: 'device'; device: MigDevice; reason: 'flag' | 'first' }
  | { kind: 'none'; summary: string };

/**
 * Which MIG device a container gets on a GPU in MIG mode: the one --gpu N:M or --gpu MIG-<uuid>
 * names, else the first (CUDA's device 0 when the GPU's MIG devices are handed over).
 */
export function chooseMigDevice(gpu: GpuInfo, settings: Pick<Settings, 'migDevice'>): MigChoice {
  const wanted = settings.migDevice ?? null;
  // As the user typed it: --gpu 0:1, or --gpu MIG-<uuid>.
  const given = wanted === null ? '' : /^\d+$/.test(wanted) ? `${gpu.index}:${wanted}` : wanted;
  if (!gpu.migEnabled) {
    if (wanted !== null) return { kind: 'none', summary: `--gpu ${given}: GPU ${gpu.index} is not in MIG mode` };
    return { kind: 'whole-gpu' };
  }
  const devices = [...(gpu.migDevices ?? [])].sort((a, b) => a.index - b.index);
  if (wanted !== null) {
    const device = devices.find((d) => (/^\d+$/.test(wanted) ? d.index === Number(wanted) : d.uuid === wanted));
    if (!device) {
      const listed = devices.map((d) => `${gpu.index}:${d.index}${d.profile ? ` (${d.profile})` : ''}`).join(', ') || 'none';
      return { kind: 'none', summary: `--gpu ${given}: GPU ${gpu.index} has no MIG device ${wanted}; its MIG devices: ${listed}` };
    }
    return { kind: 'device', device, reason: 'flag' };
  }
  const first = devices[0];
  if (!first) return { kind: 'none', summary: `GPU ${gpu.index} (${gpu.name}) is in MIG mode but has no MIG device: a container gets no GPU from it` };
  return { kind: 'device', device: first, reason: 'first' };
}

/** The lost GPU nvidia-smi names by index ("... device handle for GPU1: 0000:34:00.0: ..."); older drivers name only the bus. */
function lostIndex(lost: LostGpu): number | null {
  const match = /device handle for GPU\s*(\d+):\s/i.exec(lost.line);
  return match ? Number(match[1]) : null;
}

/**
 * The derived `gpu` fact: the GPU, or MIG device, the server will get and why, or why none can
 * be had. Worked out once per run from the `gpus` facts and --gpu (src/probes/index.ts DERIVED);
 * the "GPU n chosen" line is a note the report shows once, not a line each check writes.
 */
export function selectGpu(inventory: GpuInventory, settings: Pick<Settings, 'gpu' | 'migDevice'>): GpuSelection {
  if (inventory.state !== 'ok') {
    const { summary, fix } = inventoryProblem(inventory);
    return { state: 'none', cause: 'no-inventory', summary, fix, gpu: null, factsMissing: true, notes: [] };
  }
  const { gpus } = inventory;
  const lost = inventory.lostGpus ?? [];
  const notes = lost.length > 0 ? [`nvidia-smi cannot reach ${lost.map((l) => l.id).join(', ')} (see gpu.driver)`] : [];
  const pickOther = gpus.length > 0 ? `, or pick a GPU that answers: --gpu ${gpus.map((g) => g.index).join(', --gpu ')}` : '';
  const resetFix = `reset the GPU (\`sudo nvidia-smi -r -i <index>\` with nothing using it) or reboot (see gpu.driver)${pickOther}`;

  if (gpus.length === 0 && lost.length > 0) {
    return { state: 'none', cause: 'lost', summary: `nvidia-smi cannot reach any GPU: ${lost.map((l) => l.line).join('; ')}`, fix: resetFix, gpu: null, factsMissing: true, notes };
  }
  if (settings.gpu !== null && !gpus.some((g) => g.index === settings.gpu)) {
    const named = lost.find((l) => lostIndex(l) === settings.gpu);
    if (named) {
      return { state: 'none', cause: 'lost', summary: `--gpu ${settings.gpu}: nvidia-smi cannot reach GPU ${settings.gpu}: ${named.line}`, fix: resetFix, gpu: null, factsMissing: true, notes };
    }
  }
  const choice = chooseGpu(gpus, settings);
  if (!choice.ok) {
    const cause = gpus.length === 0 ? 'no-gpus' : 'out-of-range';
    const unnamed = lost.filter((l) => lostIndex(l) === null);
    const maybeLost = cause === 'out-of-range' && unnamed.length > 0 ? ` (nvidia-smi cannot reach ${unnamed.map((l) => l.id).join(', ')}; GPU ${settings.gpu} may be that one, see gpu.driver)` : '';
    return { state: 'none', cause, summary: `${choice.summary}${maybeLost}`, fix: choice.fix, gpu: null, factsMissing: false, notes };
  }
  const { gpu, reason } = choice;
  if (reason === 'most-free') notes.unshift(`GPU ${gpu.index} chosen: it has the most free memory (pick another with --gpu)`);
  const mig = chooseMigDevice(gpu, settings);
  if (mig.kind === 'none') {
    const cause = !gpu.migEnabled ? 'not-mig' : (gpu.migDevices ?? []).length === 0 ? 'mig-no-device' : settings.migDevice !== null ? 'no-such-mig-device' : 'mig-no-device';
    const fix =
      cause === 'not-mig'
        ? `give --gpu ${gpu.index} for the whole GPU`
        : cause === 'no-such-mig-device'
          ? `give one of its MIG devices (\`nvidia-smi -L\` lists them), or --gpu ${gpu.index} for the first`
          : `create a MIG instance on GPU ${gpu.index} (\`sudo nvidia-smi mig -i ${gpu.index} -cgi <profile> -C\`), or disable MIG on it`;
    return { state: 'none', cause, summary: mig.summary, fix, gpu, factsMissing: false, notes };
  }
  return { state: 'chosen', gpu, reason, device: mig.kind === 'device' ? { kind: 'mig', device: mig.device, reason: mig.reason } : { kind: 'whole-gpu' }, notes };
}

/** The verdict of a check that needs a GPU when none can be had: "could not tell" without GPU facts, else a failure. */
export function noGpuJudgement(selection: Extract<GpuSelection, { state: 'none' }>): { status: Status; summary: string; fix: string; factsMissing?: true } {
  const status: Status = selection.cause === 'no-inventory' ? 'error' : 'fail';
  return { status, summary: selection.summary, fix: selection.fix, ...(selection.factsMissing ? { factsMissing: true as const } : {}) };
}

export const CPU_SKIP_REASON = 'serving on CPU (--cpu): no GPU is used';
