/**
 * gpu.vram: the chosen GPU's free (not total) memory against what the model needs, and for
 * vLLM also `--gpu-memory-utilization` x total against free (vLLM refuses to start otherwise)
 * and the requirement against that budget (vLLM sizes weights + KV cache into it).
 * Sorted like NIM's profiles: fits / fits with a change (the number that works) / cannot fit.
 */
import { defineCheck } from '../src/judge.js';
import type { GpuInfo, MigDevice } from '../src/facts.js';
import { CPU_SKIP_REASON, gpuLabel, migLabel, noGpuJudgement } from '../src/gpu-choice.js';
import { migProfileFor } from '../src/data/gpus.js';
import {
  largestFittingModelLen,
  largestUtilization,
  smallerModelsThatFit,
  utilizationBudgetMiB,
  vramRequirement,
  type ModelFolderFigures,
  type VramRequirement,
} from '../src/requirements.js';
import type { Settings } from '../src/settings.js';
import { gibText } from '../src/report/format.js';

interface Fit {
  fits: boolean;
  /** vLLM: utilization x total exceeds free, so vLLM refuses at start-up. */
  utilizationTooHigh: boolean;
  /** vLLM: the requirement exceeds what the utilization gives it. */
  budgetTooSmall: boolean;
  freeTooSmall: boolean;
  budgetMiB: number | null;
}

function fitOf(gpu: GpuInfo, requiredMiB: number, settings: Settings): Fit | null {
  const free = gpu.memoryFreeMiB;
  if (free === null) return null;
  const freeTooSmall = free < requiredMiB;
  if (settings.server !== 'vllm' || gpu.memoryTotalMiB === null) {
    return { fits: !freeTooSmall, utilizationTooHigh: false, budgetTooSmall: false, freeTooSmall, budgetMiB: null };
  }
  const budgetMiB = utilizationBudgetMiB(settings.gpuMemoryUtilization, gpu.memoryTotalMiB);
  const utilizationTooHigh = budgetMiB > free;
  const budgetTooSmall = requiredMiB > budgetMiB;
  return { fits: !freeTooSmall && !utilizationTooHigh && !budgetTooSmall, utilizationTooHigh, budgetTooSmall, freeTooSmall, budgetMiB };
}

