/**
 * metrics.cardinality: no family has more series than --cardinality-limit, and no label holds
 * values that look unbounded (ids, URLs, addresses: src/prom/lint/cardinality.ts).
 */
import type { Judgement } from '../../src/judge.js';
import { plural } from '../../src/report/format.js';
import { defineExpositionCheck } from './problems.js';

export const metricsCardinality = defineExpositionCheck({
  id: 'metrics.cardinality',
  title: 'Label cardinality',
  judge(scrape, settings): Judgement {
    const { result } = scrape;
    const limit = settings.cardinalityLimit;
    const bySeries = [...result.families].sort((a, b) => b.seriesCount - a.seriesCount);
    const over = bySeries.filter((f) => f.seriesCount > limit);
    const suspicious = result.families.flatMap((f) =>
      f.labels.filter((l) => l.suspicious.length > 0).map((l) => ({ metric: f.name, label: l.name, distinctValues: l.distinctValues, examples: l.suspicious })),
    );
    const largest = bySeries[0];
    const measured = {
      limit,
      largest: bySeries.slice(0, 5).map((f) => ({ metric: f.name, series: f.seriesCount })),
      over: over.map((f) => ({ metric: f.name, series: f.seriesCount, labels: f.labels.map((l) => ({ label: l.name, distinctValues: l.distinctValues, capped: l.capped })) })),
      suspicious,
    };
    if (over.length === 0 && suspicious.length === 0) {
      const summary = largest ? `largest: ${largest.name} with ${plural(largest.seriesCount, 'series', 'series')} (limit ${limit})` : 'no series';
      return { status: 'pass', summary, measured };
    }
    const parts: string[] = [];
    if (over.length > 0) {
      const worst = over
        .slice(0, 3)
        .map((f) => {
          const label = [...f.labels].sort((a, b) => b.distinctValues - a.distinctValues)[0];
          return `${f.name} has ${f.seriesCount} series${label ? ` (${label.name}: ${label.distinctValues}${label.capped ? '+' : ''} values)` : ''}`;
        })
        .join(', ');
      parts.push(`${worst}${over.length > 3 ? ` and ${over.length - 3} more` : ''}, over the limit of ${limit}`);
    }
    for (const s of suspicious.slice(0, 3)) {
      const example = s.examples[0]!;
      parts.push(`label ${s.label} of ${s.metric} holds values that look like ${example.reason} ("${example.value}")`);
    }
    if (suspicious.length > 3) parts.push(`${suspicious.length - 3} more labels like that`);
    const details = suspicious.map((s) => `${s.metric} ${s.label}: ${s.examples.map((e) => `"${e.value}" (${e.reason})`).join(', ')}`);
    return {
      status: 'warn',
      summary: parts.join('; '),
      fix: 'every distinct label value is a new series kept for weeks: drop ids, URLs and free text from labels (use a route template such as /judge, a status class, a bounded enum); raise --cardinality-limit if the size is intended',
      measured,
      details,
    };
  },
});
