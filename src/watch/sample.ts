/**
 * The sampling loop of `watch`: one GPU-probe sample (src/probes/nvidia-sample.ts sampleGpuMemory)
 * every --interval for --duration, on this machine or a host over SSH, until the duration
 * is over, the host's state makes later samples pointless, or `signal` aborts (Ctrl-C).
 */
import { sampleGpuMemory, SAMPLE_FIELDS, type GpuMemorySample } from '../probes/nvidia-sample.js';
import type { Host } from '../exec.js';
import type { Settings } from '../settings.js';
import type { Progress } from '../report/progress.js';
import { sleep } from '../timing.js';
import { LASTING_PROBLEMS, type WatchSample } from './types.js';

/** The probe's sample as the report keeps it: only the --gpu asked for, and a --gpu the host lacks said so. */
export function toWatchSample(tMs: number, sample: GpuMemorySample, gpu: number | null): WatchSample {
  if (!sample.ok) return { tMs, gpus: [], processes: [], error: sample.message, errorKind: sample.kind };
  const chosen = gpu === null ? sample.gpus : sample.gpus.filter((g) => g.index === gpu);
  if (gpu !== null && chosen.length === 0 && sample.gpus.length > 0) {
    return { tMs, gpus: [], processes: [], error: `there is no GPU ${gpu} on this host (nvidia-smi lists ${sample.gpus.map((g) => g.index).join(', ')})`, errorKind: 'no-such-gpu' };
  }
  const uuids = new Set(chosen.map((g) => g.uuid));
  // A process whose GPU nvidia-smi does not name, or a chosen GPU without a uuid, keeps the process: it may be on the chosen one.
  const processes = sample.processes.filter((p) => gpu === null || p.gpuUuid === null || uuids.has(null) || uuids.has(p.gpuUuid));
  return {
    tMs,
    gpus: chosen.map((g) => ({ index: g.index, usedMiB: g.usedMiB, ...(g.migEnabled ? { mig: true as const } : {}) })),
    processes: processes.map((p) => ({ pid: p.pid, usedMiB: p.usedMiB })),
    ...(sample.lostGpus.length > 0 ? { lostGpus: sample.lostGpus.map((l) => l.line) } : {}),
  };
}

export function describeSample(sample: WatchSample): string {
  if (sample.error) return sample.error;
  const gpus = sample.gpus.map((g) => `GPU ${g.index} ${g.usedMiB ?? '?'} MiB`);
  const apps = sample.processes.map((p) => `pid ${p.pid} ${p.usedMiB ?? '?'} MiB`);
  return [...gpus, ...apps].join(', ') || 'no GPU figures';
}

export function plannedSamples(settings: Pick<Settings, 'durationMs' | 'intervalMs'>): number {
  return Math.floor(settings.durationMs / settings.intervalMs) + 1;
}

export async function sampleLoop(settings: Settings, host: Host, signal: AbortSignal, progress: Progress): Promise<WatchSample[]> {
  const samples: WatchSample[] = [];
  const started = performance.now();
  const expected = plannedSamples(settings);
  let fields: readonly string[] = SAMPLE_FIELDS;
  // The planned samples are taken even when nvidia-smi is slower than the interval (they then
  // follow each other at once), but never past the duration plus one probe time limit.
  const hardStop = started + settings.durationMs + settings.probeTimeoutMs;
  for (let k = 0; !signal.aborted; k++) {
    const due = started + k * settings.intervalMs;
    if (due - started > settings.durationMs || performance.now() > hardStop) break;
    await sleep(due - performance.now(), signal);
    if (signal.aborted) break;
    const tMs = Math.round(performance.now() - started);
    const taken = await sampleGpuMemory(settings, host, fields);
    fields = taken.fields;
    const sample = toWatchSample(tMs, taken, settings.gpu);
    samples.push(sample);
    if (sample.errorKind && LASTING_PROBLEMS.has(sample.errorKind)) break;
    progress.update(`sample ${samples.length}/${expected}: ${describeSample(sample)}`);
  }
  return samples;
}