export const gpuVram = defineCheck({
  id: 'gpu.vram',
  title: 'Free GPU memory',
  needs: ['gpus', 'gpu', 'model'],
  skip: (settings) => (settings.cpu ? CPU_SKIP_REASON : null),
  blockedBy: 'gpu.driver',
  judge({ gpus, gpu: selection, model }, settings) {
    // The chosen GPU is a derived fact (src/gpu-choice.ts selectGpu); without one, say why (no GPU
    // facts or a lost GPU show as "needs gpu.driver": one cause, counted once).
    if (selection.state === 'none' && selection.gpu === null) return noGpuJudgement(selection);
    const parent = selection.gpu!;
    const folder: ModelFolderFigures | null = model ?? null;
    const need = vramRequirement(settings.model, folder, settings.maxModelLen, settings.server);
    const modelName = settings.model.name;

    // In MIG mode a container gets a MIG device: its memory is what the server can use, never the parent's.
    const migFix = migFixFor(parent, need.requiredMiB);
    if (selection.state === 'none') {
      return { status: 'fail', summary: selection.summary, fix: migFix.fix, measured: { gpu: parent.index, name: parent.name, requiredMiB: need.requiredMiB, mig: true, ...migFix.measured } };
    }
    const mig = selection.device.kind === 'mig' ? { kind: 'device' as const, device: selection.device.device, reason: selection.device.reason } : { kind: 'whole-gpu' as const };
    const gpu: GpuInfo = mig.kind === 'device' ? migAsGpu(parent, mig.device) : parent;
    const label = mig.kind === 'device' ? migLabel(parent, mig.device) : `GPU ${gpu.index}`;
    const measured: Record<string, unknown> = {
      gpu: gpu.index,
      name: gpu.name,
      freeMiB: gpu.memoryFreeMiB,
      totalMiB: gpu.memoryTotalMiB,
      requiredMiB: need.requiredMiB,
      maxModelLen: need.maxModelLen,
      weightsMiB: need.weightsMiB,
      kvCacheMiB: need.kvCacheMiB,
      figuresFrom: need.figures.archSource === 'config.json' || need.figures.weightSource === 'model folder' ? 'model folder' : 'built-in',
      ...(settings.server === 'vllm' ? { gpuMemoryUtilization: settings.gpuMemoryUtilization } : {}),
    };
    const details = [breakdown(need), ...need.figures.notes];
    if (mig.kind === 'device') {
      Object.assign(measured, { mig: true, migDevice: `${parent.index}:${mig.device.index}`, migProfile: mig.device.profile, migUuid: mig.device.uuid, parentFreeMiB: parent.memoryFreeMiB });
      details.push(
        `GPU ${parent.index} is in MIG mode: a container gets ${label}${mig.reason === 'first' ? ' (the first; pick another with --gpu ' + parent.index + ':<device>)' : ''}, not the whole GPU${parent.memoryFreeMiB !== null ? ` (its ${gibText(parent.memoryFreeMiB)} free are not what the server can use)` : ''}`,
      );
    }

    const fit = fitOf(gpu, need.requiredMiB, settings);
    if (fit === null) {
      const total = gpu.memoryTotalMiB;
      if (total !== null && total < need.requiredMiB) {
        return {
          status: 'fail',
          summary: `${mig.kind === 'device' ? label : gpuLabel(gpu)} has ${gibText(total)} in all; ${modelName} needs at least ${gibText(need.requiredMiB)}`,
          fix: [smallerModelFix(settings, need, total, total)?.fix, mig.kind === 'device' ? migFix.fix : null].filter(Boolean).join('; or ') || 'serve on a GPU with more memory',
          measured,
          details,
        };
      }
      if (gpu.memoryUnread || (mig.kind === 'device' && total === null)) {
        return {
          status: 'error',
          summary: `could not tell the free memory of ${mig.kind === 'device' ? label : gpuLabel(gpu)}: nvidia-smi gave no memory figures for it; ${modelName} needs at least ${gibText(need.requiredMiB)}`,
          fix: 'run `nvidia-smi` by hand: its Memory-Usage column must show the GPU\'s memory',
          measured,
          details,
        };
      }
      return {
        status: 'warn',
        summary: `could not measure free memory on ${gpuLabel(gpu)} (nvidia-smi reports [N/A], as on unified-memory machines); ${modelName} needs at least ${gibText(need.requiredMiB)}`,
        fix: `make sure ${gibText(need.requiredMiB)} of memory is free before starting (on unified-memory machines \`free -g\` shows it)`,
        measured,
        details,
      };
    }

    const free = gpu.memoryFreeMiB!;
    const total = gpu.memoryTotalMiB;
    const ofTotal = total !== null ? ` of ${gibText(total)}` : '';
    const base = `${label} has ${gibText(free)} free${ofTotal}; ${modelName} needs at least ${gibText(need.requiredMiB)}`;
    const contextText = settings.server === 'vllm' ? ` at --max-model-len ${settings.maxModelLen}` : '';

    if (fit.fits) {
      const budget = fit.budgetMiB !== null ? `; --gpu-memory-utilization ${settings.gpuMemoryUtilization} gives it ${gibText(fit.budgetMiB)}` : '';
      return { status: 'pass', summary: `${base}${contextText}${budget}`, measured, details };
    }

    const reasons: string[] = [];
    if (fit.utilizationTooHigh) reasons.push(`--gpu-memory-utilization ${settings.gpuMemoryUtilization} asks for ${gibText(fit.budgetMiB!)}, more than is free (vLLM refuses to start)`);
    else if (fit.budgetTooSmall && !fit.freeTooSmall) reasons.push(`--gpu-memory-utilization ${settings.gpuMemoryUtilization} gives it only ${gibText(fit.budgetMiB!)}`);

    const all = gpus.state === 'ok' ? gpus.gpus : [parent];
    const candidates = mig.kind === 'device' ? [...otherMigDevices(all, parent, mig.device), ...all.filter((g) => !g.migEnabled && g.index !== parent.index)] : all;
    const ways = waysOut(candidates, gpu, need, folder, settings, fit, mig.kind === 'device');
    Object.assign(measured, ways.measured);
    if (mig.kind === 'device') {
      ways.fixes.splice(measured.suggestedGpu !== undefined ? 1 : 0, 0, migFix.fix);
      Object.assign(measured, migFix.measured);
    }
    return {
      status: 'fail',
      summary: `${base}${contextText}${reasons.length ? `; ${reasons.join('; ')}` : ''}`,
      fix: ways.fixes.join('; or ') || 'serve on a GPU with more free memory',
      measured,
      details,
    };
  },
});

