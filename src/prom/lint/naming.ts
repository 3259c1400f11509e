/** promtool's naming lints: a HELP text, a TYPE, and `_total` on counters. */
import type { LintRule } from './types.js';

export const helpText: LintRule = (family) =>
  family.help === null
    ? [{ line: family.firstLine, text: family.firstText, kind: 'lint', message: `no HELP line for ${family.name}; add "# HELP ${family.name} <what it counts>" so dashboards can explain it` }]
    : [];

/** Without TYPE a family is untyped: valid, but rate() and histogram_quantile() cannot rely on it. */
export const declaredType: LintRule = (family) =>
  family.type === null && family.sawSample
    ? [{ line: family.firstLine, text: family.firstText, kind: 'lint', message: `no TYPE line for ${family.name}, so Prometheus stores it as untyped; add "# TYPE ${family.name} <counter|gauge|histogram|summary>"` }]
    : [];

export const counterTotal: LintRule = (family) => {
  if (family.type !== 'counter') return [];
  const why = '(rate() queries, recording rules and OpenMetrics expect the suffix)';
  if (family.firstNonTotalSample) {
    const { line, text, name } = family.firstNonTotalSample;
    return [{ line, text, kind: 'naming', message: `counter ${name} does not end in _total; name it ${name}_total ${why}` }];
  }
  // `# TYPE x counter` with samples `x_total` (the OpenMetrics style) is fine; a counter declared without samples is judged by its name.
  if (!family.sawSample && !family.name.endsWith('_total')) {
    return [{ line: family.firstLine, text: family.firstText, kind: 'naming', message: `counter ${family.name} does not end in _total; name it ${family.name}_total ${why}` }];
  }
  return [];
};
