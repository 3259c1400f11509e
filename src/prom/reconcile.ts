/**
 * Metrics versus verdicts, the arithmetic: how much the guard server's request counter grew
 * between two snapshots (src/probes/scrape.ts scrapeSnapshot), in total and per verdict label,
 * next to what the suite sent and saw. Pure: the results `metrics.reconcile.*` are judged from
 * this in checks/metrics/reconcile.ts.
 */
import type { MetricsSnapshot } from '../facts.js';
import type { CaseResult, ServerKind } from '../types.js';
import { REQUEST_COUNTERS, familyNames, type RequestCounter } from './expected.js';
import type { Sample } from './parse.js';

export type { MetricsSnapshot } from '../facts.js';

export const VERDICTS: ReadonlyArray<'safe' | 'controversial' | 'unsafe'> = ['safe', 'controversial', 'unsafe'];
export type VerdictCounts = Record<'safe' | 'controversial' | 'unsafe', number>;

/** What the two snapshots say about the counter, next to what the suite did. */
export type CounterGrowth =
  /** One of the scrapes failed: nothing to compare. */
  | { state: 'scrape-failed'; when: 'before' | 'after'; url: string; message: string }
  /** The counter is not in the exposition after the suite. */
  | { state: 'no-counter'; counter: RequestCounter; url: string }
  /** A series went down or vanished: the server restarted or the counter was reset. */
  | { state: 'reset'; counter: RequestCounter; reset: string }
  | {
      state: 'grew';
      counter: RequestCounter;
      /** Total growth over every series. */
      grew: number;
      requestsSent: number;
      /** The suite's cases that got a safe, controversial or unsafe verdict. */
      answered: number;
      verdictCounts: VerdictCounts;
      /** The counter carries its verdict label (counter.resultLabel) after the suite. */
      labelPresent: boolean;
      /** Growth per value of the verdict label (lower case); empty without one. */
      grewBy: Record<string, number>;
    };

/**
 * Compare the counter's growth between two snapshots with what the suite did.
 * `requestsSent`: moderation requests the suite sent (every POST, retries and protocol probes included).
 */
export function counterGrowth(before: MetricsSnapshot, after: MetricsSnapshot, cases: readonly CaseResult[], requestsSent: number, server: ServerKind): CounterGrowth {
  if (!before.ok) return { state: 'scrape-failed', when: 'before', url: before.url, message: before.message };
  if (!after.ok) return { state: 'scrape-failed', when: 'after', url: after.url, message: after.message };
  const counter = REQUEST_COUNTERS[server];
  const beforeSamples = findCounter(before, counter.name);
  const afterSamples = findCounter(after, counter.name);
  if (!afterSamples) return { state: 'no-counter', counter, url: after.url };
  const deltas = seriesDeltas(beforeSamples ?? [], afterSamples);
  if (deltas.reset) return { state: 'reset', counter, reset: deltas.reset };
  const verdictCounts = countVerdicts(cases);
  const label = counter.resultLabel;
  const grewBy: Record<string, number> = {};
  if (label !== null) {
    for (const d of deltas.list) {
      const value = (d.labels[label] ?? '').toLowerCase();
      grewBy[value] = (grewBy[value] ?? 0) + d.delta;
    }
  }
  return {
    state: 'grew',
    counter,
    grew: deltas.list.reduce((sum, d) => sum + d.delta, 0),
    requestsSent,
    answered: VERDICTS.reduce((sum, v) => sum + verdictCounts[v], 0),
    verdictCounts,
    labelPresent: label !== null && afterSamples.some((s) => s.labels[label] !== undefined),
    grewBy,
  };
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

function countVerdicts(cases: readonly CaseResult[]): VerdictCounts {
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
