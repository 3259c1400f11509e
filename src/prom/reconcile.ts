/**
 * Metrics versus verdicts: scrape the guard server's metrics before and after the suite and
 * check that its request counter grew by exactly what the suite sent, and that the per-result
 * counts grew by the verdicts the suite saw. Hand-written exporters often label every request
 * `result="safe"` because their middleware cannot read the response body; dashboards then
 * show a guard that never blocks anything.
 *
 * Use (suite, up):
 *   const before = await scrapeSnapshot(settings.metricsUrl, settings.requestTimeoutMs);
 *   ... run the suite, counting every moderation request sent (retries and probes included) ...
 *   const after = await scrapeSnapshot(settings.metricsUrl, settings.requestTimeoutMs);
 *   checks.push(...reconcile(before, after, cases, requestsSent, settings.server));
 * Neither function throws: a failed scrape becomes an `error` check.
 */
import type { CaseResult, CheckResult, ServerKind, Status } from '../types.js';
import { REQUEST_COUNTERS, familyNames } from './expected.js';
import { scrapeMetrics } from '../probes/scrape.js';
import type { Sample } from './parse.js';
import { plural } from '../report/format.js';

export type MetricsSnapshot =
  | {
      ok: true;
      url: string;
      takenAt: number;
      /** Samples of the request counters of every server kind, by family name. */
      counters: Map<string, Sample[]>;
      /** Every family the exposition declared (a counter with no samples yet is declared but empty). */
      families: Set<string>;
    }
  | { ok: false; url: string; takenAt: number; message: string };

const COUNTER_FAMILIES = new Set(Object.values(REQUEST_COUNTERS).flatMap((c) => familyNames(c.name)));

/** Scrape the request counters (the rest of the exposition is read and discarded). Never throws. */
export async function scrapeSnapshot(url: string, timeoutMs: number): Promise<MetricsSnapshot> {
  const takenAt = Date.now();
  const outcome = await scrapeMetrics(url, { timeoutMs, keepSamples: (family) => COUNTER_FAMILIES.has(family) });
  if (!outcome.ok) return { ok: false, url, takenAt, message: outcome.message };
  return { ok: true, url, takenAt, counters: outcome.result.samples, families: new Set(outcome.result.families.map((f) => f.name)) };
}

export const RECONCILE_REQUESTS_ID = 'metrics.reconcile.requests';
export const RECONCILE_VERDICTS_ID = 'metrics.reconcile.verdicts';
const VERDICTS: ReadonlyArray<'safe' | 'controversial' | 'unsafe'> = ['safe', 'controversial', 'unsafe'];

/**
 * Compare the counter's growth between two snapshots with what the suite did.
 * `requestsSent`: moderation requests the suite sent (every POST, retries and protocol probes
 * included). Returns `metrics.reconcile.requests` and `metrics.reconcile.verdicts`.
 */
