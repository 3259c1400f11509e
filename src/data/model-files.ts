/**
 * What a servable Qwen3Guard-Gen model folder holds, as published on Hugging Face, and the
 * on-disk signatures the model probe recognises. One place for these facts; the probe
 * reads folders with them and the model checks judge with them.
 */

export const CONFIG_FILE = 'config.json';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';
export const SAFETENSORS_SUFFIX = '.safetensors';
/** Older PyTorch checkpoints; vLLM loads them too, but the doctor cannot verify them. */
export const PYTORCH_WEIGHTS_PATTERN = /^pytorch_model(-\d+-of-\d+)?\.bin$/;

/**
 * The tokenizer: `tokenizer_config.json` carries the chat template that wraps a request in
 * the guard instruction, so it is always needed; the vocabulary comes either as the fast
 * tokenizer (`tokenizer.json`) or as the BPE pair `vocab.json` + `merges.txt`.
 */
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const FAST_TOKENIZER_FILE = 'tokenizer.json';
export const BPE_VOCAB_FILES = ['vocab.json', 'merges.txt'] as const;

/** A Git LFS pointer is a small text file left where the real file was never fetched. */
export const LFS_POINTER_PREFIX = 'version https://git-lfs';
/** Real pointers are about 130 bytes; anything bigger is content. */
export const LFS_POINTER_MAX_BYTES = 1024;

/**
 * safetensors layout: an 8-byte little-endian header length N, N bytes of JSON header
 * ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the
 * tensors' bytes back to back. The index's `metadata.total_size` is the sum of those bytes.
 */
export const SAFETENSORS_HEADER_LENGTH_BYTES = 8;
/** The format's own limit on the JSON header (safetensors refuses bigger ones). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** The architecture vLLM serves Qwen3Guard-Gen with (config.json). */
export const QWEN3_CAUSAL_LM = { architecture: 'Qwen3ForCausalLM', modelType: 'qwen3' } as const;
