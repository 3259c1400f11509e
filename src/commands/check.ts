/** `guard-doctor check`: gather the host's facts once, judge every preflight check, report. */
import { CHECK_TABLES, selectChecks } from '../../checks/index.js';
import { localHost } from '../exec.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { paint } from '../report/style.js';
import type { Settings } from '../settings.js';
import type { Report } from '../types.js';
import { describeTarget, preflight, preflightChecks } from '../phases/preflight.js';

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
  if (settings.listChecks) return listChecks(settings);
  // An unknown --only is a usage error (exit 2) before any probe runs.
  const checks = settings.only.length > 0 ? selectChecks(settings.only) : preflightChecks(settings);
  const { checks: judged } = await preflight(settings, localHost, checks);
  const report = buildReport('check', { checks: judged }, settings.strict);
  return emitReport(report, settings, (r) => renderCheckReport(r, settings));
}

async function listChecks(settings: Settings): Promise<number> {
  const { checkListDocument, renderCheckList } = await import('../report/check-list.js');
  const text = settings.json ? JSON.stringify(checkListDocument(CHECK_TABLES), null, 2) : renderCheckList(CHECK_TABLES).join('\n');
  process.stdout.write(text + '\n');
  return 0;
}