export function reconcile(before: MetricsSnapshot, after: MetricsSnapshot, cases: readonly CaseResult[], requestsSent: number, server: ServerKind): CheckResult[] {
  const started = performance.now();
  const counter = REQUEST_COUNTERS[server];
  const result = (id: string, title: string, status: Status, summary: string, fix?: string, measured?: Record<string, unknown>): CheckResult => ({
    id,
    title,
    status,
    summary,
    ...(fix ? { fix } : {}),
    ...(measured ? { measured } : {}),
    durationMs: Math.round(performance.now() - started),
  });
  const requestsTitle = 'Request counter matches the requests sent';
  const verdictsTitle = 'Per-result counts match the verdicts';

  const failedScrape = !before.ok ? before : !after.ok ? after : null;
  if (failedScrape && !failedScrape.ok) {
    const when = failedScrape === before ? 'before' : 'after';
    const summary = `could not scrape ${failedScrape.url} ${when} the suite: ${failedScrape.message}`;
    const fix = 'check --metrics-url (the metrics port and path, e.g. http://127.0.0.1:8000/metrics) with guard-doctor metrics --url';
    return [result(RECONCILE_REQUESTS_ID, requestsTitle, 'error', summary, fix), result(RECONCILE_VERDICTS_ID, verdictsTitle, 'error', summary, fix)];
  }
  if (!before.ok || !after.ok) return [];

  const beforeSamples = findCounter(before, counter.name);
  const afterSamples = findCounter(after, counter.name);
  if (!afterSamples) {
    const summary = `${after.url} has no ${counter.name}, so the requests cannot be reconciled`;
    const fix = server === 'web' ? `export a counter ${counter.name} with method and result labels (prometheus_client Counter("qwen_guard_request", ..., ["method", "result"]))` : 'use a vLLM release that exports vllm:request_success_total, or check --metrics-url';
    return [result(RECONCILE_REQUESTS_ID, requestsTitle, 'fail', summary, fix), result(RECONCILE_VERDICTS_ID, verdictsTitle, 'skip', `no ${counter.name} to compare`)];
  }

  const deltas = seriesDeltas(beforeSamples ?? [], afterSamples);
  if (deltas.reset) {
    const summary = `${counter.name} went down between the scrapes (${deltas.reset}): the server restarted or the counter was reset during the suite`;
    const fix = 'run the suite again while the server stays up; a restart during the suite is itself worth investigating (guard-doctor diagnose)';
    return [result(RECONCILE_REQUESTS_ID, requestsTitle, 'error', summary, fix), result(RECONCILE_VERDICTS_ID, verdictsTitle, 'error', summary, fix)];
  }
  const grew = deltas.list.reduce((sum, d) => sum + d.delta, 0);
  const verdictCounts = countVerdicts(cases);
  const answered = VERDICTS.reduce((sum, v) => sum + verdictCounts[v], 0);
  const checks: CheckResult[] = [];

  if (server === 'web') {
    const measured = { counter: counter.name, grew, requestsSent };
    if (grew === requestsSent) {
      checks.push(result(RECONCILE_REQUESTS_ID, requestsTitle, 'pass', `${counter.name} grew by ${grew}, the ${plural(requestsSent, 'request')} the suite sent`, undefined, measured));
    } else if (grew > requestsSent) {
      checks.push(result(RECONCILE_REQUESTS_ID, requestsTitle, 'fail', `${counter.name} grew by ${grew} but the suite sent ${plural(requestsSent, 'request')} (${grew - requestsSent} more counted)`, 'if no other client used the server meanwhile, the exporter counts some requests twice (e.g. once per middleware or per retry); run the suite again on an otherwise idle server', measured));
    } else {
      checks.push(result(RECONCILE_REQUESTS_ID, requestsTitle, 'fail', `${counter.name} grew by ${grew} but the suite sent ${plural(requestsSent, 'request')} (${requestsSent - grew} not counted)`, 'count every request, failed ones too (4xx/5xx, timeouts): increment the counter in a finally block or a middleware that sees every response', measured));
    }
  } else {
    // vLLM counts finished requests only: at least every answered case, at most everything sent.
    const measured = { counter: counter.name, grew, requestsSent, answered };
    if (grew >= answered && grew <= requestsSent) {
      checks.push(result(RECONCILE_REQUESTS_ID, requestsTitle, 'pass', `${counter.name} grew by ${grew}: ${plural(answered, 'answered request')}, ${plural(requestsSent, 'request')} sent`, undefined, measured));
    } else if (grew > requestsSent) {
      checks.push(result(RECONCILE_REQUESTS_ID, requestsTitle, 'fail', `${counter.name} grew by ${grew} but the suite sent only ${plural(requestsSent, 'request')}`, 'another client sent requests during the suite, or the metrics are not this server\'s; run the suite again on an otherwise idle server', measured));
    } else {
      checks.push(result(RECONCILE_REQUESTS_ID, requestsTitle, 'fail', `${counter.name} grew by ${grew} but the suite got ${plural(answered, 'answer')}`, 'check that --metrics-url is the /metrics of the same vLLM server as --url (same host and port)', measured));
    }
  }

  if (counter.resultLabel === null) {
    checks.push(result(RECONCILE_VERDICTS_ID, verdictsTitle, 'skip', `${counter.name} carries no verdict label (vLLM counts requests, not verdicts)`));
    return checks;
  }
  const label = counter.resultLabel;
  if (!afterSamples.some((s) => s.labels[label] !== undefined)) {
    checks.push(result(RECONCILE_VERDICTS_ID, verdictsTitle, 'fail', `${counter.name} has no ${label} label, so verdicts cannot be counted from the metrics`, `add a ${label} label (safe, controversial, unsafe) taken from the verdict the app returns`));
    return checks;
  }
  const grewBy: Record<string, number> = {};
  for (const d of deltas.list) {
    const value = (d.labels[label] ?? '').toLowerCase();
    grewBy[value] = (grewBy[value] ?? 0) + d.delta;
  }
  const mismatches = VERDICTS.filter((v) => (grewBy[v] ?? 0) !== verdictCounts[v]);
  const measured = {
    label,
    metricsGrew: Object.fromEntries(VERDICTS.map((v) => [v, grewBy[v] ?? 0])),
    suiteSaw: verdictCounts,
    otherResults: Object.fromEntries(Object.entries(grewBy).filter(([k]) => !(VERDICTS as readonly string[]).includes(k))),
  };
  if (mismatches.length === 0) {
    checks.push(result(RECONCILE_VERDICTS_ID, verdictsTitle, 'pass', `${VERDICTS.map((v) => `${label}="${v}" grew by ${verdictCounts[v]}`).join(', ')}, as the suite saw`, undefined, measured));
    return checks;
  }
  const parts = mismatches.map((v) => `${label}="${v}" grew by ${grewBy[v] ?? 0} but the suite saw ${plural(verdictCounts[v], `${v} verdict`)}`);
  const allSafe = answered > 0 && verdictCounts.safe < answered && (grewBy.safe ?? 0) > 0 && VERDICTS.every((v) => v === 'safe' || (grewBy[v] ?? 0) === 0);
  const summary = (allSafe ? 'every request was counted as safe: ' : '') + parts.join('; ');
  const fix = allSafe
    ? `label ${label} from the verdict the app returns (its level), not a default: a middleware that cannot read the response body counts everything as safe`
    : `label ${label} from the same verdict the app returns to the client (safe, controversial, unsafe)`;
  checks.push(result(RECONCILE_VERDICTS_ID, verdictsTitle, 'fail', summary, fix, measured));
  return checks;
}