/** A MIG device seen as the GPU a container gets: its own memory, the parent's identity. */
function migAsGpu(parent: GpuInfo, device: MigDevice): GpuInfo {
  const used = device.memoryUsedMiB;
  const total = device.memoryTotalMiB;
  return {
    ...parent,
    memoryTotalMiB: total,
    memoryUsedMiB: used,
    memoryFreeMiB: device.memoryFreeMiB ?? (total !== null && used !== null ? total - used : null),
  };
}

/** The other MIG devices of the host, as GPUs `--gpu N:M` can pick (for "use --gpu ..." fixes). */
function otherMigDevices(all: readonly GpuInfo[], parent: GpuInfo, chosen: MigDevice): GpuInfo[] {
  return all.flatMap((g) =>
    g.migEnabled
      ? (g.migDevices ?? [])
          .filter((d) => !(g.index === parent.index && d.index === chosen.index))
          .map((d) => ({ ...migAsGpu(g, d), migEnabled: false, name: `${d.profile ?? 'MIG'} on ${g.name}`, migRef: `${g.index}:${d.index}` }))
      : [],
  );
}

/** The MIG profile that holds the model on this GPU, or turning MIG off. */
function migFixFor(parent: GpuInfo, requiredMiB: number): { fix: string; measured: Record<string, unknown> } {
  const seen = (parent.migDevices ?? []).map((d) => d.profile).filter((p): p is string => Boolean(p));
  const profile = migProfileFor(parent.name, parent.memoryTotalMiB, requiredMiB, seen);
  const off = `disable MIG on GPU ${parent.index} (\`sudo nvidia-smi -i ${parent.index} -mig 0\`, then reset the GPU) to give the container the whole GPU`;
  if (!profile) return { fix: off, measured: { suggestedMigProfile: null } };
  return {
    fix: `create a ${profile.name} MIG instance (${profile.memoryGiB} GiB, at least ${gibText(requiredMiB)} needed: \`sudo nvidia-smi mig -i ${parent.index} -cgi ${profile.name} -C\`) and pick it with --gpu ${parent.index}:<device>; or ${off}`,
    measured: { suggestedMigProfile: profile.name },
  };
}

function breakdown(need: VramRequirement): string {
  const floor = need.floorMiB !== null && need.floorMiB > need.formulaMiB ? `; the field floor of ${gibText(need.floorMiB)} is higher and wins` : '';
  return (
    `needs ${need.requiredMiB} MiB: weights ${need.weightsMiB} MiB (${need.figures.weightSource}) + KV cache ${need.kvCacheMiB} MiB ` +
    `(${need.maxModelLen} tokens x ${need.kvBytesPerToken / 1024} KiB, ${need.figures.archSource}) + runtime ${need.runtimeMiB} MiB + margin ${need.marginMiB} MiB${floor}`
  );
}

