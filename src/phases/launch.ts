/**
 * The launch phase: remove the old container (--replace), or reuse a running one that
 * matches, else pull the image when it is missing and `docker run` it. A failure here is
 * exit 4 with the runtime's own output diagnosed.
 */
import { mkdir } from 'node:fs/promises';
import { diagnose } from '../diagnose.js';
import { EXIT } from '../types.js';
import { forceRemove, imagePresent, inspectContainer, pullImage, runContainer } from '../launch/container.js';
import { abortable } from '../launch/signals.js';
import { createProgress } from '../report/progress.js';
import { PhaseFailure, type UpRun } from './context.js';
import { failureLines, leftBehindLines, onHostFlag, tail } from './failure.js';

export async function launchPhase(run: UpRun): Promise<void> {
  const { settings, host } = run;
  const cli = settings.runtime;
  const at = onHostFlag(run);
  run.progress = await createProgress(settings.output, { when: run.progressEnabled ? 'unless-json' : 'never', initial: 'Starting the container' });
  if (run.plan.kind === 'replace') {
    run.log(`Removing the existing container ${settings.name} (--replace)`);
    const removed = await forceRemove(cli, settings.name, host);
    if (!removed.ok) throw new PhaseFailure(EXIT.container, `could not remove ${settings.name}: ${removed.message}`, { launched: false });
  }
  if (run.plan.kind === 'reuse') {
    run.log(`Reusing the running container ${settings.name} (same image, mount and port); it stays as it is on Ctrl-C`);
  } else {
    if (!(await abortable(imagePresent(cli, settings.image, host), run.signal))) {
      run.progress.update(`Pulling ${settings.image} (this can take many minutes)`);
      const pulled = await abortable(pullImage(cli, settings.image, host), run.signal);
      if (pulled.exitCode !== 0) {
        const text = run.redact(`${pulled.stdout}\n${pulled.stderr}`);
        const findings = diagnose([{ name: `${cli} pull`, text }]);
        const reason = pulled.timedOut ? `${cli} pull did not finish in time` : `${cli} pull ${settings.image} failed`;
        throw new PhaseFailure(EXIT.container, reason, { launched: false, findings, logTail: tail(text), lines: failureLines(findings, tail(text), reason, `${cli} pull output`, cli) });
      }
    }
    run.progress.update(`Starting ${settings.name}`);
    // The cache is created by the user, not by the daemon as root, so later downloads outside the container work too.
    for (const m of settings.hub?.mounts ?? []) {
      if (!host.remote) await mkdir(m.hostPath, { recursive: true }).catch(() => undefined);
      else await host.run('mkdir', ['-p', '--', m.hostPath], { timeoutMs: settings.probeTimeoutMs }).catch(() => undefined);
    }
    run.setLeftBehind(`container ${settings.name} may be starting; remove it with guard-doctor down${at} --name ${settings.name}`);
    const ran = await runContainer(cli, run.runCommand.args, run.runCommand.env, host);
    if (ran.exitCode === 0) run.started = true;
    // An interrupt during `docker run` aborts the wait below; the container it made is still ours to remove.
    if (ran.exitCode !== 0) {
      const text = run.redact(`${ran.stdout}\n${ran.stderr}`);
      // docker run can create the container and then fail to start it (a GPU or port error).
      const created = await inspectContainer(cli, settings.name, host).catch(() => ({ exists: false as const }));
      if (created.exists) run.started = true;
      if (run.signal.aborted) throw run.signal.reason;
      const findings = diagnose([{ name: `${cli} run`, text }], { modelPaths: [settings.containerModelDir] });
      const reason = ran.timedOut ? `${cli} run did not finish in time` : `${cli} run failed (exit code ${ran.exitCode})`;
      throw new PhaseFailure(EXIT.container, reason, {
        launched: false,
        findings,
        logTail: tail(text),
        lines: [...failureLines(findings, tail(text), reason, `${cli} run output`, cli), ...(created.exists ? leftBehindLines(run) : [])],
      });
    }
    run.log(`Started container ${settings.name} from ${settings.image}${host.remote ? ` on ${host.label}` : ''}`);
  }
  run.setLeftBehind(settings.keep ? null : `container ${settings.name} was not removed; remove it with guard-doctor down${at} --name ${settings.name}`);
  if (run.signal.aborted) throw run.signal.reason;
}
