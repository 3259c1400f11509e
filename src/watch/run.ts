/**
 * One watch on one machine: settings → the sampling loop (the GPU probe, through `host`) with
 * the optional load beside it → the checks in checks/watch/ → what the report shows. The
 * command (src/commands/watch.ts) runs it on this machine; the fleet (src/fleet/run.ts) on
 * each --host, with the host as executor.
 */
import { setMaxListeners } from 'node:events';
import type { Host } from '../exec.js';
import type { Settings } from '../settings.js';
import type { CheckResult } from '../types.js';
import { UsageError } from '../errors.js';
import { plural } from '../report/format.js';
import type { Progress } from '../report/progress.js';
import { judgeWatch } from '../../checks/watch/index.js';
import { driveLoad } from './load.js';
import { plannedSamples, sampleLoop } from './sample.js';
import { seconds } from './format.js';
import { LEAK_RULE, trendsOf, type Trends } from './trend.js';
import type { LoadStats, WatchSample } from './types.js';

export interface WatchRun {
  samples: WatchSample[];
  load: LoadStats | null;
  checks: CheckResult[];
  trends: Trends;
  /** Ctrl-C ended the watch before --duration. */
  endedEarly: boolean;
}

/** Bad --interval/--duration, or --url with several hosts: usage errors before anything is sampled. */
export function validateWatch(settings: Settings): void {
  const planned = plannedSamples(settings);
  if (planned < LEAK_RULE.minSamples) {
    throw new UsageError(
      `--interval ${seconds(settings.intervalMs)} and --duration ${seconds(settings.durationMs)} give ${plural(planned, 'sample')}; a trend needs at least ${LEAK_RULE.minSamples}: shorten --interval or lengthen --duration (e.g. --interval ${Math.max(0.1, Number((settings.durationMs / 1000 / (LEAK_RULE.minSamples * 2)).toFixed(1)))})`,
    );
  }
  if (settings.url !== null && settings.targets.length > 1) {
    throw new UsageError(
      `--url drives one server from this machine, but ${settings.targets.length} hosts are given (--host/--hosts): watch the host that serves --url alone (one --host), or leave --url out to watch every host without load`,
    );
  }
}

export async function watchOn(settings: Settings, host: Host, signal: AbortSignal, progress: Progress): Promise<WatchRun> {
  const loadController = new AbortController();
  // One signal is shared by every request of every round (concurrency x retries), by design.
  setMaxListeners(Math.max(64, settings.concurrency * 8), loadController.signal);
  const loadDone = settings.url ? driveLoad(settings, settings.url, loadController.signal, progress) : null;
  let samples: WatchSample[];
  try {
    samples = await sampleLoop(settings, host, signal, progress);
  } finally {
    loadController.abort();
  }
  const load = loadDone ? await loadDone.snapshot() : null;
  return { samples, load, checks: judgeWatch(samples, load, settings), trends: trendsOf(samples), endedEarly: signal.aborted };
}

/** The `watch` block of the JSON report (per host with --host). */
export function watchDocument(settings: Settings, run: WatchRun): Record<string, unknown> {
  return {
    intervalMs: settings.intervalMs,
    durationMs: settings.durationMs,
    gpu: settings.gpu,
    endedEarly: run.endedEarly,
    leakRule: LEAK_RULE,
    load: run.load,
    trends: {
      processes: [...run.trends.processes].map(([pid, trend]) => ({ pid, ...trend })),
      gpus: [...run.trends.gpus].map(([index, trend]) => ({ index, ...trend })),
    },
    samples: run.samples,
  };
}
