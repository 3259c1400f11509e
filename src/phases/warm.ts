/** The warm phase: the cold first request within --warm-timeout, then a few warm ones. */
import { ms } from '../report/format.js';
import { warmUp } from '../launch/warm.js';
import { warmJudged } from '../../checks/server/warm.js';
import { abortable } from '../launch/signals.js';
import { ContainerStopped } from '../launch/watcher.js';
import { elapsedText, type UpRun } from './context.js';
import { startedFailure, truncateLine } from './ready.js';

export async function warmPhase(run: UpRun): Promise<void> {
  const { settings } = run;
  // A watched container that dies ends the warm-up at once; a server started some other way has only the time limits.
  const signal = run.watcher?.signal ?? run.signal;
  const { createGuardClient } = await import('../guard-client.js');
  const client = (timeoutMs: number) => createGuardClient({ url: run.url, server: settings.server, model: run.servedModelName, apiKey: settings.apiKey, timeoutMs, signal });
  const coldClient = client(settings.warmTimeoutMs);
  const warmClient = client(settings.requestTimeoutMs);
  const warmStarted = Date.now();
  const warmTick = setInterval(() => {
    const line = run.watcher?.latestLine();
    run.progress.update(`Warming (${elapsedText(Date.now() - warmStarted)})${line ? `: ${truncateLine(run.redact(line))}` : ''}`);
  }, 1_000);
  let warm;
  try {
    warm = await abortable(
      warmUp({ cold: (input) => coldClient.moderate(input), warm: (input) => warmClient.moderate(input), coldTimeoutMs: settings.warmTimeoutMs, signal, onPhase: (text) => run.progress.update(text) }, run.redact),
      signal,
    );
  } catch (error) {
    if (error instanceof ContainerStopped) warm = { ok: false, coldMs: null, warmMs: [], warmP50Ms: null, problem: `${error.message} during the warm-up` };
    else throw error;
  } finally {
    clearInterval(warmTick);
  }
  run.launch.coldMs = warm.coldMs;
  run.launch.warmP50Ms = warm.warmP50Ms;
  run.checks.push(warmJudged(warm));
  if (!warm.ok) throw await startedFailure(run, warm.problem ?? 'the warm-up failed');
  run.log(`Warm: cold request ${ms(warm.coldMs)}, warm p50 ${ms(warm.warmP50Ms)}`);
}
