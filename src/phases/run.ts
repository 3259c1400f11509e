/**
 * Runs `up`'s phases for one machine (this one, or a fleet host) and turns however they end
 * into one result: the checks and cases so far, the exit code, and the lines people read
 * after the report. A Ctrl-C removes the container this run started (unless --keep).
 */
import { errorMessage } from '../errors.js';
import type { Host } from '../exec.js';
import type { Settings } from '../settings.js';
import { EXIT, type CaseResult, type CheckResult, type LaunchInfo } from '../types.js';
import { paint } from '../report/style.js';
import { buildRunCommand, redactor, runtimeFlag } from '../launch/run-args.js';
import { HUB_SECRET_ENV } from '../data/hub.js';
import { forceRemove } from '../launch/container.js';
import { curlExample } from '../launch/render.js';
import { Interrupted } from '../launch/signals.js';
import { ContainerStopped } from '../launch/watcher.js';
import type { Suite } from '../suite/load.js';
import { PhaseFailure, serverUrl, type Phase, type UpRun } from './context.js';
import { launchPhase } from './launch.js';
import { collectFailure, failureLines, onHostFlag } from './failure.js';
import { UP_PHASES } from './index.js';
import { suiteStopped } from '../../checks/server/suite.js';

export interface UpResult {
  checks: CheckResult[];
  cases?: CaseResult[];
  launch: LaunchInfo;
  fields: Record<string, unknown>;
  /** Set when the run decides the exit code (4, 130, or 1 for "not launched"). */
  exitCode?: number;
  lines: string[];
  interrupted: boolean;
}

export interface UpRunOptions {
  settings: Settings;
  host: Host;
  signal: AbortSignal;
  suite: Suite | null;
  progressEnabled: boolean;
  setLeftBehind(text: string | null): void;
  /** How the doctor reaches the server once it is launched (a fleet host: through a forward). */
  reach?: (run: UpRun) => Promise<string>;
  /** Lines that say how to reach and stop the server, after a success. */
  reachLines?: (run: UpRun) => string[];
  /** A server started some other way (warm --url): its URL; no container is launched or watched. */
  externalUrl?: string;
}

export function createUpRun(options: UpRunOptions): UpRun {
  const { settings } = options;
  const url = options.externalUrl ?? serverUrl(settings.publishHost, settings.port);
  return {
    settings,
    host: options.host,
    container: options.externalUrl === undefined,
    signal: options.signal,
    progress: { update() {}, log() {}, succeed() {}, fail() {}, stop() {} },
    progressEnabled: options.progressEnabled,
    log(line) {
      if (!settings.json) this.progress.log(line);
    },
    redact: redactor([
      ...settings.env.map((e) => e.value),
      ...(settings.hub?.token ? [settings.hub.token] : []),
      ...(settings.hub?.passEnv.filter((e) => HUB_SECRET_ENV.has(e.key)).map((e) => e.value) ?? []),
      ...(settings.apiKey ? [settings.apiKey.secretForRedaction()] : []),
    ]),
    runCommand: buildRunCommand(settings),
    url,
    // A fleet host's metrics URL names a port on the host: reachable only once `reach` opens its forward.
    metricsUrl: options.host.remote ? null : settings.metricsUrl,
    suite: options.suite,
    checks: [],
    launch: { container: settings.name, image: settings.image, url, coldMs: null, warmP50Ms: null },
    fields: {},
    plan: { kind: 'none' },
    started: false,
    watcher: null,
    servedModelName: settings.model.name,
    setLeftBehind: options.setLeftBehind,
  };
}

/** This machine's lines: the URL, a curl to try, and how to stop it. */
export function localReachLines(run: UpRun): string[] {
  const { settings } = run;
  return [
    '',
    paint.bold(`The server is running at ${run.url} (container ${settings.name}${run.plan.kind === 'reuse' ? ', reused' : ''})`),
    `  try it:  ${curlExample(run.url, settings.server, run.servedModelName, settings.apiKey?.envName ?? null)}`,
    `  stop it: guard-doctor down${runtimeFlag(settings.runtime)} --name ${settings.name}`,
  ];
}

export async function runUp(run: UpRun, options: Pick<UpRunOptions, 'reach' | 'reachLines'> = {}): Promise<UpResult> {
  return runPhases(run, UP_PHASES, options);
}

/**
 * Runs `phases` in order and turns however they end into one result: the one way a failed
 * phase becomes a report (exit code, the lines after it), for `up` on this machine, on a
 * fleet host, and for `warm --url`.
 */
export async function runPhases(run: UpRun, phases: readonly Phase[], options: Pick<UpRunOptions, 'reach' | 'reachLines'> = {}): Promise<UpResult> {
  const result = (extra: Partial<UpResult>): UpResult => ({ checks: run.checks, ...(run.cases ? { cases: run.cases } : {}), launch: run.launch, fields: run.fields, lines: [], interrupted: false, ...extra });
  try {
    for (const phase of phases) {
      await phase(run);
      // Once launched, the doctor reaches the server its own way (a fleet host: an SSH forward).
      if (phase === launchPhase && options.reach) run.url = await options.reach(run);
    }
    run.watcher?.stop();
    run.progress.stop();
    run.setLeftBehind(null);
    return result({ lines: (options.reachLines ?? localReachLines)(run) });
  } catch (error) {
    run.watcher?.stop();
    run.progress.stop();
    const interrupted = error instanceof Interrupted || (run.signal.aborted && run.signal.reason instanceof Interrupted);
    if (interrupted) return result({ exitCode: EXIT.interrupted, interrupted: true, lines: run.container ? await removeOnInterrupt(run) : [errorMessage(run.signal.reason ?? error)] });
    if (error instanceof PhaseFailure) {
      if (error.detail.launched === false) run.launch.launched = false;
      const fields = error.exitCode === EXIT.container ? { problem: error.reason, ...(error.detail.findings ? { findings: error.detail.findings } : {}), ...(error.detail.logTail ? { logTail: error.detail.logTail } : {}) } : {};
      Object.assign(run.fields, fields);
      return result({ exitCode: error.exitCode, lines: error.detail.lines ?? ['', paint.red(error.reason)] });
    }
    if (error instanceof ContainerStopped) {
      const failure = await collectFailure(run);
      run.checks.push(suiteStopped(error.message));
      Object.assign(run.fields, { problem: error.message, findings: failure.findings, logTail: failure.logTail });
      return result({ exitCode: EXIT.container, lines: failureLines(failure.findings, failure.logTail, null, "The container's log", run.settings.runtime) });
    }
    throw error;
  }
}

/** Ctrl-C: remove the container this run started (unless --keep), and say what happened. */
async function removeOnInterrupt(run: UpRun): Promise<string[]> {
  const { settings, host } = run;
  const at = onHostFlag(run);
  if (run.started && !settings.keep) {
    const removed = await forceRemove(settings.runtime, settings.name, host).catch((error: unknown) => ({ ok: false, message: errorMessage(error) }));
    return [
      removed.ok
        ? `interrupted; removed the container ${settings.name} this run started${host.remote ? ` on ${host.label}` : ''}`
        : `interrupted; could not remove ${settings.name}: ${removed.message}\n  remove it with: guard-doctor down${at} --name ${settings.name}`,
    ];
  }
  if (run.started) return [`interrupted; the container ${settings.name} keeps running (--keep); stop it with: guard-doctor down${at} --name ${settings.name}`];
  return ['interrupted; no container was started'];
}

