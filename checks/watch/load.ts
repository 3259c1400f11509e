/**
 * watch.load: did the suite run as a steady load while watching (`--url`)? A 401 is the
 * server's answer (fail, with the key's fix); no round at all is "could not tell"; a load that
 * stopped or never finished a round is not steady (warn).
 */
import { checkResult } from '../../src/judge.js';
import { plural } from '../../src/report/format.js';
import type { Settings } from '../../src/settings.js';
import type { CheckResult } from '../../src/types.js';
import { seconds } from '../../src/watch/format.js';
import type { LoadStats } from '../../src/watch/types.js';

export const watchLoad = { id: 'watch.load', title: 'Steady load from the suite' } as const;

/** Was memory watched under a steady load? Only then is a rise called a leak outright. */
export function underSteadyLoad(load: LoadStats | null): boolean {
  return load !== null && load.rounds > 0 && load.stopped === null;
}

export function judgeLoad(load: LoadStats, settings: Pick<Settings, 'durationMs'>): CheckResult {
  const { id, title } = watchLoad;
  const measured = { ...load };
  if (load.authFix) return checkResult(id, title, 'fail', `could not drive the suite against ${load.url}: ${load.stopped}`, { measured, fix: load.authFix });
  if (load.stopped && load.rounds === 0) return checkResult(id, title, 'error', `could not drive the suite against ${load.url}: ${load.stopped}`, { measured, fix: 'check --url with guard-doctor suite --url first' });
  if (load.stopped) return checkResult(id, title, 'warn', `the load stopped after ${plural(load.rounds, 'round')}: ${load.stopped}`, { measured });
  if (load.rounds === 0) {
    return checkResult(id, title, 'warn', `no suite round finished within the watch (${seconds(settings.durationMs)}); the load was not steady`, { measured, fix: 'watch longer (--duration) so that several suite rounds finish' });
  }
  return checkResult(
    id,
    title,
    load.errors > 0 ? 'warn' : 'pass',
    `${plural(load.rounds, 'suite round')}, ${plural(load.requestsSent, 'request')} sent against ${load.url}${load.errors ? `, ${load.errors} cases without an answer` : ''}`,
    { measured },
  );
}
