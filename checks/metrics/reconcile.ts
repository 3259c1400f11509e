/**
 * metrics.reconcile.requests and metrics.reconcile.verdicts (suite and up with --metrics-url):
 * the server's request counter grew by exactly what the suite sent, and its per-result counts
 * by the verdicts the suite saw. Hand-written exporters often label every request
 * `result="safe"` because their middleware cannot read the response body; dashboards then
 * show a guard that never blocks anything.
 *
 * Use (suite, up):
 *   const before = await scrapeSnapshot(settings.metricsUrl, settings.requestTimeoutMs);   // src/probes/scrape.ts
 *   ... run the suite, counting every moderation request sent (retries and probes included) ...
 *   const after = await scrapeSnapshot(settings.metricsUrl, settings.requestTimeoutMs);
 *   checks.push(...reconcile(before, after, cases, requestsSent, settings.server));
 * Nothing here throws: a failed scrape becomes an `error` result. The arithmetic is src/prom/reconcile.ts.
 */
import { VERDICTS, counterGrowth, type MetricsSnapshot } from '../../src/prom/reconcile.js';
import { plural } from '../../src/report/format.js';
import type { CaseResult, CheckResult, ServerKind, Status } from '../../src/types.js';

export const RECONCILE_REQUESTS = { id: 'metrics.reconcile.requests', title: 'Request counter matches the requests sent' } as const;
export const RECONCILE_VERDICTS = { id: 'metrics.reconcile.verdicts', title: 'Per-result counts match the verdicts' } as const;

type Spec = typeof RECONCILE_REQUESTS | typeof RECONCILE_VERDICTS;

