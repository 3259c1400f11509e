/**
 * Incomplete histograms and summaries. The reference parsers accept a histogram without
 * `_sum`, `_count` or a `+Inf` bucket (and a summary without `_sum`/`_count`), but
 * histogram_quantile() and average-latency queries then give nothing or nonsense.
 */
import type { LintProblem, LintRule } from './types.js';

export const histogramComplete: LintRule = (family) => {
  const out: LintProblem[] = [];
  for (const child of family.histogram) {
    const where = `histogram ${family.name}${child.labelsText}`;
    const at = { line: child.firstLine, text: child.firstText, kind: 'lint' as const };
    if (child.buckets === 0) out.push({ ...at, message: `${where} has no _bucket samples` });
    else if (child.infValue === null) out.push({ ...at, message: `${where} has no le="+Inf" bucket` });
    if (child.count === null) out.push({ ...at, message: `${where} has no ${family.name}_count` });
    else if (child.infValue !== null && child.infValue !== child.count) {
      out.push({ ...at, message: `${where}: the le="+Inf" bucket (${formatNumber(child.infValue)}) differs from ${family.name}_count (${formatNumber(child.count)}); they must be equal` });
    }
    if (!child.hasSum) out.push({ ...at, message: `${where} has no ${family.name}_sum` });
  }
  return out;
};

export const summaryComplete: LintRule = (family) => {
  const out: LintProblem[] = [];
  for (const child of family.summary) {
    const where = `summary ${family.name}${child.labelsText}`;
    const at = { line: child.firstLine, text: child.firstText, kind: 'lint' as const };
    if (!child.count) out.push({ ...at, message: `${where} has no ${family.name}_count` });
    if (!child.sum) out.push({ ...at, message: `${where} has no ${family.name}_sum` });
  }
  return out;
};

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}
