/**
 * The Qwen3Guard-Gen models the doctor knows, with the base Qwen3 architecture figures from
 * FACTS.md. The real config.json and shard sizes win whenever a model folder is given.
 */

export type ModelName = 'Qwen3Guard-Gen-0.6B' | 'Qwen3Guard-Gen-4B' | 'Qwen3Guard-Gen-8B';

export interface ModelSpec {
  name: ModelName;
  /** Decoder layers (config.json `num_hidden_layers`). */
  layers: number;
  /** KV heads (config.json `num_key_value_heads`). */
  kvHeads: number;
  /** config.json `head_dim`. */
  headDim: number;
  /** config.json `hidden_size`: with `layers`, tells the sizes apart (4B and 8B share 36 layers). */
  hiddenSize: number;
  /** bf16 weight bytes as published. */
  weightBytes: number;
  /** safetensors shards in the published folder (1 = a single model.safetensors). */
  shards: number;
  /**
   * A measured floor that wins over the formula when larger: the 8B web image OOMs on
   * 24 GB cards at the first request; the field requires 26 GiB free.
   */
  fieldFloorMiB?: number;
}

export const MODELS: readonly ModelSpec[] = [
  { name: 'Qwen3Guard-Gen-0.6B', layers: 28, kvHeads: 8, headDim: 128, hiddenSize: 1024, weightBytes: 1_503_238_553, shards: 1 },
  { name: 'Qwen3Guard-Gen-4B', layers: 36, kvHeads: 8, headDim: 128, hiddenSize: 2560, weightBytes: 8_044_936_192, shards: 3 },
  {
    name: 'Qwen3Guard-Gen-8B',
    layers: 36,
    kvHeads: 8,
    headDim: 128,
    hiddenSize: 4096,
    weightBytes: 16_381_516_776,
    shards: 5,
    fieldFloorMiB: 26 * 1024,
  },
];

export const MODEL_NAMES: readonly ModelName[] = MODELS.map((m) => m.name);
export const DEFAULT_MODEL: ModelName = 'Qwen3Guard-Gen-8B';

/** Any case in, canonical spec out; also accepts an `Qwen/` org prefix. */
export function findModel(input: string): ModelSpec | undefined {
  const wanted = input.trim().replace(/^qwen\//i, '').toLowerCase();
  return MODELS.find((m) => m.name.toLowerCase() === wanted);
}

/** KV cache bytes per token at bf16: 2 (K and V) x layers x KV heads x head_dim x 2 bytes. */
export function kvBytesPerToken(arch: { layers: number; kvHeads: number; headDim: number }): number {
  return 2 * arch.layers * arch.kvHeads * arch.headDim * 2;
}
