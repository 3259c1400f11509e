/**
 * `guard-doctor watch`: sample GPU memory per process and per GPU every `--interval` for
 * `--duration`, optionally while driving the suite in a loop against `--url` (steady load),
 * then fit a trend per process and per GPU and warn where memory keeps rising (a KV-cache or
 * tensor leak is what kills a guard after hours). Ctrl-C ends the watch early and still
 * reports; a second Ctrl-C quits at once.
 *
 * Each sample runs `nvidia-smi --query-compute-apps=pid,used_memory` and the GPU query of the
 * GPU probe, both through run() with `--probe-timeout`, and reads them with the GPU probe's
 * parsers (src/probes/nvidia.ts).
 */
import { setMaxListeners } from 'node:events';
import { run as exec, describeFailure, type ExecResult } from '../exec.js';
import { NVIDIA_SMI, QUERY_FIELDS, QUERY_FIELDS_NO_CC, isNoDriver, parseComputeApps, parseGpuQuery, queryGpuArgs, rejectsComputeCap } from '../probes/nvidia.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { createProgress, type Progress } from '../report/progress.js';
import { paint } from '../report/style.js';
import { padEnd, plural } from '../report/format.js';
import { fitTrend, LEAK_RULE, type MemoryPoint, type Trend } from '../watch/trend.js';
import { UsageError, errorMessage } from '../errors.js';
import { sleep } from '../timing.js';
import type { Settings } from '../settings.js';
import { checkResult as check } from '../judge.js';
import type { CheckResult, Report, Status } from '../types.js';

export interface WatchSample {
  /** Milliseconds since the watch started. */
  tMs: number;
  gpus: Array<{ index: number; usedMiB: number | null }>;
  processes: Array<{ pid: number; usedMiB: number | null }>;
  /** Why this sample has no figures (nvidia-smi failed), when it has none. */
  error?: string;
}

interface SamplingFailure {
  kind: 'not-installed' | 'no-driver' | 'no-such-gpu' | 'timeout' | 'failed';
  message: string;
}

interface LoadStats {
  url: string;
  rounds: number;
  cases: number;
  requestsSent: number;
  notPassing: number;
  errors: number;
  /** Why driving the load stopped, when it did. */
  stopped: string | null;
  /** The server refused the requests for want of the right API key: what to do. */
  authFix?: string;
}

