/**
 * The steady load of `watch --url`: the suite, round after round, from this machine against
 * the URL as given, until the watch ends. The figures feed the watch.load check.
 */
import { errorMessage } from '../errors.js';
import type { Settings } from '../settings.js';
import type { Progress } from '../report/progress.js';
import type { LoadStats } from './types.js';

/** Runs the suite round after round until aborted; `snapshot` gives the figures so far. */
export function driveLoad(settings: Settings, url: string, signal: AbortSignal, progress: Progress): { snapshot(): Promise<LoadStats> } {
  const stats: LoadStats = { url, rounds: 0, cases: 0, requestsSent: 0, notPassing: 0, errors: 0, stopped: null };
  const loop = (async () => {
    try {
      const { runSuiteDetailed } = await import('../suite/run.js');
      const { loadSuite } = await import('../suite/load.js');
      const suite = loadSuite({ casesFile: settings.casesFile, tags: settings.tags });
      while (!signal.aborted) {
        const round = await runSuiteDetailed(settings, { url, suite, signal });
        if (signal.aborted) break; // a round cut short is not counted
        if (round.unauthorized) {
          stats.stopped = round.unauthorized.summary;
          stats.authFix = round.unauthorized.fix;
          progress.log(`load: ${stats.stopped}; stopped driving the suite`);
          break;
        }
        stats.rounds += 1;
        stats.cases += round.cases.length;
        stats.requestsSent += round.requestsSent;
        stats.notPassing += round.cases.filter((c) => c.status === 'fail' || c.status === 'warn').length;
        const errors = round.cases.filter((c) => c.status === 'error').length;
        stats.errors += errors;
        // No case of the round got an HTTP answer (skipped cases sent nothing; a probe that met a refused connection fails rather than errs).
        const sent = round.cases.filter((c) => c.status !== 'skip');
        if (sent.length > 0 && sent.every((c) => c.httpStatus === undefined)) {
          stats.stopped = `every request of round ${stats.rounds} failed (${sent.find((c) => c.status === 'error')?.message ?? sent[0]!.message ?? 'no answer'})`;
          progress.log(`load: ${stats.stopped}; stopped driving the suite`);
          break;
        }
      }
    } catch (error) {
      stats.stopped = errorMessage(error);
      progress.log(`load: could not run the suite: ${stats.stopped}`);
    }
  })();
  return {
    // The round in flight when the watch ends is abandoned, not waited for: its requests have their own time limits.
    snapshot: async () => {
      await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, 50))]);
      return { ...stats };
    },
  };
}
