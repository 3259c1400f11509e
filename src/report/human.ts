/**
 * The terminal report: checks in their fixed order, one line each with a mark, the found
 * values, and a fix line for anything that does not pass; a footer with the counts.
 */
import type { CheckResult, Report, Summary } from '../types.js';
import { mark, paint } from './style.js';
import { padEnd, plural } from './format.js';

export function renderChecks(checks: readonly CheckResult[], verbose: boolean): string[] {
  const width = Math.max(...checks.map((c) => c.id.length), 10) + 2;
  const lines: string[] = [];
  for (const check of checks) {
    const summary = check.status === 'skip' ? paint.dim(`skipped: ${check.summary}`) : check.summary;
    lines.push(`  ${mark(check.status)} ${padEnd(check.id, width)}${summary}`);
    const indent = ' '.repeat(4 + width);
    if (check.fix && check.status !== 'pass' && check.status !== 'skip') lines.push(`${indent}${paint.cyan('fix:')} ${check.fix}`);
    if (verbose) for (const detail of check.details ?? []) lines.push(`${indent}${paint.dim(detail)}`);
  }
  return lines;
}

export function footer(report: Report, what: string): string {
  const s: Summary = report.summary;
  const parts: string[] = [];
  if (s.fail) parts.push(paint.red(`${s.fail} failed`));
  if (s.error) parts.push(paint.magenta(`${s.error} could not tell`));
  if (s.warn) parts.push(paint.yellow(plural(s.warn, 'warning')));
  parts.push(paint.green(`${s.pass} passed`));
  if (s.skip) parts.push(paint.dim(`${s.skip} skipped`));
  const total = s.pass + s.warn + s.fail + s.skip + s.error;
  return `${parts.join(', ')} (${plural(total, what)}) ${paint.dim(`exit ${report.exitCode}`)}`;
}
