/** promtool's unit lint: metric names carry base units. */
import type { LintRule } from './types.js';

/**
 * Non-base units and what to use instead. Prometheus metric names use base units so that
 * `rate()` and dashboards combine without conversion factors.
 */
export const NON_BASE_UNITS: ReadonlyArray<{ suffix: string; base: string }> = [
  { suffix: '_milliseconds', base: '_seconds' },
  { suffix: '_millis', base: '_seconds' },
  { suffix: '_ms', base: '_seconds' },
  { suffix: '_microseconds', base: '_seconds' },
  { suffix: '_us', base: '_seconds' },
  { suffix: '_nanoseconds', base: '_seconds' },
  { suffix: '_ns', base: '_seconds' },
  { suffix: '_minutes', base: '_seconds' },
  { suffix: '_hours', base: '_seconds' },
  { suffix: '_days', base: '_seconds' },
  { suffix: '_kilobytes', base: '_bytes' },
  { suffix: '_megabytes', base: '_bytes' },
  { suffix: '_gigabytes', base: '_bytes' },
  { suffix: '_kb', base: '_bytes' },
  { suffix: '_mb', base: '_bytes' },
  { suffix: '_gb', base: '_bytes' },
  { suffix: '_kib', base: '_bytes' },
  { suffix: '_mib', base: '_bytes' },
  { suffix: '_gib', base: '_bytes' },
];

function stripSuffixes(name: string): string {
  return name.replace(/_(total|bucket|sum|count|created)$/, '');
}

export const baseUnits: LintRule = (family) => {
  const stem = stripSuffixes(family.name);
  const unit = NON_BASE_UNITS.find((u) => stem.toLowerCase().endsWith(u.suffix));
  if (!unit) return [];
  const better = stem.slice(0, -unit.suffix.length) + unit.base;
  return [{ line: family.firstLine, text: family.firstText, kind: 'units', message: `${family.name} is not in a base unit (${unit.suffix.slice(1)}); use ${unit.base.slice(1)}, e.g. ${better}, and convert the values` }];
};
