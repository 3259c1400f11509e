/** The suite phase: the edge-case suite against the warm server (and, with --metrics-url, the reconciliation). */
import { authFailed } from '../../checks/server/auth.js';
import { abortable } from '../launch/signals.js';
import { latencyStats } from '../suite/report.js';
import { runSuiteDetailed } from '../suite/run.js';
import type { CheckResult } from '../types.js';
import type { UpRun } from './context.js';

/** Through a forward the doctor scraped a local port: the report names the URL the user gave, on its host. */
export function asTheUserNamedIt(check: CheckResult, scraped: string, given: string | null, hostLabel: string): CheckResult {
  if (!given || scraped === given) return check;
  const named = `${given} on ${hostLabel} (through an SSH forward)`;
  return { ...check, summary: check.summary.split(scraped).join(named) };
}

/** The scrape before and after the suite, and the arithmetic between them, loaded only with --metrics-url. */
export async function loadReconcile() {
  const [{ scrapeSnapshot }, { reconcile }] = await Promise.all([import('../probes/scrape.js'), import('../../checks/metrics/reconcile.js')]);
  return { scrapeSnapshot, reconcile };
}

export async function suitePhase(run: UpRun): Promise<void> {
  const { settings, suite } = run;
  const watcher = run.watcher!;
  if (!suite) return;
  run.progress.update(`Running the edge-case suite (${suite.cases.length} cases)`);
  let before = null;
  // On a fleet host this is the local end of a forward to the host's metrics port (src/fleet/up.ts).
  const metricsUrl = run.metricsUrl;
  const reconcileModule = metricsUrl ? await loadReconcile() : null;
  if (reconcileModule && metricsUrl) before = await abortable(reconcileModule.scrapeSnapshot(metricsUrl, settings.requestTimeoutMs), watcher.signal);
  const suiteRun = await abortable(runSuiteDetailed(settings, { url: run.url, progress: run.progress, suite, signal: watcher.signal }), watcher.signal);
  if (reconcileModule && before && metricsUrl) {
    const after = await abortable(reconcileModule.scrapeSnapshot(metricsUrl, settings.requestTimeoutMs), watcher.signal);
    // The plain requests after the probes got verdicts too, and the server counted them (as `suite` does).
    const checks = reconcileModule.reconcile(before, after, [...suiteRun.cases, ...suiteRun.followUps], suiteRun.requestsSent, settings.server);
    run.checks.push(...checks.map((c) => asTheUserNamedIt(c, metricsUrl, settings.metricsUrl, run.host.label)));
  }
  if (suiteRun.unauthorized) run.checks.push(authFailed(suiteRun.unauthorized));
  run.cases = suiteRun.cases;
  const latency = latencyStats(run.cases);
  run.fields.suite = { name: suite.name, file: suite.file, servedModel: suiteRun.servedModel, requestsSent: suiteRun.requestsSent, durationMs: suiteRun.durationMs, latency: { p50Ms: latency.p50, p95Ms: latency.p95, p99Ms: latency.p99, maxMs: latency.max } };
}
