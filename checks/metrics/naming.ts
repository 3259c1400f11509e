/**
 * metrics.naming: promtool-style lints (src/prom/lint/): HELP and TYPE on every family,
 * counters ending in _total, base units. A reference parser accepts all of these, so they
 * warn and never fail on their own.
 */
import type { Judgement } from '../../src/judge.js';
import type { ProblemKind } from '../../src/prom/parse.js';
import { defineExpositionCheck, countProblems, problemsJudgement } from './problems.js';

const KINDS: readonly ProblemKind[] = ['naming', 'units', 'lint'];

export const metricsNaming = defineExpositionCheck({
  id: 'metrics.naming',
  title: 'Metric names and units',
  judge(scrape): Judgement {
    const { result } = scrape;
    const fixes = [
      result.countsByKind.lint.warnings > 0 ? 'give every family a HELP and a TYPE line, histograms and summaries their _sum and _count, and keep counters from going down (prometheus_client does all of this for you)' : null,
      result.countsByKind.naming.warnings > 0 ? 'rename counters to end in _total' : null,
      result.countsByKind.units.warnings > 0 ? 'use base units: seconds, not milliseconds; bytes, not kilobytes or megabytes' : null,
    ].filter((f): f is string => f !== null);
    return problemsJudgement(
      result.problems.filter((p) => KINDS.includes(p.kind)),
      countProblems(result, KINDS),
      'every family has HELP and TYPE, counters end in _total and units are base units',
      { error: fixes.join('; '), warning: fixes.join('; ') },
    );
  },
});
