/**
 * metrics.format: the exposition is valid text format (the reference parsers' verdict:
 * syntax, family structure, histogram rules) and is served with a text Content-Type.
 */
import type { Judgement } from '../../src/judge.js';
import type { ProblemKind } from '../../src/prom/parse.js';
import { plural } from '../../src/report/format.js';
import { defineExpositionCheck, countProblems, problemsJudgement } from './problems.js';

const KINDS: readonly ProblemKind[] = ['syntax', 'structure', 'histogram'];

export const metricsFormat = defineExpositionCheck({
  id: 'metrics.format',
  title: 'Exposition format',
  judge(scrape): Judgement {
    const { result, contentType } = scrape;
    const extraWarnings: string[] = [];
    if (contentType !== null && !/^text\/plain\b/i.test(contentType) && !/^application\/openmetrics-text\b/i.test(contentType)) {
      extraWarnings.push(`Content-Type is "${contentType}"; Prometheus expects text/plain; version=0.0.4`);
    }
    return problemsJudgement(
      result.problems.filter((p) => KINDS.includes(p.kind)),
      countProblems(result, KINDS),
      `${plural(result.families.length, 'metric family', 'metric families')}, ${plural(result.sampleCount, 'sample')} in ${plural(result.lines, 'line')}: valid`,
      {
        error: 'fix the exporter so each line listed is valid (prometheus_client renders correct output: prefer it to hand-written text)',
        warning: 'keep each family\'s lines together, one value per series, histogram buckets ascending and cumulative; serve the text format as text/plain; version=0.0.4',
      },
      extraWarnings,
    );
  },
});
