/**
 * `guard-doctor down`: stop (SIGTERM, a grace period, then SIGKILL) and remove the container
 * `up` started. Exit 0 when it is gone; exit 1 with a clear message when there is no such
 * container (so a mistyped name does not pass silently) or when it was not started by
 * guard-doctor (it carries no guard-doctor.managed label: remove it yourself).
 */
import { EXIT } from '../types.js';
import type { Settings } from '../settings.js';
import { buildReport } from '../report/outcome.js';
import { inspectContainer, stopAndRemove } from '../launch/container.js';
import { localHost, type Host } from '../exec.js';
import { LABEL } from '../launch/run-args.js';

function emit(settings: Settings, exitCode: number, fields: Record<string, unknown>, message: string, toStderr: boolean): number {
  if (settings.json) {
    const report = buildReport('down', { container: settings.name, ...fields, message }, false, exitCode);
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    (toStderr ? process.stderr : process.stdout).write(`${message}\n`);
  }
  return exitCode;
}

export interface DownOutcome {
  exitCode: number;
  fields: Record<string, unknown>;
  message: string;
  /** The message is a complaint (stderr), not the result (stdout). */
  problem: boolean;
}

/** Stop and remove `settings.name` on `host` (this machine, or a fleet host). */
export async function downOn(settings: Settings, host: Host): Promise<DownOutcome> {
  const name = settings.name;
  const found = await inspectContainer(settings.runtime, name, host);
  if (!found.exists) {
    return { exitCode: EXIT.failed, fields: { removed: false }, message: `guard-doctor: no container named ${name}; nothing was stopped.\n  fix: list the containers up started with: ${settings.runtime} ps -a --filter label=${LABEL.managed}=true`, problem: true };
  }
  if (found.info.labels[LABEL.managed] !== 'true') {
    return { exitCode: EXIT.failed, fields: { removed: false }, message: `guard-doctor: ${name} was not started by guard-doctor (it has no ${LABEL.managed} label); leaving it alone.\n  fix: remove it yourself if you mean to: ${settings.runtime} rm -f ${name}`, problem: true };
  }
  const wasRunning = found.info.running;
  const result = await stopAndRemove(settings.runtime, name, host);
  if (!result.ok) return { exitCode: EXIT.undetermined, fields: { removed: false }, message: `guard-doctor: could not remove ${name}: ${result.message}`, problem: true };
  return { exitCode: EXIT.ok, fields: { removed: true, wasRunning }, message: `${wasRunning ? 'Stopped and removed' : 'Removed'} ${name}.`, problem: false };
}

export async function run(settings: Settings): Promise<number> {
  const outcome = await downOn(settings, localHost);
  return emit(settings, outcome.exitCode, outcome.fields, outcome.message, outcome.problem);
}
