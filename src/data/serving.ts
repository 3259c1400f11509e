/**
 * The oldest serving software that runs Qwen3Guard-Gen, each with its source. The doctor names
 * this floor wherever it names a vLLM version (the --image help, the too-old-image diagnosis).
 */
import type { ServerKind } from '../types.js';

export interface ServingFloor {
  /** The oldest release that serves Qwen3Guard-Gen. */
  minimum: string;
  source: string;
}

const QWEN3GUARD_README = 'https://github.com/QwenLM/Qwen3Guard/blob/019b2e3b4255b717c00f4746395939bede1f9050/README.md, "Deployment with SGLang and vLLM": "you can use `sglang>=0.4.6.post1` or `vllm>=0.9.0`"';

export const SERVING_FLOORS = {
  vllm: { minimum: '0.9.0', source: QWEN3GUARD_README },
  sglang: { minimum: '0.4.6.post1', source: QWEN3GUARD_README },
} as const satisfies Record<string, ServingFloor>;

/** "vLLM 0.9.0 or later (the minimum for Qwen3Guard)", for messages. */
export const VLLM_FLOOR_TEXT = `vLLM ${SERVING_FLOORS.vllm.minimum} or later (the minimum for Qwen3Guard)`;

/** The port each way of serving listens on when told nothing, with where that is stated. */
export const DEFAULT_PORT: Record<ServerKind, number> = { vllm: 8000, web: 7860 };
export const DEFAULT_PORT_SOURCES: Record<ServerKind, string> = {
  vllm: 'https://www.mintlify.com/vllm-project/vllm/api/cli/serve, "Server configuration": "--port integer default:\"8000\" Port number for the server"; also CONTRACT.md --server',
  web: 'CONTRACT.md, --server: "web = the Qwen3Guard-Gen web image (port 7860, POST /judge ...)"',
};

/**
 * What the doctor starts vLLM with when told nothing (CONTRACT.md: --gpu-memory-utilization,
 * --max-model-len), and judges gpu.vram by: vLLM's own default, and the context vLLM's
 * Qwen3Guard-Gen recipe serves the model with.
 */
export const SERVE_DEFAULTS = {
  gpuMemoryUtilization: {
    value: 0.9,
    source:
      'https://github.com/vllm-project/vllm/blob/c1d86421174a87056edc90a41dc9942391509e84/vllm/config/cache.py, CacheConfig: "gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)"',
  },
  maxModelLen: {
    value: 32768,
    source: 'https://github.com/vllm-project/recipes/blob/c94b0410a8c2ce2678f99dfb9516db8b0c7d2264/Qwen/Qwen3Guard-Gen.md, "Running Qwen3Guard-Gen on a Single GPU": "--max-model-len 32768"',
  },
} as const;
