/**
 * How much GPU memory a model needs to be served: weights + KV cache for one sequence of
 * `--max-model-len` tokens + the runtime's own use + a safety margin. Figures come from the
 * model folder's config.json and shard sizes when a folder is given, else from src/data/models.ts.
 */
import { MODELS, kvBytesPerToken, type ModelSpec } from './data/models.js';
import type { ServerKind } from './types.js';

const MiB = 1024 * 1024;

/**
 * CUDA context, cuBLAS workspaces, the activation peak of the first forward pass and (vLLM)
 * CUDA graphs: about 2 GiB for these model sizes in vLLM's own memory profile.
 */
export const RUNTIME_OVERHEAD_MIB = 2048;
/** Head-room against fragmentation and other processes' growth. */
export const SAFETY_MARGIN_MIB = 2048;
/**
 * The context the field floor of models.ts was measured at (the servers' default). Below it,
 * the formula alone decides, so a shorter context can be a way out on a smaller card.
 */
export const FIELD_FLOOR_CONTEXT = 32768;
/** A context shorter than this cannot hold a guard prompt plus a long message worth judging. */
export const MIN_USEFUL_MODEL_LEN = 1024;

/** The model folder figures this module reads (ModelFolderFacts from src/probes/model.ts has them). */
export interface ModelFolderFigures {
  configJson: Record<string, unknown> | null;
  weightBytes: number | null;
}

export interface ModelFigures {
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Bytes the weights take in GPU memory. */
  weightBytes: number;
  /** Where the architecture and the weights' size came from. */
  archSource: 'config.json' | 'built-in';
  weightSource: 'model folder' | 'built-in';
  notes: string[];
}

function positiveInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

/** The real config.json and shard sizes win; any figure missing there falls back to the built-in one. */
export function modelFigures(spec: ModelSpec, folder: ModelFolderFigures | null | undefined): ModelFigures {
  const notes: string[] = [];
  const config = folder?.configJson ?? null;
  let layers = spec.layers;
  let kvHeads = spec.kvHeads;
  let headDim = spec.headDim;
  let archSource: ModelFigures['archSource'] = 'built-in';
  if (config) {
    const cfgLayers = positiveInt(config.num_hidden_layers);
    const attentionHeads = positiveInt(config.num_attention_heads);
    const cfgKvHeads = positiveInt(config.num_key_value_heads) ?? attentionHeads;
    const hidden = positiveInt(config.hidden_size);
    const cfgHeadDim = positiveInt(config.head_dim) ?? (hidden && attentionHeads && hidden % attentionHeads === 0 ? hidden / attentionHeads : null);
    if (cfgLayers && cfgKvHeads && cfgHeadDim) {
      layers = cfgLayers;
      kvHeads = cfgKvHeads;
      headDim = cfgHeadDim;
      archSource = 'config.json';
    } else {
      notes.push('config.json lacks num_hidden_layers / num_key_value_heads / head_dim; using the built-in figures');
    }
  }
  let weightBytes = spec.weightBytes;
  let weightSource: ModelFigures['weightSource'] = 'built-in';
  if (folder && typeof folder.weightBytes === 'number' && folder.weightBytes > 0) {
    weightBytes = folder.weightBytes;
    weightSource = 'model folder';
    // Servers load float32 checkpoints as 16-bit ("auto" dtype), so they take half on the GPU.
    if (config && config.torch_dtype === 'float32') {
      weightBytes = Math.round(weightBytes / 2);
      notes.push('config.json says float32; the server loads it as 16-bit, half the size on disk');
    }
  }
  return { layers, kvHeads, headDim, weightBytes, archSource, weightSource, notes };
}

export interface VramRequirement {
  model: string;
  maxModelLen: number;
  kvBytesPerToken: number;
  weightsMiB: number;
  kvCacheMiB: number;
  runtimeMiB: number;
  marginMiB: number;
  /** weights + KV + runtime + margin */
  formulaMiB: number;
  /** The field floor, when it applies at this context and server. */
  floorMiB: number | null;
  /** What the check compares against: the larger of the formula and the floor. */
  requiredMiB: number;
  figures: ModelFigures;
}

