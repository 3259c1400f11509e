/**
 * The metrics each kind of guard server should expose, as data. `metrics` fails for a missing
 * one (or one of the wrong type or without its labels); extra metrics are fine.
 */
import type { MetricType } from './parse.js';
import type { ServerKind } from '../types.js';

export interface ExpectedMetric {
  /** The family name as it appears in `# TYPE` (a counter may also be declared without `_total`). */
  name: string;
  /** Older or newer names that count as the same metric. */
  alternatives?: readonly string[];
  type: MetricType;
  /** Labels every series must carry. */
  labels?: readonly string[];
  /** What an operator loses without it: the reason in the failure line. */
  purpose: string;
}

export const EXPECTED_METRICS: Record<ServerKind, readonly ExpectedMetric[]> = {
  // The web image's FastAPI app, usually on its own port (e.g. 8000).
  web: [
    { name: 'qwen_guard_request_total', type: 'counter', labels: ['method', 'result'], purpose: 'request rate and the share of unsafe verdicts' },
    { name: 'qwen_guard_request_duration_seconds', type: 'histogram', purpose: 'latency percentiles across replicas' },
    { name: 'qwen_guard_active_requests', type: 'gauge', purpose: 'saturation (requests in flight)' },
    { name: 'qwen_guard_gpu_memory_usage_bytes', type: 'gauge', labels: ['device'], purpose: 'GPU memory per device (the leak that kills a guard after hours)' },
  ],
  // vLLM's own /metrics on the API port.
  vllm: [
    { name: 'vllm:num_requests_running', type: 'gauge', purpose: 'requests in the running batch' },
    { name: 'vllm:num_requests_waiting', type: 'gauge', purpose: 'queue depth (overload)' },
    { name: 'vllm:e2e_request_latency_seconds', type: 'histogram', purpose: 'end-to-end latency percentiles' },
    {
      name: 'vllm:kv_cache_usage_perc',
      // vLLM releases before the V1 engine named it after the GPU cache.
      alternatives: ['vllm:gpu_cache_usage_perc'],
      type: 'gauge',
      purpose: 'KV cache pressure (preemptions follow when it nears 1)',
    },
  ],
};

/**
 * The counter that reconciliation compares with what the suite sent, and the label that
 * carries the verdict (null when the server's metrics have none, as with vLLM).
 */
export interface RequestCounter {
  name: string;
  resultLabel: string | null;
  /** Which requests it counts, for messages. */
  counts: string;
}

export const REQUEST_COUNTERS: Record<ServerKind, RequestCounter> = {
  web: { name: 'qwen_guard_request_total', resultLabel: 'result', counts: 'every request to the app' },
  // vLLM counts a request when it finishes (any finished_reason); rejected requests are not counted.
  vllm: { name: 'vllm:request_success_total', resultLabel: null, counts: 'requests that finished' },
};

/** The family names a counter may be declared under: `x_total`, or `x` with `x_total` samples. */
export function familyNames(name: string): string[] {
  return name.endsWith('_total') ? [name, name.slice(0, -'_total'.length)] : [name];
}
