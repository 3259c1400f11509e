/** `guard-doctor check`: gather the host's facts once, judge every preflight check, report. */
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { paint } from '../report/style.js';
import type { Settings } from '../settings.js';
import type { Report } from '../types.js';
import { describeTarget, preflight } from '../phases/preflight.js';

export { describeTarget, judgeHost, preflight, preflightChecks } from '../phases/preflight.js';

export function renderCheckReport(report: Report, settings: Settings): string[] {
  return [
    paint.bold(`guard-doctor check: ${describeTarget(settings)}`),
    '',
    ...renderChecks(report.checks ?? [], settings.verbose),
    '',
    footer(report, 'check'),
  ];
}

export async function run(settings: Settings): Promise<number> {
  const checks = await preflight(settings);
  const report = buildReport('check', { checks }, settings.strict);
  return emitReport(report, settings, (r) => renderCheckReport(r, settings));
}
