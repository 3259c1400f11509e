/**
 * One memory sample of `watch`: per-process and per-GPU memory, read with the GPU probe's own
 * query and fallbacks (src/probes/nvidia.ts), on this machine or a host over SSH.
 */
import type { LostGpu } from '../facts.js';
import type { Settings } from '../settings.js';
import { describeFailure, localHost, type ExecResult, type Host } from '../exec.js';
import { NO_DEVICES, NVIDIA_SMI, NVML_MISMATCH, askGpuQuery, explainingLines, firstLines, isNoDriver, outputOf, parseComputeApps, parseGpuQuery, type ComputeApp } from './nvidia.js';

/**
 * What one `watch` sample asks --query-gpu for. Every driver knows these but mig.mode.current
 * (450 and later), which the fallback below drops; compute_cap is not asked, so the 470 series'
 * rejection of it costs no second call.
 */
export const SAMPLE_FIELDS: readonly string[] = ['index', 'uuid', 'memory.used', 'memory.total', 'mig.mode.current'];
/** What one `watch` sample asks --query-compute-apps for (every driver knows these). */
export const SAMPLE_APP_FIELDS: readonly string[] = ['pid', 'used_memory', 'gpu_uuid'];

/** One GPU's memory in a sample. */
export interface GpuMemoryReading {
  index: number;
  uuid: string | null;
  usedMiB: number | null;
  totalMiB: number | null;
  /** MIG on: the figures are the whole GPU's, every instance together. */
  migEnabled: boolean | null;
}

/** Why a sample has no figures; the first four are the host's state, the others a sample's bad luck. */
export type MemorySampleProblem = 'no-nvidia-smi' | 'no-driver' | 'nvml-mismatch' | 'no-devices' | 'timeout' | 'failed' | 'unreadable';

export type GpuMemorySample =
  | { ok: true; gpus: GpuMemoryReading[]; processes: ComputeApp[]; lostGpus: LostGpu[]; fields: readonly string[]; smiCalls: number }
  | { ok: false; kind: MemorySampleProblem; message: string; fields: readonly string[]; smiCalls: number };

/**
 * One sample of GPU memory per GPU and per compute process, on `host`, for `watch`: two
 * nvidia-smi calls at once (compute apps, and the GPU query with the probe's fallback for
 * rejected fields), both under one --probe-timeout budget. `fields` are the ones the previous
 * sample ended with, so a rejected field costs its second call once per watch, not per sample.
 * The failures read as the GPU probe reads them; the result never throws.
 */
export async function sampleGpuMemory(settings: Pick<Settings, 'probeTimeoutMs'>, host: Host = localHost, fields: readonly string[] = SAMPLE_FIELDS): Promise<GpuMemorySample> {
  const deadline = performance.now() + settings.probeTimeoutMs;
  const left = () => Math.max(1, Math.round(deadline - performance.now()));
  let calls = 0;
  const smi = (args: string[]) => {
    calls += 1;
    return host.run(NVIDIA_SMI, args, { timeoutMs: left(), maxBuffer: 4 * 1024 * 1024 });
  };
  // Every GPU's processes, each with its GPU's uuid: `-i` would make a missing --gpu an error
  // of this call instead of a list of the GPUs there are.
  const [apps, asked] = await Promise.all([smi([`--query-compute-apps=${SAMPLE_APP_FIELDS.join(',')}`, '--format=csv,noheader,nounits']), askGpuQuery(smi, fields)]);
  const problem = (kind: MemorySampleProblem, message: string): GpuMemorySample => ({ ok: false, kind, message, fields: asked.fields, smiCalls: calls });
  const limit = `${Number((settings.probeTimeoutMs / 1000).toFixed(2))} s`;
  const failureOf = (result: ExecResult, what: string): GpuMemorySample | null => {
    if (result.notFound || result.exitCode === 127) return problem('no-nvidia-smi', 'nvidia-smi is not on PATH (the NVIDIA driver is not installed, or its tools are not on PATH)');
    if (result.timedOut) return problem('timeout', `nvidia-smi did not answer within ${limit}`);
    const text = outputOf(result);
    if (NVML_MISMATCH.test(text)) return problem('nvml-mismatch', explainingLines(text));
    if (isNoDriver(result)) return problem('no-driver', firstLines(text) || describeFailure(result, settings.probeTimeoutMs));
    if (NO_DEVICES.test(text)) return problem('no-devices', `${explainingLines(text, 1)}${result.exitCode ? ` (nvidia-smi exit ${result.exitCode})` : ''}`);
    if (result.exitCode !== 0 && what === 'apps') return problem('failed', `nvidia-smi --query-compute-apps: ${describeFailure(result, settings.probeTimeoutMs)}`);
    return null;
  };
  const gpuProblem = failureOf(asked.result, 'gpus');
  if (gpuProblem) return gpuProblem;
  const parsed = parseGpuQuery(asked.result.stdout, asked.fields);
  parsed.lostGpus.push(...parseGpuQuery(asked.result.stderr, asked.fields).lostGpus);
  if (parsed.gpus.length === 0 && parsed.lostGpus.length === 0) {
    const text = outputOf(asked.result);
    return asked.result.exitCode !== 0
      ? problem('failed', `nvidia-smi --query-gpu exited with code ${asked.result.exitCode}: ${explainingLines(text) || describeFailure(asked.result, settings.probeTimeoutMs)}`)
      : problem('unreadable', `nvidia-smi answered something unexpected to --query-gpu: ${firstLines(text) || '(nothing)'}`);
  }
  // A GPU query that listed the GPUs is the better witness of the host; the apps query fails on its own only by bad luck.
  const appsProblem = failureOf(apps, 'apps');
  if (appsProblem) return appsProblem;
  return {
    ok: true,
    gpus: parsed.gpus
      .sort((a, b) => a.index - b.index)
      .map((g) => ({ index: g.index, uuid: g.uuid, usedMiB: g.memoryUsedMiB, totalMiB: g.memoryTotalMiB, migEnabled: g.migEnabled ?? null })),
    processes: parseComputeApps(apps.stdout, SAMPLE_APP_FIELDS),
    lostGpus: parsed.lostGpus,
    fields: asked.fields,
    smiCalls: calls,
  };
}
