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

export async function run(settings: Settings): Promise<number> {
  const name = settings.name;
  const found = await inspectContainer(settings.runtime, name);
  if (!found.exists) {
    return emit(settings, EXIT.failed, { removed: false }, `guard-doctor: no container named ${name}; nothing was stopped.\n  fix: list the containers up started with: ${settings.runtime} ps -a --filter label=${LABEL.managed}=true`, true);
  }
  if (found.info.labels[LABEL.managed] !== 'true') {
    return emit(settings, EXIT.failed, { removed: false }, `guard-doctor: ${name} was not started by guard-doctor (it has no ${LABEL.managed} label); leaving it alone.\n  fix: remove it yourself if you mean to: ${settings.runtime} rm -f ${name}`, true);
  }
  const wasRunning = found.info.running;
  const result = await stopAndRemove(settings.runtime, name);
  if (!result.ok) {
    return emit(settings, EXIT.undetermined, { removed: false }, `guard-doctor: could not remove ${name}: ${result.message}`, true);
  }
  return emit(settings, EXIT.ok, { removed: true, wasRunning }, `${wasRunning ? 'Stopped and removed' : 'Removed'} ${name}.`, false);
}