function findCounter(snapshot: { counters: Map<string, Sample[]>; families: Set<string> }, name: string): Sample[] | null {
  for (const family of familyNames(name)) {
    const samples = snapshot.counters.get(family);
    // Only the counter's own samples (`x_total`), not `x_created` declared under the same base.
    if (samples) return samples.filter((s) => s.name === name);
    if (snapshot.families.has(family)) return [];
  }
  return null;
}

interface SeriesDelta {
  labels: Record<string, string>;
  delta: number;
}

function seriesDeltas(before: readonly Sample[], after: readonly Sample[]): { list: SeriesDelta[]; reset: string | null } {
  const key = (s: Sample) => JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const previous = new Map(before.map((s) => [key(s), s]));
  const list: SeriesDelta[] = [];
  for (const sample of after) {
    const old = previous.get(key(sample));
    previous.delete(key(sample));
    const delta = sample.value - (old?.value ?? 0);
    if (delta < 0) return { list, reset: `${describeLabels(sample.labels)} from ${old!.value} to ${sample.value}` };
    list.push({ labels: sample.labels, delta });
  }
  const vanished = previous.values().next();
  if (!vanished.done) return { list, reset: `${describeLabels(vanished.value.labels)} disappeared` };
  return { list, reset: null };
}

function countVerdicts(cases: readonly CaseResult[]): Record<'safe' | 'controversial' | 'unsafe', number> {
  const counts = { safe: 0, controversial: 0, unsafe: 0 };
  for (const c of cases) {
    const safety = c.verdict.safety;
    if (safety === 'safe' || safety === 'controversial' || safety === 'unsafe') counts[safety] += 1;
  }
  return counts;
}

function describeLabels(labels: Record<string, string>): string {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return inner ? `{${inner}}` : 'the series without labels';
}

