/**
 * The ready phase: watch the container (it dying aborts the wait at once) and wait until the
 * server gives a real answer, within --ready-timeout. For a server started some other way
 * (warm --url) there is no container: only the time-out ends a hopeless wait.
 */
import { errorMessage } from '../errors.js';
import { EXIT } from '../types.js';
import { ms, truncate } from '../report/format.js';
import { waitUntilReady } from '../launch/ready.js';
import { containerLogs } from '../launch/container.js';
import { watchDownload } from '../launch/download.js';
import { publishedDownloadBytes } from '../data/hub.js';
import type { CheckResult } from '../types.js';
import type { Settings } from '../settings.js';
import { readyFailed, readyPassed } from '../../checks/server/ready.js';
import { Interrupted } from '../launch/signals.js';
import { ContainerStopped, watchContainer } from '../launch/watcher.js';
import { PhaseFailure, elapsedText, type UpRun } from './context.js';
import { collectFailure, failureLines, leftBehindLines, onHostFlag } from './failure.js';

/** A log line cut to what fits beside the spinner's text. */
export function truncateLine(line: string): string {
  return truncate(line.trim(), Math.max(20, (process.stderr.columns ?? 100) - 40));
}

/**
 * The server did not get ready or warm. A container: its log, the diagnosis, exit 4. A server
 * started some other way: the report says it (exit 4), and a 401 is a failed check (exit 1),
 * since the server is up and answering.
 */
export async function startedFailure(run: UpRun, reason: string, unauthorized = false): Promise<PhaseFailure> {
  run.watcher?.stop();
  run.progress.stop();
  if (!run.container) return new PhaseFailure(unauthorized ? EXIT.failed : EXIT.container, reason, { lines: [] });
  const failure = await collectFailure(run);
  return new PhaseFailure(EXIT.container, reason, {
    findings: failure.findings,
    logTail: failure.logTail,
    lines: [...failureLines(failure.findings, failure.logTail, null, `Last ${failure.logTail.length} lines of the container's log`, run.settings.runtime), ...leftBehindLines(run)],
  });
}

function fixFor(kind: string, run: UpRun): string {
  if (!run.container) {
    if (kind === 'timeout') return 'check that the server runs and the URL is right (host, port); read its log with guard-doctor diagnose';
    return 'pass the served model name with --model, or point --url at the right server';
  }
  const name = run.settings.name;
  const at = onHostFlag(run);
  if (kind === 'timeout') return `read the log (guard-doctor diagnose${at} --container ${name}); a slow first load may need a longer --ready-timeout`;
  if (kind === 'wrong-model') return `another server answers on port ${run.settings.port}: stop it, or publish on another --port`;
  return `read the diagnosis below and the full log: guard-doctor diagnose${at} --container ${name}`;
}

export async function readyPhase(run: UpRun): Promise<void> {
  const { settings } = run;
  const restartBaseline = run.plan.kind === 'reuse' ? run.plan.info.restartCount : 0;
  const watcher = run.container ? watchContainer(settings.runtime, settings.name, { parent: run.signal, followLog: !settings.json, initialRestartCount: restartBaseline, host: run.host }) : null;
  run.watcher = watcher;
  // A hub source on this machine: the download's progress, measured in the mounted cache.
  const download = run.container && settings.hub && !run.host.remote ? watchDownload(settings.hub, expectedDownloadBytes(run.checks, settings), settings.model.shards) : null;
  await download?.sample().catch(() => undefined);
  const waitStarted = Date.now();
  const what = run.container ? 'the server' : run.url;
  let lastProblem: string | null = null;
  const tick = setInterval(() => {
    void download?.sample().catch(() => undefined);
    const line = download?.describe() ?? watcher?.latestLine() ?? lastProblem;
    run.progress.update(`Waiting for ${what} (${elapsedText(Date.now() - waitStarted)})${line ? `: ${truncateLine(run.redact(line))}` : ''}`);
  }, 1_000);
  // The model the server must list: the one up launched; for a server started some other way, only one named with --model.
  const wanted = settings.server === 'vllm' && (run.container || settings.modelGiven) ? settings.model.name : null;
  let outcome;
  try {
    outcome = await waitUntilReady({ url: run.url, server: settings.server, servedModelName: wanted, timeoutMs: settings.readyTimeoutMs, apiKey: settings.apiKey, signal: watcher?.signal ?? run.signal, onWaiting: (state) => (lastProblem = state.lastProblem) });
  } finally {
    clearInterval(tick);
  }
  if (outcome.kind === 'aborted' && outcome.reason instanceof Interrupted) throw outcome.reason;
  if (outcome.kind !== 'ready') {
    let reason: string;
    if (outcome.kind === 'aborted') reason = outcome.reason instanceof ContainerStopped ? `${outcome.reason.message} after ${ms(outcome.elapsedMs)}` : `the wait was aborted: ${errorMessage(outcome.reason)}`;
    else if (outcome.kind === 'timeout') reason = `${run.container ? 'the server did not answer' : 'no answer'} within ${ms(settings.readyTimeoutMs)} (--ready-timeout); last seen: ${outcome.lastProblem}${download?.describe() ? `; still ${download.describe()}` : ''}`;
    else if (outcome.kind === 'unauthorized') reason = outcome.detail;
    else reason = `the server answers but ${outcome.detail}`;
    run.checks.push(readyFailed(reason, outcome.kind === 'unauthorized' ? outcome.fix : fixFor(outcome.kind, run), outcome.elapsedMs));
    throw await startedFailure(run, reason, outcome.kind === 'unauthorized');
  }
  const split = download ? download.split(outcome.elapsedMs, await containerLogs(settings.runtime, settings.name, undefined, run.host).catch(() => '')) : null;
  run.checks.push(readyPassed(outcome.elapsedMs, outcome.detail, split));
  run.launch.readyMs = outcome.elapsedMs;
  if (split) Object.assign(run.launch, { downloadMs: split.downloadMs, loadMs: split.loadMs });
  // Wall-clock moment readiness was noticed, comparable with the container's log timestamps.
  run.launch.readyAt = new Date().toISOString();
  run.servedModelName = outcome.servedModelName ?? settings.model.name;
  run.log(`Server answers after ${ms(outcome.elapsedMs)}`);
}

/** What the download adds: model.source measured it from the hub's listing, else the published size. */
function expectedDownloadBytes(checks: readonly CheckResult[], settings: Settings): number {
  const measured = checks.find((c) => c.id === 'model.source')?.measured?.downloadBytes;
  return typeof measured === 'number' ? measured : publishedDownloadBytes(settings.model);
}