/**
 * The memory to serve `spec` at `maxModelLen`. The field floor (8B: 26 GiB, from OOMs seen on
 * 24 GB cards) applies to the web image, which has a fixed context, and to vLLM at the default
 * context or longer, where it was measured.
 */
export function vramRequirement(spec: ModelSpec, folder: ModelFolderFigures | null | undefined, maxModelLen: number, server: ServerKind): VramRequirement {
  const figures = modelFigures(spec, folder);
  const perToken = kvBytesPerToken(figures);
  const weightsMiB = Math.ceil(figures.weightBytes / MiB);
  const kvCacheMiB = Math.ceil((perToken * maxModelLen) / MiB);
  const formulaMiB = weightsMiB + kvCacheMiB + RUNTIME_OVERHEAD_MIB + SAFETY_MARGIN_MIB;
  const floorApplies = spec.fieldFloorMiB !== undefined && (server === 'web' || maxModelLen >= FIELD_FLOOR_CONTEXT);
  const floorMiB = floorApplies ? spec.fieldFloorMiB! : null;
  return {
    model: spec.name,
    maxModelLen,
    kvBytesPerToken: perToken,
    weightsMiB,
    kvCacheMiB,
    runtimeMiB: RUNTIME_OVERHEAD_MIB,
    marginMiB: SAFETY_MARGIN_MIB,
    formulaMiB,
    floorMiB,
    requiredMiB: Math.max(formulaMiB, floorMiB ?? 0),
    figures,
  };
}

/**
 * The longest `--max-model-len` whose requirement fits in `budgetMiB`, rounded down to a
 * multiple of 1024 (what people type), capped at `upTo`; null when not even
 * MIN_USEFUL_MODEL_LEN fits. Only vLLM takes the option.
 */
export function largestFittingModelLen(
  spec: ModelSpec,
  folder: ModelFolderFigures | null | undefined,
  budgetMiB: number,
  upTo: number,
): number | null {
  const fits = (len: number) => vramRequirement(spec, folder, len, 'vllm').requiredMiB <= budgetMiB;
  if (!fits(MIN_USEFUL_MODEL_LEN)) return null;
  // The requirement grows with the length, so the answer is the edge of a binary search.
  let low = MIN_USEFUL_MODEL_LEN;
  let high = Math.max(upTo, MIN_USEFUL_MODEL_LEN);
  if (fits(high)) return high;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid;
  }
  return Math.max(MIN_USEFUL_MODEL_LEN, Math.floor(low / 1024) * 1024);
}

/** The largest `--gpu-memory-utilization` vLLM accepts with this much free: free/total, rounded down to 0.01. */
export function largestUtilization(freeMiB: number, totalMiB: number): number {
  if (!(totalMiB > 0) || !(freeMiB > 0)) return 0;
  // Integer hundredths avoid 0.9 * 100 = 89.99999 style rounding losses.
  const hundredths = Math.floor((Math.min(freeMiB, totalMiB) * 100) / totalMiB + 1e-9);
  return Math.min(100, hundredths) / 100;
}

/** The memory vLLM may use at this utilization: what it sizes weights + KV cache into. */
export function utilizationBudgetMiB(utilization: number, totalMiB: number): number {
  return Math.floor(utilization * totalMiB);
}

/** Smaller models than `spec`, largest first, that fit `budgetMiB` at `maxModelLen` with built-in figures. */
export function smallerModelsThatFit(spec: ModelSpec, budgetMiB: number, maxModelLen: number, server: ServerKind): ModelSpec[] {
  return MODELS.filter((m) => m.weightBytes < spec.weightBytes)
    .sort((a, b) => b.weightBytes - a.weightBytes)
    .filter((m) => vramRequirement(m, null, maxModelLen, server).requiredMiB <= budgetMiB);
}
