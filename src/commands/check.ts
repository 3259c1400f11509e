/** `guard-doctor check`: gather the host's facts once, judge every preflight check, report. */
import { CHECK_TABLES, PREFLIGHT_CHECKS, selectChecks } from '../../checks/index.js';
import { judgeAll, neededFacts, type Check } from '../check.js';
import { gatherFacts } from '../probes/index.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { createProgress } from '../report/progress.js';
import { paint } from '../report/style.js';
import type { Settings } from '../settings.js';
import type { CheckResult, Report } from '../types.js';

/** The preflight phase, shared with `up`. */
export async function preflight(settings: Settings, checks: readonly Check[] = PREFLIGHT_CHECKS): Promise<CheckResult[]> {
  const progress = await createProgress(settings.output, { when: 'terminal', initial: 'Probing the GPU, the container runtime and the model folder' });
  try {
    const facts = await gatherFacts(neededFacts(checks, settings), settings);
    return judgeAll(checks, facts, settings);
  } finally {
    progress.stop();
  }
}

export function describeTarget(settings: Settings): string {
  const image = settings.server === 'vllm' || settings.imageGiven ? ` (${settings.image})` : '';
  const where = settings.cpu ? 'on CPU' : settings.gpu === null ? 'on the GPU with most free memory' : `on GPU ${settings.gpu}`;
  return `${settings.model.name} served by ${settings.server}${image} ${where}`;
}

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
  const checks = await preflight(settings, selectChecks(settings.only));
  const report = buildReport('check', { checks }, settings.strict);
  return emitReport(report, settings, (r) => renderCheckReport(r, settings));
}

async function listChecks(settings: Settings): Promise<number> {
  const { checkListDocument, renderCheckList } = await import('../report/check-list.js');
  const text = settings.json ? JSON.stringify(checkListDocument(CHECK_TABLES), null, 2) : renderCheckList(CHECK_TABLES).join('\n');
  process.stdout.write(text + '\n');
  return 0;
}
