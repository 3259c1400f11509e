/**
 * `guard-doctor warm --url URL`: the waiting and warming of `up`, for a server started some
 * other way. There is no container to watch, so only the ready time-out ends a hopeless wait.
 */
import { EXIT, type CheckResult } from '../types.js';
import type { Settings } from '../settings.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { createProgress } from '../report/progress.js';
import { paint } from '../report/style.js';
import { ms } from '../report/format.js';
import { waitUntilReady } from '../launch/ready.js';
import { readyResult, warmResult, warmUp } from '../launch/warm.js';
import { installInterruptGuard, Interrupted, abortable } from '../launch/signals.js';

export async function run(settings: Settings): Promise<number> {
  const url = settings.url!;
  const guard = installInterruptGuard();
  const progress = await createProgress(settings.output, { when: 'unless-json', initial: `Waiting for ${url}` });
  const checks: CheckResult[] = [];
  const render = (r: Parameters<typeof footer>[0]) => [paint.bold(`guard-doctor warm: ${url} (${settings.server})`), '', ...renderChecks(r.checks ?? [], settings.verbose), '', footer(r, 'result')];
  try {
    const wanted = settings.server === 'vllm' && settings.modelGiven ? settings.model.name : null;
    const waitStarted = Date.now();
    const outcome = await waitUntilReady({
      url,
      server: settings.server,
      servedModelName: wanted,
      timeoutMs: settings.readyTimeoutMs,
      apiKey: settings.apiKey,
      signal: guard.signal,
      onWaiting: ({ lastProblem }) => progress.update(`Waiting for ${url} (${Math.floor((Date.now() - waitStarted) / 1000)}s): ${lastProblem}`),
    });
    if (outcome.kind === 'aborted') throw outcome.reason;
    if (outcome.kind !== 'ready') {
      progress.stop();
      const summary =
        outcome.kind === 'timeout'
          ? `no answer within ${ms(settings.readyTimeoutMs)} (--ready-timeout); last seen: ${outcome.lastProblem}`
          : outcome.kind === 'unauthorized'
            ? outcome.detail
            : `the server answers but ${outcome.detail}`;
      const fix =
        outcome.kind === 'timeout'
          ? 'check that the server runs and the URL is right (host, port); read its log with guard-doctor diagnose'
          : outcome.kind === 'unauthorized'
            ? outcome.fix
            : 'pass the served model name with --model, or point --url at the right server';
      checks.push({ id: 'server.ready', title: 'Server answers', status: 'fail', summary, fix, durationMs: outcome.elapsedMs });
      // The server is up and answering: a missing key is a failed check (1), not a server that never got ready (4).
      const exitCode = outcome.kind === 'unauthorized' ? EXIT.failed : EXIT.container;
      return await emitReport(buildReport('warm', { checks, warm: { url, coldMs: null, warmP50Ms: null } }, settings.strict, exitCode), settings, render);
    }
    checks.push(readyResult(outcome.elapsedMs, outcome.detail));
    const { createGuardClient } = await import('../guard-client.js');
    const model = outcome.servedModelName ?? (settings.modelGiven ? settings.model.name : undefined);
    const cold = createGuardClient({ url, server: settings.server, model, apiKey: settings.apiKey, timeoutMs: settings.warmTimeoutMs, signal: guard.signal });
    const warmClient = createGuardClient({ url, server: settings.server, model, apiKey: settings.apiKey, timeoutMs: settings.requestTimeoutMs, signal: guard.signal });
    const warm = await abortable(
      warmUp({ cold: (i) => cold.moderate(i), warm: (i) => warmClient.moderate(i), coldTimeoutMs: settings.warmTimeoutMs, signal: guard.signal, onPhase: (t) => progress.update(t) }),
      guard.signal,
    );
    progress.stop();
    checks.push(warmResult(warm));
    const report = buildReport('warm', { checks, warm: { url, servedModelName: model ?? null, readyMs: outcome.elapsedMs, coldMs: warm.coldMs, warmP50Ms: warm.warmP50Ms, warmMs: warm.warmMs } }, settings.strict, warm.ok ? undefined : EXIT.container);
    return await emitReport(report, settings, render);
  } catch (error) {
    progress.stop();
    if (error instanceof Interrupted) {
      process.stderr.write(`guard-doctor: interrupted by ${error.signalName}\n`);
      return EXIT.interrupted;
    }
    throw error;
  } finally {
    guard.dispose();
  }
}
