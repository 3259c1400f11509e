/**
 * What serving needs from the host (not the GPU). vLLM reads the safetensors shards through
 * host memory (mmap, then copies to the GPU), so the weights pass through RAM while loading;
 * a container the kernel kills for it shows exit code 137 and `OOMKilled: true`.
 */

const GiB = 1024 ** 3;

/** The server process beside the weights: Python, torch, the CUDA context, the tokenizer. */
export const SERVER_PROCESS_BYTES = 2 * GiB;

/**
 * On CPU the weights stay in RAM and the KV cache lives there too; vLLM's CPU backend
 * reserves VLLM_CPU_KVCACHE_SPACE (default 4 GiB) for it.
 */
export const CPU_KV_CACHE_BYTES = 4 * GiB;

/** Below this much free disk where the model lives, downloads, caches and logs start failing. */
export const LOW_DISK_BYTES = 2 * GiB;

/** Host RAM that loading (and, on CPU, serving) a model of `weightBytes` needs. */
export function requiredHostBytes(weightBytes: number, cpu: boolean): number {
  return weightBytes + SERVER_PROCESS_BYTES + (cpu ? CPU_KV_CACHE_BYTES : 0);
}
