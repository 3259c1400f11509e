/**
 * The terminal report of `metrics`: the checks, then the first problems of metrics.format and
 * metrics.naming with the line each names (-v shows them all, as details), then the footer.
 */
import type { Settings } from '../settings.js';
import type { Report } from '../types.js';
import { footer, renderChecks } from './human.js';
import { paint } from './style.js';

/** Problems listed under a check in the terminal report (all are in --json up to the validator's cap). */
const PROBLEMS_SHOWN = 10;

export function renderMetricsReport(report: Report, settings: Settings, shownUrl: string): string[] {
  const checks = report.checks ?? [];
  const lines = [paint.bold(`guard-doctor metrics: ${shownUrl} (expecting ${settings.server} metrics)`), '', ...renderChecks(checks, settings.verbose)];
  for (const c of settings.verbose ? [] : checks) {
    const problems = (c.measured?.problems as Array<{ line: number; text: string; message: string }> | undefined) ?? [];
    if (problems.length === 0) continue;
    lines.push('', `  ${paint.bold(`${c.id}:`)}`);
    for (const p of problems.slice(0, PROBLEMS_SHOWN)) {
      lines.push(`    ${paint.dim(`line ${p.line}:`)} ${p.message}`);
      if (p.text) lines.push(`      ${paint.dim('|')} ${p.text}`);
    }
    if (problems.length > PROBLEMS_SHOWN) lines.push(`    ${paint.dim(`... ${problems.length - PROBLEMS_SHOWN} more (-v or --json for all)`)}`);
  }
  lines.push('', footer(report, 'check'));
  return lines;
}