export async function run(settings: Settings): Promise<number> {
  const planned = Math.floor(settings.durationMs / settings.intervalMs) + 1;
  if (planned < LEAK_RULE.minSamples) {
    throw new UsageError(
      `--interval ${seconds(settings.intervalMs)} and --duration ${seconds(settings.durationMs)} give ${plural(planned, 'sample')}; a trend needs at least ${LEAK_RULE.minSamples}: shorten --interval or lengthen --duration (e.g. --interval ${Math.max(0.1, Number((settings.durationMs / 1000 / (LEAK_RULE.minSamples * 2)).toFixed(1)))})`,
    );
  }
  const controller = new AbortController();
  let endedEarly = false;
  const onSigint = () => {
    if (endedEarly) process.exit(130);
    endedEarly = true;
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const progress = await createProgress(settings.output, {
    when: 'always',
    heartbeatMs: Math.max(settings.intervalMs, 5000),
    initial: `Watching GPU memory every ${seconds(settings.intervalMs)} for ${seconds(settings.durationMs)}${settings.url ? ` while running the suite against ${settings.url}` : ''} (Ctrl-C ends early)`,
  });
  let samples: WatchSample[] = [];
  let failure: SamplingFailure | null = null;
  let load: LoadStats | null = null;
  try {
    const loadController = new AbortController();
    // One signal is shared by every request of every round (concurrency x retries), by design.
    setMaxListeners(Math.max(64, settings.concurrency * 8), loadController.signal);
    const loadDone = settings.url ? driveLoad(settings, settings.url, loadController.signal, progress) : null;
    ({ samples, failure } = await sampleLoop(settings, controller.signal, progress));
    loadController.abort();
    load = loadDone ? await loadDone.snapshot() : null;
  } finally {
    process.off('SIGINT', onSigint);
    progress.stop();
  }

  const checks = judgeWatch(samples, failure, load, settings);
  const trends = trendsOf(samples);
  const report = buildReport(
    'watch',
    {
      checks,
      watch: {
        intervalMs: settings.intervalMs,
        durationMs: settings.durationMs,
        gpu: settings.gpu,
        endedEarly,
        leakRule: LEAK_RULE,
        load,
        trends: {
          processes: [...trends.processes].map(([pid, trend]) => ({ pid, ...trend })),
          gpus: [...trends.gpus].map(([index, trend]) => ({ index, ...trend })),
        },
        samples,
      },
    },
    settings.strict,
  );
  return emitReport(report, settings, (r) => renderWatchReport(r, settings, samples, trends, endedEarly));
}

// ---- sampling ----

async function sampleLoop(settings: Settings, signal: AbortSignal, progress: Progress): Promise<{ samples: WatchSample[]; failure: SamplingFailure | null }> {
  const samples: WatchSample[] = [];
  const started = performance.now();
  const expected = Math.floor(settings.durationMs / settings.intervalMs) + 1;
  let gpuFields: readonly string[] = QUERY_FIELDS;
  let lastProblem: SamplingFailure | null = null;
  // The planned samples are taken even when nvidia-smi is slower than the interval (they then
  // follow each other at once), but never past the duration plus one probe time limit.
  const hardStop = started + settings.durationMs + settings.probeTimeoutMs;
  for (let k = 0; !signal.aborted; k++) {
    const due = started + k * settings.intervalMs;
    if (due - started > settings.durationMs || performance.now() > hardStop) break;
    await sleepUntil(due, signal);
    if (signal.aborted) break;
    const tMs = Math.round(performance.now() - started);
    const limit = { timeoutMs: settings.probeTimeoutMs, maxBuffer: 4 * 1024 * 1024 };
    const gpuArg = settings.gpu === null ? [] : ['-i', String(settings.gpu)];
    const [apps, gpus] = await Promise.all([
      exec(NVIDIA_SMI, [...gpuArg, '--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], limit),
      exec(NVIDIA_SMI, queryGpuArgs(gpuFields), limit),
    ]);
    let gpuResult = gpus;
    if (rejectsComputeCap(gpus)) {
      // 470-series drivers: ask without compute_cap from now on.
      gpuFields = QUERY_FIELDS_NO_CC;
      gpuResult = await exec(NVIDIA_SMI, queryGpuArgs(gpuFields), limit);
    }
    const problem = samplingFailure(apps, settings) ?? samplingFailure(gpuResult, settings);
    if (problem) lastProblem = problem;
    if (problem) {
      samples.push({ tMs, gpus: [], processes: [], error: problem.message });
      // Without the program or the driver no later sample can do better.
      if (problem.kind === 'not-installed' || problem.kind === 'no-driver') return { samples, failure: problem };
      progress.update(`sample ${samples.length}/${expected}: ${problem.message}`);
      continue;
    }
    const allGpus = parseGpuQuery(gpuResult.stdout, gpuFields).gpus;
    if (settings.gpu !== null && allGpus.length > 0 && !allGpus.some((g) => g.index === settings.gpu)) {
      const message = `there is no GPU ${settings.gpu} on this host (nvidia-smi lists ${allGpus.map((g) => g.index).join(', ')})`;
      samples.push({ tMs, gpus: [], processes: [], error: message });
      return { samples, failure: { kind: 'no-such-gpu', message } };
    }
    const sample: WatchSample = {
      tMs,
      gpus: allGpus
        .filter((g) => settings.gpu === null || g.index === settings.gpu)
        .map((g) => ({ index: g.index, usedMiB: g.memoryUsedMiB })),
      processes: parseComputeApps(apps.stdout).map((a) => ({ pid: a.pid, usedMiB: a.usedMiB })),
    };
    samples.push(sample);
    progress.update(`sample ${samples.length}/${expected}: ${describeSample(sample)}`);
  }
  // Every sample failed: the watch has nothing to judge.
  return { samples, failure: samples.length > 0 && samples.every((s) => s.error) ? lastProblem : null };
}

function samplingFailure(result: ExecResult, settings: Settings): SamplingFailure | null {
  if (result.notFound || result.exitCode === 127) return { kind: 'not-installed', message: 'nvidia-smi is not on PATH (the NVIDIA driver is not installed, or its tools are not on PATH)' };
  if (result.timedOut) return { kind: 'timeout', message: `nvidia-smi did not answer within ${seconds(settings.probeTimeoutMs)}` };
  if (isNoDriver(result)) return { kind: 'no-driver', message: firstLine(result.stderr || result.stdout) || 'nvidia-smi cannot talk to the NVIDIA driver' };
  if (result.exitCode !== 0) return { kind: 'failed', message: describeFailure(result, settings.probeTimeoutMs) };
  return null;
}

function describeSample(sample: WatchSample): string {
  const gpus = sample.gpus.map((g) => `GPU ${g.index} ${g.usedMiB ?? '?'} MiB`);
  const apps = sample.processes.map((p) => `pid ${p.pid} ${p.usedMiB ?? '?'} MiB`);
  return [...gpus, ...apps].join(', ') || 'no GPU figures';
}

function sleepUntil(due: number, signal: AbortSignal): Promise<void> {
  return sleep(due - performance.now(), signal);
}

// ---- load ----

/** Runs the suite round after round until aborted; `snapshot` gives the figures so far. */
function driveLoad(settings: Settings, url: string, signal: AbortSignal, progress: Progress): { snapshot(): Promise<LoadStats> } {
  const stats: LoadStats = { url, rounds: 0, cases: 0, requestsSent: 0, notPassing: 0, errors: 0, stopped: null };
  const loop = (async () => {
    try {
      const { runSuiteDetailed } = await import('../suite/run.js');
      const { loadSuite } = await import('../suite/load.js');
      const suite = loadSuite({ casesFile: settings.casesFile, tags: settings.tags });
      while (!signal.aborted) {
        const round = await runSuiteDetailed(settings, { url, suite, signal });
        if (signal.aborted) break; // a round cut short is not counted
        if (round.unauthorized) {
          stats.stopped = round.unauthorized.summary;
          stats.authFix = round.unauthorized.fix;
          progress.log(`load: ${stats.stopped}; stopped driving the suite`);
          break;
        }
        stats.rounds += 1;
        stats.cases += round.cases.length;
        stats.requestsSent += round.requestsSent;
        stats.notPassing += round.cases.filter((c) => c.status === 'fail' || c.status === 'warn').length;
        const errors = round.cases.filter((c) => c.status === 'error').length;
        stats.errors += errors;
        // No case of the round got an HTTP answer (skipped cases sent nothing; a probe that met a refused connection fails rather than errs).
        const sent = round.cases.filter((c) => c.status !== 'skip');
        if (sent.length > 0 && sent.every((c) => c.httpStatus === undefined)) {
          stats.stopped = `every request of round ${stats.rounds} failed (${sent.find((c) => c.status === 'error')?.message ?? sent[0]!.message ?? 'no answer'})`;
          progress.log(`load: ${stats.stopped}; stopped driving the suite`);
          break;
        }
      }
    } catch (error) {
      stats.stopped = errorMessage(error);
      progress.log(`load: could not run the suite: ${stats.stopped}`);
    }
  })();
  return {
    // The round in flight when the watch ends is abandoned, not waited for: its requests have their own time limits.
    snapshot: async () => {
      await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, 50))]);
      return { ...stats };
    },
  };
}

