/**
 * The ready phase: watch the container (it dying aborts the wait at once) and wait until the
 * server gives a real answer, within --ready-timeout.
 */
import { errorMessage } from '../errors.js';
import { EXIT } from '../types.js';
import { ms, truncate } from '../report/format.js';
import { waitUntilReady } from '../launch/ready.js';
import { readyResult } from '../launch/warm.js';
import { Interrupted } from '../launch/signals.js';
import { ContainerStopped, watchContainer } from '../launch/watcher.js';
import { PhaseFailure, elapsedText, type UpRun } from './context.js';
import { collectFailure, failureLines, leftBehindLines } from './failure.js';

/** A log line cut to what fits beside the spinner's text. */
export function truncateLine(line: string): string {
  return truncate(line.trim(), Math.max(20, (process.stderr.columns ?? 100) - 40));
}

/** The container started but did not get ready or warm: its log, the diagnosis, exit 4. */
export async function startedFailure(run: UpRun, reason: string): Promise<PhaseFailure> {
  run.watcher?.stop();
  run.progress.stop();
  const failure = await collectFailure(run);
  return new PhaseFailure(EXIT.container, reason, {
    findings: failure.findings,
    logTail: failure.logTail,
    lines: [...failureLines(failure.findings, failure.logTail, null, `Last ${failure.logTail.length} lines of the container's log`), ...leftBehindLines(run)],
  });
}

function fixFor(kind: string, run: UpRun): string {
  const name = run.settings.name;
  const at = run.host.remote ? ` --host ${run.host.label}` : '';
  if (kind === 'timeout') return `read the log (guard-doctor diagnose${at} --container ${name}); a slow first load may need a longer --ready-timeout`;
  if (kind === 'wrong-model') return `another server answers on port ${run.settings.port}: stop it, or publish on another --port`;
  return `read the diagnosis below and the full log: guard-doctor diagnose${at} --container ${name}`;
}

export async function readyPhase(run: UpRun): Promise<void> {
  const { settings } = run;
  const restartBaseline = run.plan.kind === 'reuse' ? run.plan.info.restartCount : 0;
  const watcher = watchContainer(settings.runtime, settings.name, { parent: run.signal, followLog: !settings.json, initialRestartCount: restartBaseline, host: run.host });
  run.watcher = watcher;
  const waitStarted = Date.now();
  const tick = setInterval(() => {
    const line = watcher.latestLine();
    run.progress.update(`Waiting for the server (${elapsedText(Date.now() - waitStarted)})${line ? `: ${truncateLine(run.redact(line))}` : ''}`);
  }, 1_000);
  let outcome;
  try {
    outcome = await waitUntilReady({ url: run.url, server: settings.server, servedModelName: settings.server === 'vllm' ? settings.model.name : null, timeoutMs: settings.readyTimeoutMs, signal: watcher.signal });
  } finally {
    clearInterval(tick);
  }
  if (outcome.kind === 'aborted' && outcome.reason instanceof Interrupted) throw outcome.reason;
  if (outcome.kind !== 'ready') {
    let reason: string;
    if (outcome.kind === 'aborted') reason = outcome.reason instanceof ContainerStopped ? `${outcome.reason.message} after ${ms(outcome.elapsedMs)}` : `the wait was aborted: ${errorMessage(outcome.reason)}`;
    else if (outcome.kind === 'timeout') reason = `the server did not answer within ${ms(settings.readyTimeoutMs)} (--ready-timeout); last seen: ${outcome.lastProblem}`;
    else reason = `the server answers but ${outcome.detail}`;
    run.checks.push({ id: 'server.ready', title: 'Server answers', status: 'fail', summary: reason, fix: fixFor(outcome.kind, run), durationMs: outcome.elapsedMs });
    throw await startedFailure(run, reason);
  }
  run.checks.push(readyResult(outcome.elapsedMs, outcome.detail));
  run.launch.readyMs = outcome.elapsedMs;
  // Wall-clock moment readiness was noticed, comparable with the container's log timestamps.
  run.launch.readyAt = new Date().toISOString();
  run.servedModelName = outcome.servedModelName ?? settings.model.name;
  run.log(`Server answers after ${ms(outcome.elapsedMs)}`);
}
