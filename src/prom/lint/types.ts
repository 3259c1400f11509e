/**
 * What the lint rules see of a metric family once its group has ended, and what they may say.
 * Lints are promtool's kind of advice (names, units, help texts, incomplete histograms): a
 * reference parser accepts every exposition they complain about, so they are warnings and
 * never make an exposition invalid.
 */
import type { MetricType } from '../parse.js';

export interface LintProblem {
  line: number;
  text: string;
  message: string;
  kind: 'naming' | 'units' | 'lint';
}

/** A histogram child (one label set without `le`): what its samples added up to. */
export interface HistogramChildView {
  firstLine: number;
  firstText: string;
  /** `{method="POST"}`, for messages; empty for a child without labels. */
  labelsText: string;
  buckets: number;
  infValue: number | null;
  count: number | null;
  hasSum: boolean;
}

export interface SummaryChildView {
  firstLine: number;
  firstText: string;
  labelsText: string;
  count: boolean;
  sum: boolean;
}

export interface ClosedFamily {
  name: string;
  type: MetricType | null;
  help: string | null;
  firstLine: number;
  firstText: string;
  sawSample: boolean;
  /** counter: the first sample whose name does not end in `_total`. */
  firstNonTotalSample: { line: number; text: string; name: string } | null;
  histogram: readonly HistogramChildView[];
  summary: readonly SummaryChildView[];
}

/** One rule: a family in, what is wrong with it out. */
export type LintRule = (family: ClosedFamily) => LintProblem[];
