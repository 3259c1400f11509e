/**
 * watch.processes, watch.process.<pid>, watch.gpu.<index>: does memory keep rising, per
 * compute process and per GPU? The trend rule is src/watch/trend.ts; here it becomes a
 * verdict: rising is a warning (a leak under steady load, a hint otherwise), steady and
 * falling pass, too few readable samples is a skip that says how many were needed.
 */
import { checkResult } from '../../src/judge.js';
import { plural } from '../../src/report/format.js';
import type { CheckResult } from '../../src/types.js';
import { LEAK_RULE, trendsOf, type Trend } from '../../src/watch/trend.js';
import type { WatchSample } from '../../src/watch/types.js';

export const watchProcesses = { id: 'watch.processes', title: 'GPU memory per process' } as const;
/** One per compute process seen; `<pid>` is filled in at run time. */
export const watchProcess = { id: 'watch.process.<pid>', title: 'GPU memory of process <pid>' } as const;
/** One per GPU watched; `<index>` is filled in at run time. */
export const watchGpu = { id: 'watch.gpu.<index>', title: 'Used memory of GPU <index>' } as const;

export function judgeTrend(id: string, title: string, who: string, trend: Trend, underLoad: boolean): CheckResult {
  const measured = { ...trend };
  const rate = trend.slopeMiBPerMin === null ? '?' : `${trend.slopeMiBPerMin >= 0 ? '+' : ''}${trend.slopeMiBPerMin} MiB/min`;
  const span = `${trend.firstMiB} -> ${trend.lastMiB} MiB`;
  switch (trend.verdict) {
    case 'too few samples':
      return checkResult(id, title, 'skip', `${who}: only ${plural(trend.samples, 'sample')} (${LEAK_RULE.minSamples} needed to judge a trend)`, { measured });
    case 'rising':
      return checkResult(id, title, 'warn', `${who} keeps rising: ${span}, ${rate} (${trend.nonDecreasingSteps} of ${trend.steps} steps up or level)${underLoad ? ' under steady load' : ''}`, {
        measured,
        fix: underLoad
          ? 'memory that grows under a steady load is a leak (KV cache or tensors kept per request): watch longer (--duration 1800) to confirm, then find what holds memory per request, or restart the server on a schedule until it is fixed'
          : 'watch again under steady load (--url drives the suite in a loop) to tell a leak from a growing workload',
      });
    case 'falling':
      return checkResult(id, title, 'pass', `${who} fell: ${span}, ${rate}`, { measured });
    default:
      return checkResult(id, title, 'pass', `${who} steady: ${span}, ${rate}`, { measured });
  }
}

/** The memory verdicts over the readable samples: per process (or why there are none), then per GPU. */
export function judgeMemory(samples: readonly WatchSample[], underLoad: boolean): CheckResult[] {
  const good = samples.filter((s) => !s.error);
  const trends = trendsOf(good);
  const checks: CheckResult[] = [];
  if (trends.processes.size === 0) {
    const na = good.some((s) => s.processes.some((p) => p.usedMiB === null));
    checks.push(
      checkResult(
        watchProcesses.id,
        watchProcesses.title,
        'skip',
        na ? 'nvidia-smi reports no per-process memory here ([N/A], usual inside containers); judged per GPU instead' : 'no compute process on the GPU during the watch',
      ),
    );
  }
  for (const [pid, trend] of trends.processes) checks.push(judgeTrend(`watch.process.${pid}`, `GPU memory of process ${pid}`, `pid ${pid}`, trend, underLoad));
  for (const [index, trend] of trends.gpus) {
    const mig = good.some((s) => s.gpus.some((g) => g.index === index && g.mig));
    checks.push(judgeTrend(`watch.gpu.${index}`, `Used memory of GPU ${index}`, `GPU ${index}${mig ? ' (MIG on: every instance together)' : ''}`, trend, underLoad));
  }
  return checks;
}
