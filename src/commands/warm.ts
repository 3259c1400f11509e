/**
 * `guard-doctor warm --url URL`: the ready and warm phases of `up` (src/phases/), for a server
 * started some other way. There is no container to watch, so only the ready time-out ends a
 * hopeless wait; a failed phase becomes the report the way it does for `up` (src/phases/run.ts).
 */
import { EXIT } from '../types.js';
import type { Settings } from '../settings.js';
import { localHost } from '../exec.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { createProgress } from '../report/progress.js';
import { paint } from '../report/style.js';
import { installInterruptGuard } from '../launch/signals.js';
import { createUpRun, runPhases } from '../phases/run.js';
import { WARM_PHASES } from '../phases/index.js';

export async function run(settings: Settings): Promise<number> {
  const url = settings.url!;
  const guard = installInterruptGuard();
  try {
    const run = createUpRun({ settings, host: localHost, signal: guard.signal, suite: null, progressEnabled: !settings.json, setLeftBehind: () => undefined, externalUrl: url });
    // The report is the only output: no progress lines that stay.
    run.log = () => undefined;
    run.progress = await createProgress(settings.output, { when: 'unless-json', initial: `Waiting for ${url}` });
    const result = await runPhases(run, WARM_PHASES);
    if (result.interrupted) {
      process.stderr.write(result.lines.map((l) => `guard-doctor: ${l}`).join('\n') + '\n');
      return EXIT.interrupted;
    }
    const ready = result.checks.find((c) => c.id === 'server.ready')?.status === 'pass';
    // Web without --model: the image names no model, and none was sent.
    const servedModelName = settings.server === 'web' && !settings.modelGiven ? null : run.servedModelName;
    const warm = ready
      ? { url, servedModelName, readyMs: result.launch.readyMs, coldMs: result.launch.coldMs, warmP50Ms: result.launch.warmP50Ms, warmMs: result.checks.find((c) => c.id === 'server.warm')?.measured?.warmMs ?? [] }
      : { url, coldMs: null, warmP50Ms: null };
    const report = buildReport('warm', { checks: result.checks, warm }, settings.strict, result.exitCode);
    return await emitReport(report, settings, (r) => [paint.bold(`guard-doctor warm: ${url} (${settings.server})`), '', ...renderChecks(r.checks ?? [], settings.verbose), '', footer(r, 'result')]);
  } finally {
    guard.dispose();
  }
}
