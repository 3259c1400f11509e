/**
 * The lint rules, promlint's way: a table of `(family) => problems`, run by the validator
 * when a family's group ends. Adding a rule is adding a row.
 */
import { counterTotal, declaredType, helpText } from './naming.js';
import { baseUnits } from './units.js';
import { histogramComplete, summaryComplete } from './histogram.js';
import type { ClosedFamily, LintProblem, LintRule } from './types.js';

/**
 * `family` rules judge a family once, at the end of its first group; `group` rules judge what
 * each group held (a family interrupted by others and continued later has several groups).
 */
export const LINT_RULES: ReadonlyArray<{ id: string; scope: 'family' | 'group'; rule: LintRule }> = [
  { id: 'help', scope: 'family', rule: helpText },
  { id: 'type', scope: 'family', rule: declaredType },
  { id: 'counter-total', scope: 'family', rule: counterTotal },
  { id: 'base-units', scope: 'family', rule: baseUnits },
  { id: 'histogram-complete', scope: 'group', rule: histogramComplete },
  { id: 'summary-complete', scope: 'group', rule: summaryComplete },
];

/** The lints of one group that has ended; `continued` when an earlier group of the family was judged already. */
export function lintFamily(family: ClosedFamily, continued: boolean): LintProblem[] {
  return LINT_RULES.filter((r) => !continued || r.scope === 'group').flatMap(({ rule }) => rule(family));
}

export type { ClosedFamily, LintProblem, LintRule, HistogramChildView, SummaryChildView } from './types.js';
export { NON_BASE_UNITS } from './units.js';
export { LabelTracker, unboundedValueReason } from './cardinality.js';