// ---- judging ----

interface Trends {
  processes: Map<number, Trend>;
  gpus: Map<number, Trend>;
}

export function trendsOf(samples: readonly WatchSample[]): Trends {
  const processPoints = new Map<number, MemoryPoint[]>();
  const gpuPoints = new Map<number, MemoryPoint[]>();
  for (const s of samples) {
    for (const p of s.processes) {
      if (p.usedMiB === null) continue;
      const list = processPoints.get(p.pid) ?? [];
      list.push({ tMs: s.tMs, usedMiB: p.usedMiB });
      processPoints.set(p.pid, list);
    }
    for (const g of s.gpus) {
      if (g.usedMiB === null) continue;
      const list = gpuPoints.get(g.index) ?? [];
      list.push({ tMs: s.tMs, usedMiB: g.usedMiB });
      gpuPoints.set(g.index, list);
    }
  }
  const fit = (m: Map<number, MemoryPoint[]>) => new Map([...m].sort(([a], [b]) => a - b).map(([k, points]) => [k, fitTrend(points)]));
  return { processes: fit(processPoints), gpus: fit(gpuPoints) };
}


function judgeTrend(id: string, title: string, who: string, trend: Trend, underLoad: boolean): CheckResult {
  const measured = { ...trend };
  const rate = trend.slopeMiBPerMin === null ? '?' : `${trend.slopeMiBPerMin >= 0 ? '+' : ''}${trend.slopeMiBPerMin} MiB/min`;
  const span = `${trend.firstMiB} -> ${trend.lastMiB} MiB`;
  switch (trend.verdict) {
    case 'too few samples':
      return check(id, title, 'skip', `${who}: only ${plural(trend.samples, 'sample')} (${LEAK_RULE.minSamples} needed to judge a trend)`, { measured });
    case 'rising':
      return check(id, title, 'warn', `${who} keeps rising: ${span}, ${rate} (${trend.nonDecreasingSteps} of ${trend.steps} steps up or level)${underLoad ? ' under steady load' : ''}`, {
        measured,
        fix: underLoad
          ? 'memory that grows under a steady load is a leak (KV cache or tensors kept per request): watch longer (--duration 1800) to confirm, then find what holds memory per request, or restart the server on a schedule until it is fixed'
          : 'watch again under steady load (--url drives the suite in a loop) to tell a leak from a growing workload',
      });
    case 'falling':
      return check(id, title, 'pass', `${who} fell: ${span}, ${rate}`, { measured });
    default:
      return check(id, title, 'pass', `${who} steady: ${span}, ${rate}`, { measured });
  }
}

