/** The suite phase: the edge-case suite against the warm server (and, with --metrics-url, the reconciliation). */
import { authCheck } from '../api-key.js';
import { abortable } from '../launch/signals.js';
import { latencyStats } from '../suite/report.js';
import { runSuiteDetailed } from '../suite/run.js';
import type { UpRun } from './context.js';

export async function suitePhase(run: UpRun): Promise<void> {
  const { settings, suite } = run;
  const watcher = run.watcher!;
  if (!suite) return;
  run.progress.update(`Running the edge-case suite (${suite.cases.length} cases)`);
  let before = null;
  // On a fleet host the metrics endpoint is the host's; the doctor scrapes only this machine's URLs.
  const metricsUrl = run.host.remote ? null : settings.metricsUrl;
  const reconcileModule = metricsUrl ? await import('../prom/reconcile.js') : null;
  if (reconcileModule && metricsUrl) before = await abortable(reconcileModule.scrapeSnapshot(metricsUrl, settings.requestTimeoutMs), watcher.signal);
  const suiteRun = await abortable(runSuiteDetailed(settings, { url: run.url, progress: run.progress, suite, signal: watcher.signal }), watcher.signal);
  if (reconcileModule && before && metricsUrl) {
    const after = await abortable(reconcileModule.scrapeSnapshot(metricsUrl, settings.requestTimeoutMs), watcher.signal);
    run.checks.push(...reconcileModule.reconcile(before, after, suiteRun.cases, suiteRun.requestsSent, settings.server));
  }
  if (suiteRun.unauthorized) run.checks.push(authCheck(suiteRun.unauthorized));
  run.cases = suiteRun.cases;
  const latency = latencyStats(run.cases);
  run.fields.suite = { name: suite.name, file: suite.file, servedModel: suiteRun.servedModel, requestsSent: suiteRun.requestsSent, durationMs: suiteRun.durationMs, latency: { p50Ms: latency.p50, p95Ms: latency.p95, p99Ms: latency.p99, maxMs: latency.max } };
}