/** Returns `metrics.reconcile.requests` and, when it can be judged, `metrics.reconcile.verdicts`. */
export function reconcile(before: MetricsSnapshot, after: MetricsSnapshot, cases: readonly CaseResult[], requestsSent: number, server: ServerKind): CheckResult[] {
  const started = performance.now();
  const result = (spec: Spec, status: Status, summary: string, fix?: string, measured?: Record<string, unknown>): CheckResult => ({
    id: spec.id,
    title: spec.title,
    status,
    summary,
    ...(fix ? { fix } : {}),
    ...(measured ? { measured } : {}),
    durationMs: Math.round(performance.now() - started),
  });
  const growth = counterGrowth(before, after, cases, requestsSent, server);

  switch (growth.state) {
    case 'scrape-failed': {
      const summary = `could not scrape ${growth.url} ${growth.when} the suite: ${growth.message}`;
      const fix = 'check --metrics-url (the metrics port and path, e.g. http://127.0.0.1:8000/metrics) with guard-doctor metrics --url';
      return [result(RECONCILE_REQUESTS, 'error', summary, fix), result(RECONCILE_VERDICTS, 'error', summary, fix)];
    }
    case 'no-counter': {
      const name = growth.counter.name;
      const summary = `${growth.url} has no ${name}, so the requests cannot be reconciled`;
      const fix = server === 'web' ? `export a counter ${name} with method and result labels (prometheus_client Counter("qwen_guard_request", ..., ["method", "result"]))` : 'use a vLLM release that exports vllm:request_success_total, or check --metrics-url';
      return [result(RECONCILE_REQUESTS, 'fail', summary, fix), result(RECONCILE_VERDICTS, 'skip', `no ${name} to compare`)];
    }
    case 'reset': {
      const summary = `${growth.counter.name} went down between the scrapes (${growth.reset}): the server restarted or the counter was reset during the suite`;
      const fix = 'run the suite again while the server stays up; a restart during the suite is itself worth investigating (guard-doctor diagnose)';
      return [result(RECONCILE_REQUESTS, 'error', summary, fix), result(RECONCILE_VERDICTS, 'error', summary, fix)];
    }
    case 'grew':
      break;
  }

  const { counter, grew, answered, verdictCounts, grewBy } = growth;
  const checks: CheckResult[] = [];
  if (server === 'web') {
    const measured = { counter: counter.name, grew, requestsSent };
    if (grew === requestsSent) {
      checks.push(result(RECONCILE_REQUESTS, 'pass', `${counter.name} grew by ${grew}, the ${plural(requestsSent, 'request')} the suite sent`, undefined, measured));
    } else if (grew > requestsSent) {
      checks.push(result(RECONCILE_REQUESTS, 'fail', `${counter.name} grew by ${grew} but the suite sent ${plural(requestsSent, 'request')} (${grew - requestsSent} more counted)`, 'if no other client used the server meanwhile, the exporter counts some requests twice (e.g. once per middleware or per retry); run the suite again on an otherwise idle server', measured));
    } else {
      checks.push(result(RECONCILE_REQUESTS, 'fail', `${counter.name} grew by ${grew} but the suite sent ${plural(requestsSent, 'request')} (${requestsSent - grew} not counted)`, 'count every request, failed ones too (4xx/5xx, timeouts): increment the counter in a finally block or a middleware that sees every response', measured));
    }
  } else {
    // vLLM counts finished requests only: at least every answered case, at most everything sent.
    const measured = { counter: counter.name, grew, requestsSent, answered };
    if (grew >= answered && grew <= requestsSent) {
      checks.push(result(RECONCILE_REQUESTS, 'pass', `${counter.name} grew by ${grew}: ${plural(answered, 'answered request')}, ${plural(requestsSent, 'request')} sent`, undefined, measured));
    } else if (grew > requestsSent) {
      checks.push(result(RECONCILE_REQUESTS, 'fail', `${counter.name} grew by ${grew} but the suite sent only ${plural(requestsSent, 'request')}`, 'another client sent requests during the suite, or the metrics are not this server\'s; run the suite again on an otherwise idle server', measured));
    } else {
      checks.push(result(RECONCILE_REQUESTS, 'fail', `${counter.name} grew by ${grew} but the suite got ${plural(answered, 'answer')}`, 'check that --metrics-url is the /metrics of the same vLLM server as --url (same host and port)', measured));
    }
  }

  const label = counter.resultLabel;
  if (label === null) {
    checks.push(result(RECONCILE_VERDICTS, 'skip', `${counter.name} carries no verdict label (vLLM counts requests, not verdicts)`));
    return checks;
  }
  if (!growth.labelPresent) {
    checks.push(result(RECONCILE_VERDICTS, 'fail', `${counter.name} has no ${label} label, so verdicts cannot be counted from the metrics`, `add a ${label} label (safe, controversial, unsafe) taken from the verdict the app returns`));
    return checks;
  }
  const mismatches = VERDICTS.filter((v) => (grewBy[v] ?? 0) !== verdictCounts[v]);
  const measured = {
    label,
    metricsGrew: Object.fromEntries(VERDICTS.map((v) => [v, grewBy[v] ?? 0])),
    suiteSaw: verdictCounts,
    otherResults: Object.fromEntries(Object.entries(grewBy).filter(([k]) => !(VERDICTS as readonly string[]).includes(k))),
  };
  if (mismatches.length === 0) {
    checks.push(result(RECONCILE_VERDICTS, 'pass', `${VERDICTS.map((v) => `${label}="${v}" grew by ${verdictCounts[v]}`).join(', ')}, as the suite saw`, undefined, measured));
    return checks;
  }
  const parts = mismatches.map((v) => `${label}="${v}" grew by ${grewBy[v] ?? 0} but the suite saw ${plural(verdictCounts[v], `${v} verdict`)}`);
  const allSafe = answered > 0 && verdictCounts.safe < answered && (grewBy.safe ?? 0) > 0 && VERDICTS.every((v) => v === 'safe' || (grewBy[v] ?? 0) === 0);
  const summary = (allSafe ? 'every request was counted as safe: ' : '') + parts.join('; ');
  const fix = allSafe
    ? `label ${label} from the verdict the app returns (its level), not a default: a middleware that cannot read the response body counts everything as safe`
    : `label ${label} from the same verdict the app returns to the client (safe, controversial, unsafe)`;
  checks.push(result(RECONCILE_VERDICTS, 'fail', summary, fix, measured));
  return checks;
}
