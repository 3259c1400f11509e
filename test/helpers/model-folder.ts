/**
 * Builds real Qwen3Guard-Gen model folders in temp dirs: the published config.json figures,
 * tokenizer files, a model.safetensors.index.json over N shards, and real (tiny) safetensors
 * shards: 8-byte little-endian header length, JSON header with dtype/shape/data_offsets
 * (padded with spaces to 8 bytes as the reference writer does), then the tensors' bytes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type SizeName = '0.6B' | '4B' | '8B';

/** config.json of Qwen3Guard-Gen as published (the Qwen3 base architecture). */
export function qwen3Config(size: SizeName): Record<string, unknown> {
  const figures = {
    '0.6B': { hidden_size: 1024, intermediate_size: 3072, num_attention_heads: 16, num_hidden_layers: 28, max_window_layers: 28, tie_word_embeddings: true },
    '4B': { hidden_size: 2560, intermediate_size: 9728, num_attention_heads: 32, num_hidden_layers: 36, max_window_layers: 36, tie_word_embeddings: true },
    '8B': { hidden_size: 4096, intermediate_size: 12288, num_attention_heads: 32, num_hidden_layers: 36, max_window_layers: 36, tie_word_embeddings: false },
  }[size];
  return {
    architectures: ['Qwen3ForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: 151643,
    eos_token_id: 151645,
    head_dim: 128,
    hidden_act: 'silu',
    initializer_range: 0.02,
    max_position_embeddings: 40960,
    model_type: 'qwen3',
    num_key_value_heads: 8,
    rms_norm_eps: 1e-6,
    rope_scaling: null,
    rope_theta: 1000000,
    sliding_window: null,
    torch_dtype: 'bfloat16',
    transformers_version: '4.51.0',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: 151936,
    ...figures,
  };
}

export interface TensorSpec {
  name: string;
  dtype: 'BF16' | 'F16' | 'F32';
  shape: number[];
}

const DTYPE_BYTES = { BF16: 2, F16: 2, F32: 4 } as const;

/** The bytes of a real safetensors file holding these tensors (filled with a fixed pattern). */
export function safetensorsFile(tensors: TensorSpec[]): { bytes: Buffer; dataBytes: number } {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  const data = Buffer.alloc(offset);
  for (let i = 0; i < offset; i++) data[i] = (i * 31 + 7) & 0xff;
  return { bytes: Buffer.concat([length, headerBytes, data]), dataBytes: offset };
}

export const LFS_POINTER_TEXT = (oid: string, size: number) => `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`;

export interface ModelFolderOptions {
  size?: SizeName;
  /** Number of shards; 0 writes a single model.safetensors without an index. Default 3. */
  shards?: number;
  tokenizer?: 'fast' | 'bpe' | 'none';
  /** Override config.json (an object, or raw text). */
  config?: Record<string, unknown> | string | null;
}

export interface BuiltModel {
  dir: string;
  shardNames: string[];
  totalSize: number;
}

/** Writes a complete model folder at `dir` (created if needed). */
export async function writeModelFolder(dir: string, options: ModelFolderOptions = {}): Promise<BuiltModel> {
  const size = options.size ?? '8B';
  const shardCount = options.shards ?? 3;
  await mkdir(dir, { recursive: true });
  const config = options.config === undefined ? qwen3Config(size) : options.config;
  if (config !== null) await writeFile(path.join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  await writeFile(path.join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 151643, eos_token_id: [151645, 151643], do_sample: false }));

  const tokenizer = options.tokenizer ?? 'fast';
  if (tokenizer !== 'none') {
    await writeFile(
      path.join(dir, 'tokenizer_config.json'),
      JSON.stringify({ tokenizer_class: 'Qwen2Tokenizer', model_max_length: 131072, chat_template: "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}" }),
    );
    if (tokenizer === 'fast') {
      await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] } }));
    } else {
      await writeFile(path.join(dir, 'vocab.json'), JSON.stringify({ a: 0, b: 1, ab: 2 }));
      await writeFile(path.join(dir, 'merges.txt'), '#version: 0.2\na b\n');
    }
  }

  if (shardCount === 0) {
    const { bytes, dataBytes } = safetensorsFile(layerTensors(0, 2));
    await writeFile(path.join(dir, 'model.safetensors'), bytes);
    return { dir, shardNames: ['model.safetensors'], totalSize: dataBytes };
  }
  const shardNames: string[] = [];
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let i = 1; i <= shardCount; i++) {
    const name = `model-${String(i).padStart(5, '0')}-of-${String(shardCount).padStart(5, '0')}.safetensors`;
    const tensors = layerTensors(i - 1, 2);
    const { bytes, dataBytes } = safetensorsFile(tensors);
    await writeFile(path.join(dir, name), bytes);
    for (const t of tensors) weightMap[t.name] = name;
    shardNames.push(name);
    totalSize += dataBytes;
  }
  await writeFile(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2));
  return { dir, shardNames, totalSize };
}

/** A few tensors named like a Qwen3 layer's (tiny shapes). */
function layerTensors(layer: number, count: number): TensorSpec[] {
  const names = ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'mlp.up_proj.weight', 'input_layernorm.weight'];
  return names.slice(0, count + 1).map((n, i) => ({ name: `model.layers.${layer}.${n}`, dtype: 'BF16', shape: i === count ? [64] : [16, 8 + layer] }));
}

const madeDirs: string[] = [];

/** A fresh temp dir, removed by removeTempDirs() (call it in afterAll). */
export async function tempDir(prefix = 'gd-model-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(madeDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}
