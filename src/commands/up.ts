/**
 * `guard-doctor up`: check, start the serving container, wait until it answers (watching it
 * die), warm it, run the suite, and leave it running with directions to reach and stop it.
 * The work is the phases in src/phases/ (preflight → launch → ready → warm → suite), which a
 * fleet host runs too; this file adds the dry run, Ctrl-C and the report for this machine.
 * A container this run did not start is never stopped or removed (unless --replace says so).
 */
import { UsageError } from '../errors.js';
import { EXIT } from '../types.js';
import type { Settings } from '../settings.js';
import { localHost } from '../exec.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { paint } from '../report/style.js';
import { buildRunCommand, renderCommand } from '../launch/run-args.js';
import { installInterruptGuard } from '../launch/signals.js';
import { loadSuite } from '../suite/load.js';
import { renderSuiteReport } from '../suite/report.js';
import { serverUrl } from '../phases/context.js';
import { describeTarget } from '../phases/preflight.js';
import { createUpRun, runUp } from '../phases/run.js';

export async function run(settings: Settings): Promise<number> {
  if (settings.server === 'web' && !settings.imageGiven) {
    throw new UsageError('--image is required with --server web (the Qwen3Guard-Gen web image has no default), e.g. --image registry.example.com/qwen3guard-web:latest');
  }
  // An invalid --cases file or --tag is a usage error before anything starts.
  const suite = settings.runSuite && !settings.dryRun ? loadSuite({ casesFile: settings.casesFile, tags: settings.tags }) : null;
  if (settings.dryRun) return dryRun(await dryRunGpu(settings));

  const guard = installInterruptGuard((signalName) => {
    process.stderr.write(`\nguard-doctor: ${signalName}: stopping${settings.keep ? ' (--keep: the container stays)' : ''}...\n`);
  });
  try {
    const run = createUpRun({ settings, host: localHost, signal: guard.signal, suite, progressEnabled: !settings.json, setLeftBehind: (text) => guard.setLeftBehind(text) });
    const result = await runUp(run);
    if (result.interrupted) {
      process.stderr.write(result.lines.map((l) => `guard-doctor: ${l}`).join('\n') + '\n');
      return EXIT.interrupted;
    }
    const report = buildReport('up', { checks: result.checks, ...(result.cases ? { cases: result.cases } : {}), launch: result.launch, ...result.fields }, settings.strict, result.exitCode);
    const header = paint.bold(`guard-doctor up: ${describeTarget(settings)}`);
    return await emitReport(report, settings, (r) => [
      header,
      '',
      ...renderChecks(r.checks ?? [], settings.verbose),
      ...(r.cases ? ['', paint.bold('Edge-case suite:'), ...renderSuiteReport(r.cases, { verbose: settings.verbose })] : []),
      '',
      footer(r, 'result'),
      ...result.lines,
    ]);
  } finally {
    guard.dispose();
  }
}

/**
 * Without --gpu, `up` starts on the GPU the checks judge; the dry run asks the GPU probe (one
 * nvidia-smi call, nothing else) so that the command it prints is that one. When no GPU can be
 * chosen it says why on stderr and prints the command with every GPU.
 */
async function dryRunGpu(settings: Settings): Promise<Settings> {
  if (settings.cpu || settings.gpu !== null || settings.migDevice) return settings;
  const [{ gatherFacts }, { judgedGpuFlag }] = await Promise.all([import('../probes/index.js'), import('../phases/preflight.js')]);
  const facts = await gatherFacts(['gpu'], settings, localHost);
  const pinned = judgedGpuFlag(facts, settings);
  if (pinned) return { ...settings, ...pinned };
  const outcome = facts.gpu;
  const why = !outcome ? 'no GPU facts' : !outcome.ok ? outcome.message : outcome.value.state === 'none' ? outcome.value.summary : 'no GPU chosen';
  process.stderr.write(`guard-doctor: no GPU could be chosen (${why}); the command hands the container every GPU. guard-doctor check says more.\n`);
  return settings;
}

function dryRun(settings: Settings): number {
  const rendered = renderCommand(buildRunCommand(settings));
  if (settings.json) {
    const url = serverUrl(settings.publishHost, settings.port);
    const report = buildReport('up', { launch: { container: settings.name, image: settings.image, url, coldMs: null, warmP50Ms: null, dryRun: true, command: rendered } }, settings.strict);
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    process.stdout.write(`${rendered}\n`);
  }
  return EXIT.ok;
}