export function judgeWatch(samples: readonly WatchSample[], failure: SamplingFailure | null, load: LoadStats | null, settings: Settings): CheckResult[] {
  const checks: CheckResult[] = [];
  const good = samples.filter((s) => !s.error);
  const failed = samples.length - good.length;
  const samplingTitle = 'GPU memory sampling';
  if (failure) {
    // Missing program, driver or GPU are answers; a hang or an odd failure leaves the doctor unable to tell.
    const status: Status = failure.kind === 'timeout' || failure.kind === 'failed' ? 'error' : 'fail';
    const fix = {
      'not-installed': 'install the NVIDIA driver (it brings nvidia-smi) on the host that runs the guard',
      'no-driver': 'load the NVIDIA kernel driver (reboot after installing it; check `nvidia-smi` by hand)',
      'no-such-gpu': 'give --gpu one of the listed indexes, or leave it out to watch every GPU',
      timeout: 'nvidia-smi hangs: a wedged GPU or driver; check `nvidia-smi` by hand, or raise --probe-timeout',
      failed: 'run the same nvidia-smi query by hand to see why it fails',
    }[failure.kind];
    checks.push(check('watch.sampling', samplingTitle, status, `${status === 'error' ? 'could not tell: ' : ''}${failure.message}`, { fix, measured: { samples: samples.length, failed } }));
    return checks;
  }
  const spanMs = good.length > 1 ? good[good.length - 1]!.tMs - good[0]!.tMs : 0;
  const samplingSummary = `${plural(good.length, 'sample')} over ${seconds(spanMs)}, every ${seconds(settings.intervalMs)}${failed ? `; ${failed} failed (${samples.find((s) => s.error)!.error})` : ''}`;
  checks.push(
    check('watch.sampling', samplingTitle, failed > 0 ? 'warn' : 'pass', samplingSummary, {
      measured: { samples: samples.length, failed, spanMs },
      ...(failed > 0 ? { fix: 'nvidia-smi did not always answer: a sign of a struggling driver; check `nvidia-smi` by hand' } : {}),
    }),
  );

  const underLoad = load !== null && load.rounds > 0 && load.stopped === null;
  if (load) {
    const title = 'Steady load from the suite';
    // A 401 is the server's answer: the load could not run, and why is known.
    if (load.authFix) checks.push(check('watch.load', title, 'fail', `could not drive the suite against ${load.url}: ${load.stopped}`, { measured: { ...load }, fix: load.authFix }));
    else if (load.stopped && load.rounds === 0) checks.push(check('watch.load', title, 'error', `could not drive the suite against ${load.url}: ${load.stopped}`, { measured: { ...load }, fix: 'check --url with guard-doctor suite --url first' }));
    else if (load.stopped) checks.push(check('watch.load', title, 'warn', `the load stopped after ${plural(load.rounds, 'round')}: ${load.stopped}`, { measured: { ...load } }));
    else if (load.rounds === 0) checks.push(check('watch.load', title, 'warn', `no suite round finished within the watch (${seconds(settings.durationMs)}); the load was not steady`, { measured: { ...load }, fix: 'watch longer (--duration) so that several suite rounds finish' }));
    else checks.push(check('watch.load', title, load.errors > 0 ? 'warn' : 'pass', `${plural(load.rounds, 'suite round')}, ${plural(load.requestsSent, 'request')} sent against ${load.url}${load.errors ? `, ${load.errors} cases without an answer` : ''}`, { measured: { ...load } }));
  }

  const trends = trendsOf(good);
  if (trends.processes.size === 0) {
    const na = good.some((s) => s.processes.some((p) => p.usedMiB === null));
    checks.push(
      check('watch.processes', 'GPU memory per process', 'skip', na ? 'nvidia-smi reports no per-process memory here ([N/A], usual inside containers); judged per GPU instead' : 'no compute process on the GPU during the watch', {}),
    );
  }
  for (const [pid, trend] of trends.processes) checks.push(judgeTrend(`watch.process.${pid}`, `GPU memory of process ${pid}`, `pid ${pid}`, trend, underLoad));
  for (const [index, trend] of trends.gpus) checks.push(judgeTrend(`watch.gpu.${index}`, `Used memory of GPU ${index}`, `GPU ${index}`, trend, underLoad));
  return checks;
}

