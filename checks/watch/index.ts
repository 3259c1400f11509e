/**
 * The `watch` checks, in the order its report prints them: sampling, the load (with --url),
 * then memory per process and per GPU. Pure: they judge the samples and the load figures
 * that src/watch/ gathered, and do no I/O.
 */
import type { Settings } from '../../src/settings.js';
import type { CheckResult } from '../../src/types.js';
import type { LoadStats, WatchSample } from '../../src/watch/types.js';
import { judgeLoad, underSteadyLoad, watchLoad } from './load.js';
import { judgeMemory, watchGpu, watchProcess, watchProcesses } from './memory.js';
import { judgeSampling, samplingFailure, watchSampling } from './sampling.js';

export { judgeLoad, judgeMemory, judgeSampling, samplingFailure, underSteadyLoad };

/** Every watch check id with its title, for checks/index.ts's table. */
export const WATCH_CHECKS = [watchSampling, watchLoad, watchProcesses, watchProcess, watchGpu] as const;

export function judgeWatch(samples: readonly WatchSample[], load: LoadStats | null, settings: Pick<Settings, 'intervalMs' | 'durationMs'>): CheckResult[] {
  const sampling = judgeSampling(samples, settings);
  // With nothing to judge, the one cause is the sampling's; no echo of it per process or GPU.
  if (samplingFailure(samples) || samples.length === 0) return [sampling];
  return [sampling, ...(load ? [judgeLoad(load, settings)] : []), ...judgeMemory(samples, underSteadyLoad(load))];
}