/** Every change that would make it fit, each with the number that works, most direct first. */
function waysOut(
  all: readonly GpuInfo[],
  gpu: GpuInfo,
  need: VramRequirement,
  folder: ModelFolderFigures | null,
  settings: Settings,
  fit: Fit,
  migDevice = false,
): { fixes: string[]; measured: Record<string, unknown> } {
  const fixes: string[] = [];
  const measured: Record<string, unknown> = {};
  const free = gpu.memoryFreeMiB!;
  const total = gpu.memoryTotalMiB;

  const other = all
    .filter((g) => ((g as GpuInfo & { migRef?: string }).migRef !== undefined || g.index !== gpu.index) && !g.migEnabled && fitOf(g, need.requiredMiB, settings)?.fits)
    .sort((a, b) => (b.memoryFreeMiB ?? 0) - (a.memoryFreeMiB ?? 0))[0];
  if (other) {
    const ref = (other as GpuInfo & { migRef?: string }).migRef ?? other.index;
    fixes.push(`use --gpu ${ref} (${other.name}, ${gibText(other.memoryFreeMiB!)} free)`);
    measured.suggestedGpu = ref;
  }

  if (settings.server === 'vllm' && total !== null) {
    const maxUtilization = largestUtilization(free, total);
    const neededUtilization = Math.ceil((need.requiredMiB * 100) / total - 1e-9) / 100;
    if (fit.utilizationTooHigh || fit.budgetTooSmall) {
      if (neededUtilization <= maxUtilization && neededUtilization <= 1) {
        // The model fits in what is free; only the fraction is off.
        const utilization = Math.min(Math.max(settings.gpuMemoryUtilization, neededUtilization), maxUtilization);
        fixes.push(`start with --gpu-memory-utilization ${utilization.toFixed(2)}`);
        measured.suggestedGpuMemoryUtilization = utilization;
      } else {
        const keepUtilization = settings.gpuMemoryUtilization <= maxUtilization;
        const utilization = keepUtilization ? settings.gpuMemoryUtilization : maxUtilization;
        const budget = utilizationBudgetMiB(utilization, total);
        const length = largestFittingModelLen(settings.model, folder, budget, settings.maxModelLen);
        if (length !== null && length < settings.maxModelLen) {
          fixes.push(`start with --max-model-len ${length}${keepUtilization ? '' : ` --gpu-memory-utilization ${utilization.toFixed(2)}`}`);
          measured.suggestedMaxModelLen = length;
          if (!keepUtilization) measured.suggestedGpuMemoryUtilization = utilization;
        }
      }
    }
  }

  const smaller = smallerModelFix(settings, need, free, total);
  if (smaller) {
    fixes.push(smaller.fix);
    measured.suggestedModel = smaller.model;
  }

  const heldMiB = gpu.memoryUsedMiB ?? (total !== null ? total - free : 0);
  const emptyBudget = total === null ? null : settings.server === 'vllm' ? utilizationBudgetMiB(settings.gpuMemoryUtilization, total) : total;
  if (migDevice) {
    // A MIG slice's size is fixed by its profile: the MIG fix says what to do instead.
  } else if (heldMiB >= 1024 && (emptyBudget === null || emptyBudget >= need.requiredMiB)) {
    fixes.push(`free memory on GPU ${gpu.index} (${gibText(heldMiB)} in use; \`nvidia-smi\` lists the processes holding it)`);
  } else if (emptyBudget !== null && emptyBudget < need.requiredMiB && fixes.length === 0) {
    fixes.push(`GPU ${gpu.index} is too small for ${need.model} even when empty; serve on a GPU with at least ${gibText(need.requiredMiB)} free`);
  }
  return { fixes, measured };
}

/** What a model may use on this GPU: free memory, or for vLLM the largest fraction vLLM accepts. */
function budgetFor(settings: Settings, free: number, total: number | null): number {
  if (settings.server !== 'vllm' || total === null) return free;
  return utilizationBudgetMiB(Math.min(settings.gpuMemoryUtilization, largestUtilization(free, total)), total);
}

/** The largest smaller model that fits, with the --gpu-memory-utilization it needs when the current one is refused. */
function smallerModelFix(settings: Settings, need: VramRequirement, free: number, total: number | null): { fix: string; model: string } | null {
  const smaller = smallerModelsThatFit(settings.model, budgetFor(settings, free, total), settings.maxModelLen, settings.server)[0];
  if (!smaller) return null;
  const smallerNeed = vramRequirement(smaller, null, settings.maxModelLen, settings.server);
  let utilization = '';
  if (settings.server === 'vllm' && total !== null && utilizationBudgetMiB(settings.gpuMemoryUtilization, total) > free) {
    utilization = ` --gpu-memory-utilization ${largestUtilization(free, total).toFixed(2)}`;
  }
  return { fix: `use --model ${smaller.name}${utilization} (needs ${gibText(smallerNeed.requiredMiB)}, not ${gibText(need.requiredMiB)})`, model: smaller.name };
}
