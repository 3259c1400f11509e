/**
 * metrics.expected: the metrics the server kind should expose (src/prom/expected.ts) are
 * there, sampled (present means a value, not only HELP and TYPE), of the right type and with
 * their labels. Extra metrics are fine.
 */
import type { Judgement } from '../../src/judge.js';
import { EXPECTED_METRICS, familyNames, type ExpectedMetric } from '../../src/prom/expected.js';
import type { FamilySummary } from '../../src/prom/parse.js';
import type { ServerKind } from '../../src/types.js';
import { defineExpositionCheck } from './problems.js';

export const metricsExpected = defineExpositionCheck({
  id: 'metrics.expected',
  title: 'Expected metrics present',
  judge(scrape, settings): Judgement {
    const server = settings.server;
    const families = new Map(scrape.result.families.map((f) => [f.name, f]));
    const missing: string[] = [];
    /** HELP/TYPE lines but no sample: prometheus_client declares a labelled metric before its first use. */
    const declaredOnly: string[] = [];
    const nearMisses = new Map<string, string>();
    const wrong: string[] = [];
    const notes: string[] = [];
    const found: string[] = [];
    for (const expected of EXPECTED_METRICS[server]) {
      const hit = findFamily(families, expected);
      if (!hit) {
        const near = nearMiss(families, expected.name);
        missing.push(expected.name);
        if (near) nearMisses.set(expected.name, near);
        continue;
      }
      if (hit.name !== expected.name) notes.push(`${expected.name}: found under its older name ${hit.name}`);
      if (hit.family.type !== expected.type) wrong.push(`${hit.name} is ${hit.family.type ? `a ${hit.family.type}` : 'untyped'}, expected a ${expected.type}`);
      if (hit.family.sampleCount === 0) {
        declaredOnly.push(hit.name);
        continue;
      }
      found.push(hit.name);
      const labelNames = new Set(hit.family.labels.map((l) => l.name));
      const lacking = (expected.labels ?? []).filter((l) => !labelNames.has(l));
      if (lacking.length > 0) wrong.push(`${hit.name} lacks the label${lacking.length > 1 ? 's' : ''} ${lacking.join(', ')}`);
    }
    const measured = { server, found, missing, declaredOnly, wrong };
    const expectedNames = EXPECTED_METRICS[server].map((e) => e.name);
    if (missing.length === 0 && wrong.length === 0 && declaredOnly.length === 0) {
      return { status: 'pass', summary: `all ${expectedNames.length} ${server} metrics present: ${found.join(', ')}`, measured, details: notes };
    }
    const other: ServerKind = server === 'web' ? 'vllm' : 'web';
    const looksLikeOther = EXPECTED_METRICS[other].filter((e) => findFamily(families, e)).length >= 2;
    const parts: string[] = [];
    if (missing.length) parts.push(`missing: ${missing.map((m) => (nearMisses.has(m) ? `${m} (${nearMisses.get(m)} looks like it, under another name)` : m)).join(', ')}`);
    if (declaredOnly.length) parts.push(`declared, no samples yet: ${declaredOnly.join(', ')}`);
    if (wrong.length) parts.push(wrong.join('; '));
    const purposes = EXPECTED_METRICS[server].filter((e) => missing.includes(e.name)).map((e) => e.purpose);
    const fix =
      missing.length === 0 && wrong.length === 0
        ? 'the server declares these metrics but has not recorded a value yet (a labelled metric has no series before its first use): send it a request (guard-doctor warm --url ...) and scrape again'
        : looksLikeOther
          ? `these look like ${other} metrics: run with --server ${other}`
          : server === 'vllm'
            ? 'these are vLLM\'s own metrics: point --url at the vLLM server\'s /metrics (its API port), or use --server web for the web app'
            : `export them from the app with prometheus_client (needed for ${purposes.join('; ') || 'the dashboards'}), with the listed types and labels`;
    return { status: 'fail', summary: parts.join('; '), fix, measured, details: notes };
  },
});

function findFamily(families: ReadonlyMap<string, FamilySummary>, expected: ExpectedMetric): { family: FamilySummary; name: string } | null {
  for (const name of [expected.name, ...(expected.alternatives ?? [])]) {
    const candidates = expected.type === 'counter' ? familyNames(name) : [name];
    for (const candidate of candidates) {
      const family = families.get(candidate);
      if (family) return { family, name };
    }
  }
  return null;
}

/** A family named like the expected one but for `_total` or a plural `s`: the usual hand-written slip. */
function nearMiss(families: ReadonlyMap<string, FamilySummary>, expected: string): string | null {
  const stem = (name: string) => name.replace(/_total$/, '').replace(/s$/, '');
  for (const name of families.keys()) if (name !== expected && stem(name) === stem(expected)) return name;
  return null;
}
