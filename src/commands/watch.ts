/**
 * `guard-doctor watch`: sample GPU memory per process and per GPU every `--interval` for
 * `--duration`, optionally while driving the suite in a loop against `--url` (steady load),
 * then fit a trend per process and per GPU and warn where memory keeps rising (a KV-cache or
 * tensor leak is what kills a guard after hours). Ctrl-C ends the watch early and still
 * reports; a second Ctrl-C quits at once.
 *
 * settings → the sampling loop through the GPU probe (src/watch/) → the checks
 * (checks/watch/) → one report (src/report/watch.ts). With --host the fleet runs the same
 * watch on each host (src/fleet/run.ts).
 */
import { localHost } from '../exec.js';
import type { Settings } from '../settings.js';
import type { HostOutcome } from '../fleet/report.js';
import type { SshHost } from '../ssh.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { createProgress, type Progress } from '../report/progress.js';
import { renderWatchReport, trendTable, watchTitle } from '../report/watch.js';
import { seconds } from '../watch/format.js';
import { validateWatch, watchDocument, watchOn } from '../watch/run.js';

export async function run(settings: Settings): Promise<number> {
  validateWatch(settings);
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const progress = await createProgress(settings.output, {
    when: 'always',
    heartbeatMs: Math.max(settings.intervalMs, 5000),
    initial: `Watching GPU memory every ${seconds(settings.intervalMs)} for ${seconds(settings.durationMs)}${settings.url ? ` while running the suite against ${settings.url}` : ''} (Ctrl-C ends early)`,
  });
  let watched: Awaited<ReturnType<typeof watchOn>>;
  try {
    watched = await watchOn(settings, localHost, controller.signal, progress);
  } finally {
    process.off('SIGINT', onSigint);
    progress.stop();
  }
  const report = buildReport('watch', { checks: watched.checks, watch: watchDocument(settings, watched) }, settings.strict);
  return emitReport(report, settings, (r) => renderWatchReport(r, settings, watched.trends, watched.endedEarly));
}

/** `watch --host`: the same watch with the host as executor; Ctrl-C (`signal`) ends it early, still reported. */
export async function watchOnHost(settings: Settings, host: SshHost, signal: AbortSignal): Promise<HostOutcome> {
  // Hosts run side by side: no spinner, only the lines that should stay, each naming its host.
  const say = (line: string) => process.stderr.write(`guard-doctor: ${host.label}: ${line}\n`);
  const progress: Progress = { update() {}, log: say, succeed: say, fail: say, stop() {} };
  say(`watching GPU memory every ${seconds(settings.intervalMs)} for ${seconds(settings.durationMs)}${settings.url ? ` while running the suite against ${settings.url} from this machine` : ''} (Ctrl-C ends early)`);
  const watched = await watchOn(settings, host, signal, progress);
  const table = trendTable(watched.trends);
  return {
    checks: watched.checks,
    fields: { watch: watchDocument(settings, watched) },
    lines: ['', `  ${watchTitle(settings, watched.endedEarly)}`, ...table],
  };
}
