/** What the user sees when a phase fails after the container exists: its log, the diagnosis, what is left. */
import { errorMessage } from '../errors.js';
import { diagnose, stateSource, type Finding, type LogSource } from '../diagnose.js';
import { paint } from '../report/style.js';
import { containerLogs, inspectContainer } from '../launch/container.js';
import { renderFindings, renderLogTail } from '../launch/render.js';
import { runtimeFlag } from '../launch/run-args.js';
import type { Settings } from '../settings.js';
import type { UpRun } from './context.js';

/** Log lines shown when the container fails. */
export const LOG_TAIL_LINES = 30;

export function tail(text: string): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-LOG_TAIL_LINES);
}

/** The container's state and log on its host, diagnosed. */
export async function collectFailure(run: UpRun, extra: LogSource[] = []): Promise<{ logTail: string[]; findings: Finding[] }> {
  const { settings, host } = run;
  const sources: LogSource[] = [...extra];
  let logTail: string[] = [];
  let state = null;
  try {
    const inspected = await inspectContainer(settings.runtime, settings.name, host);
    if (inspected.exists) {
      state = inspected.info.state;
      const fromState = stateSource(settings.name, state);
      if (fromState) sources.push(fromState);
    }
    const text = run.redact(await containerLogs(settings.runtime, settings.name, undefined, host));
    sources.push({ name: `container ${settings.name}`, text });
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    logTail = lines.slice(-LOG_TAIL_LINES);
  } catch (error) {
    logTail = [`(could not read the container's log: ${errorMessage(error)})`];
  }
  // With a hub source the model lives in the mounted cache, not at the container model dir.
  const modelPaths = settings.hub ? settings.hub.mounts.flatMap((m) => [m.containerPath, m.hostPath]) : [settings.containerModelDir, settings.mount?.hostPath ?? ''].filter(Boolean);
  return { logTail, findings: diagnose(sources, { state, modelPaths }) };
}

export function failureLines(findings: readonly Finding[], logTail: readonly string[], reason: string | null, logTitle: string, runtime: Settings['runtime'] = 'docker'): string[] {
  const lines = [''];
  if (reason) lines.push(paint.red(reason), '');
  lines.push(...renderLogTail(logTail, logTitle), '');
  if (findings.length) lines.push(paint.bold('Diagnosis:'), ...renderFindings(findings, false));
  else lines.push(`Diagnosis: no known failure in the log; read it in full with \`guard-doctor diagnose\` or \`${runtime} logs\`.`);
  return lines;
}

/** `--runtime podman` and `--host H` for the lines a user copies (down, diagnose), where they apply. */
export function onHostFlag(run: UpRun): string {
  return `${runtimeFlag(run.settings.runtime)}${run.host.remote ? ` --host ${run.host.label}` : ''}`;
}

export function leftBehindLines(run: UpRun): string[] {
  const name = run.settings.name;
  const at = onHostFlag(run);
  return ['', `The container ${name} is left for inspection: guard-doctor diagnose${at} --container ${name}`, `Remove it with: guard-doctor down${at} --name ${name} (or run up again with --replace)`];
}