// ---- terminal report ----

function renderWatchReport(report: Report, settings: Settings, samples: readonly WatchSample[], trends: Trends, endedEarly: boolean): string[] {
  const lines = [
    paint.bold(`guard-doctor watch: GPU memory every ${seconds(settings.intervalMs)} for ${seconds(settings.durationMs)}${endedEarly ? ' (ended early by Ctrl-C)' : ''}`),
    '',
    ...renderChecks(report.checks ?? [], settings.verbose),
  ];
  const rows = [...[...trends.processes].map(([pid, t]) => [`pid ${pid}`, t] as const), ...[...trends.gpus].map(([i, t]) => [`GPU ${i}`, t] as const)];
  if (rows.length > 0 && samples.length > 0) {
    lines.push('', `  ${padEnd('', 10)}${padEnd('first', 12)}${padEnd('last', 12)}${padEnd('max', 12)}${padEnd('MiB/min', 10)}trend`);
    for (const [who, t] of rows) {
      const mib = (n: number | null) => (n === null ? '-' : `${n} MiB`);
      lines.push(`  ${padEnd(who, 10)}${padEnd(mib(t.firstMiB), 12)}${padEnd(mib(t.lastMiB), 12)}${padEnd(mib(t.maxMiB), 12)}${padEnd(t.slopeMiBPerMin === null ? '-' : String(t.slopeMiBPerMin), 10)}${t.verdict}`);
    }
  }
  lines.push('', footer(report, 'check'));
  return lines;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))} s`;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/).map((l) => l.trim()).find(Boolean) ?? '';
}
