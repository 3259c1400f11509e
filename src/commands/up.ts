/**
 * `guard-doctor up`: check, start the serving container, wait until it answers (watching it
 * die), warm it, run the suite, and leave it running with directions to reach and stop it.
 * A container this run did not start is never stopped or removed (unless --replace says so).
 */
import { preflight, describeTarget } from './check.js';
import { UsageError, errorMessage } from '../errors.js';
import { EXIT, type CaseResult, type CheckResult, type LaunchInfo, type Report } from '../types.js';
import type { Settings } from '../settings.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { createProgress, type Progress } from '../report/progress.js';
import { paint } from '../report/style.js';
import { ms, truncate } from '../report/format.js';
import { diagnose, stateSource, type Finding, type LogSource } from '../diagnose.js';
import { buildRunCommand, CONTAINER_PORT, redactor, renderCommand, runtimeFlag } from '../launch/run-args.js';
import { containerLogs, forceRemove, imagePresent, inspectContainer, pullImage, runContainer, sameImageRef, type ContainerInfo } from '../launch/container.js';
import { waitUntilReady } from '../launch/ready.js';
import { HUB_SECRET_ENV, publishedDownloadBytes } from '../data/hub.js';
import { watchDownload } from '../launch/download.js';
import { mkdir } from 'node:fs/promises';
import { readyResult, warmResult, warmUp } from '../launch/warm.js';
import { installInterruptGuard, Interrupted, abortable } from '../launch/signals.js';
import { ContainerStopped, watchContainer } from '../launch/watcher.js';
import { curlExample, renderFindings, renderLogTail } from '../launch/render.js';
import { loadSuite } from '../suite/load.js';
import { latencyStats, renderSuiteReport } from '../suite/report.js';
import { runSuiteDetailed } from '../suite/run.js';
import { authCheck } from '../api-key.js';

/** Log lines shown when the container fails. */
const LOG_TAIL_LINES = 30;

/** The address the doctor itself uses to reach a published port. */
export function serverUrl(publishHost: string, port: number): string {
  if (publishHost === '0.0.0.0' || publishHost === '') return `http://127.0.0.1:${port}`;
  if (publishHost === '::' || publishHost === '[::]') return `http://[::1]:${port}`;
  const host = publishHost.includes(':') && !publishHost.startsWith('[') ? `[${publishHost}]` : publishHost;
  return `http://${host}:${port}`;
}

type ExistingPlan =
  | { kind: 'none' }
  | { kind: 'reuse'; info: ContainerInfo }
  | { kind: 'replace'; info: ContainerInfo }
  | { kind: 'conflict'; info: ContainerInfo; why: string };

/** Why an existing container of the same name cannot simply be reused, or null when it can. */
function reuseMismatch(info: ContainerInfo, settings: Settings): string | null {
  if (!sameImageRef(info.image, settings.image)) return `it runs image ${info.image}, not ${settings.image}`;
  if (settings.mount) {
    const same = info.mounts.some((m) => m.source === settings.mount!.hostPath && m.destination === settings.mount!.containerPath);
    if (!same) return `it does not mount ${settings.mount.hostPath} at ${settings.mount.containerPath}`;
  }
  for (const m of settings.hub?.mounts ?? []) {
    if (!info.mounts.some((x) => x.source === m.hostPath && x.destination === m.containerPath)) return `it does not mount the cache ${m.hostPath} at ${m.containerPath}`;
  }
  const inner = `${CONTAINER_PORT[settings.server]}/tcp`;
  if (!info.publishedPorts.some((p) => p.containerPort === inner && p.hostPort === settings.port)) return `it does not publish port ${settings.port}`;
  if (!info.running) return `it is not running (${info.state.status}${info.state.exitCode !== null ? `, exit code ${info.state.exitCode}` : ''})`;
  return null;
}

function planExisting(info: ContainerInfo | null, settings: Settings): ExistingPlan {
  if (!info) return { kind: 'none' };
  if (settings.replace) return { kind: 'replace', info };
  const why = reuseMismatch(info, settings);
  return why ? { kind: 'conflict', info, why } : { kind: 'reuse', info };
}

function nameCheck(plan: ExistingPlan, settings: Settings): CheckResult {
  const base = { id: 'container.name', title: 'Container name', durationMs: 0 };
  switch (plan.kind) {
    case 'none':
      return { ...base, status: 'pass', summary: `no container named ${settings.name} exists yet` };
    case 'reuse':
      return { ...base, status: 'pass', summary: `${settings.name} already runs ${settings.image} with the same mount and port; reusing it` };
    case 'replace':
      return { ...base, status: 'pass', summary: `${settings.name} exists; --replace removes it before the launch` };
    case 'conflict':
      return {
        ...base,
        status: 'fail',
        summary: `a container named ${settings.name} already exists and cannot be reused: ${plan.why}`,
        fix: `remove it with --replace (or \`guard-doctor down${runtimeFlag(settings.runtime)} --name ${settings.name}\`), or choose another --name`,
      };
  }
}

/** port.free fails when the port is held by the very container that will be reused or replaced. */
function adjustPortCheck(checks: CheckResult[], plan: ExistingPlan, settings: Settings): CheckResult[] {
  if (plan.kind !== 'reuse' && plan.kind !== 'replace') return checks;
  const holds = plan.info.publishedPorts.some((p) => p.hostPort === settings.port);
  if (!holds) return checks;
  return checks.map((c) =>
    c.id === 'port.free' && c.status === 'fail'
      ? { ...c, status: 'skip' as const, summary: `port ${settings.port} is held by ${settings.name}, which ${plan.kind === 'reuse' ? 'is reused' : '--replace removes first'}`, fix: undefined }
      : c,
  );
}

interface FailureDetail {
  reason: string;
  logTail: string[];
  findings: Finding[];
}

async function collectFailure(settings: Settings, reason: string, redact: (s: string) => string, extra: LogSource[] = []): Promise<FailureDetail> {
  const sources: LogSource[] = [...extra];
  let logTail: string[] = [];
  let state = null;
  try {
    const inspected = await inspectContainer(settings.runtime, settings.name);
    if (inspected.exists) {
      state = inspected.info.state;
      const fromState = stateSource(settings.name, state);
      if (fromState) sources.push(fromState);
    }
    const text = redact(await containerLogs(settings.runtime, settings.name));
    sources.push({ name: `container ${settings.name}`, text });
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    logTail = lines.slice(-LOG_TAIL_LINES);
  } catch (error) {
    logTail = [`(could not read the container's log: ${errorMessage(error)})`];
  }
  // With a hub source the model lives in the mounted cache, not at the container model dir.
  const modelPaths = settings.hub ? settings.hub.mounts.flatMap((m) => [m.containerPath, m.hostPath]) : [settings.containerModelDir, settings.mount?.hostPath ?? ''].filter(Boolean);
  return { reason, logTail, findings: diagnose(sources, { state, modelPaths }) };
}

export async function run(settings: Settings): Promise<number> {
  if (settings.server === 'web' && !settings.imageGiven) {
    throw new UsageError('--image is required with --server web (the Qwen3Guard-Gen web image has no default), e.g. --image registry.example.com/qwen3guard-web:latest');
  }
  const runCommand = buildRunCommand(settings);
  const rendered = renderCommand(runCommand);
  const redact = redactor([...settings.env.map((e) => e.value), ...(settings.hub?.token ? [settings.hub.token] : []), ...(settings.hub?.passEnv.filter((e) => HUB_SECRET_ENV.has(e.key)).map((e) => e.value) ?? []), ...(settings.apiKey ? [settings.apiKey.secretForRedaction()] : [])]);
  const url = serverUrl(settings.publishHost, settings.port);
  // An invalid --cases file or --tag is a usage error before anything starts.
  const suite = settings.runSuite && !settings.dryRun ? loadSuite({ casesFile: settings.casesFile, tags: settings.tags }) : null;

  if (settings.dryRun) {
    if (settings.json) {
      const report = buildReport('up', { launch: { container: settings.name, image: settings.image, url, coldMs: null, warmP50Ms: null, dryRun: true, command: rendered } }, settings.strict);
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    } else {
      process.stdout.write(`${rendered}\n`);
    }
    return EXIT.ok;
  }

  const guard = installInterruptGuard((signalName) => {
    process.stderr.write(`\nguard-doctor: ${signalName}: stopping${settings.keep ? ' (--keep: the container stays)' : ''}...\n`);
  });
  let started = false;
  let progress: Progress | null = null;
  const header = paint.bold(`guard-doctor up: ${describeTarget(settings)}`);
  const launch: LaunchInfo = { container: settings.name, image: settings.image, url, coldMs: null, warmP50Ms: null };
  let checks: CheckResult[] = [];

  const finish = (report: Report, extra: (r: Report) => string[] = () => []) =>
    emitReport(report, settings, (r) => [header, '', ...renderChecks(r.checks ?? [], settings.verbose), ...(r.cases ? ['', paint.bold('Edge-case suite:'), ...renderSuiteReport(r.cases, { verbose: settings.verbose })] : []), '', footer(r, 'result'), ...extra(r)]);

  try {
    // A runtime that does not answer is reported by the docker.daemon check; here it only means "cannot tell".
    let inspectProblem: string | null = null;
    const existing = await abortable(inspectContainer(settings.runtime, settings.name), guard.signal).catch((error: unknown) => {
      if (error instanceof Interrupted) throw error;
      inspectProblem = errorMessage(error);
      return { exists: false as const };
    });
    const plan = planExisting(existing.exists ? existing.info : null, settings);
    checks = adjustPortCheck(await abortable(preflight(settings), guard.signal), plan, settings);
    checks.push(
      inspectProblem
        ? { id: 'container.name', title: 'Container name', status: 'error', summary: `could not tell whether ${settings.name} exists: ${inspectProblem}`, fix: `check that the ${settings.runtime} daemon answers`, durationMs: 0 }
        : nameCheck(plan, settings),
    );

    const failed = checks.filter((c) => c.status === 'fail');
    if (failed.length > 0 && !settings.force) {
      const report = buildReport('up', { checks, launch: { ...launch, launched: false } }, settings.strict, EXIT.failed);
      return await finish(report, () => ['', `Not launching: ${failed.map((c) => c.id).join(', ')} failed. Fix ${failed.length === 1 ? 'it' : 'them'}, or launch anyway with --force.`]);
    }

    progress = await createProgress(settings.output, { when: 'unless-json', initial: 'Starting the container' });
    const log = (line: string) => (settings.json ? undefined : progress?.log(line));

    if (plan.kind === 'replace') {
      log(`Removing the existing container ${settings.name} (--replace)`);
      const removed = await forceRemove(settings.runtime, settings.name);
      if (!removed.ok) {
        progress.stop();
        const report = buildReport('up', { checks, launch: { ...launch, launched: false }, problem: `could not remove ${settings.name}: ${removed.message}` }, settings.strict, EXIT.container);
        return await finish(report, (r) => ['', paint.red(String(r.problem))]);
      }
    }

    let restartBaseline = 0;
    if (plan.kind === 'reuse') {
      log(`Reusing the running container ${settings.name} (same image, mount and port); it stays as it is on Ctrl-C`);
      restartBaseline = plan.info.restartCount;
    } else {
      if (!(await abortable(imagePresent(settings.runtime, settings.image), guard.signal))) {
        progress.update(`Pulling ${settings.image} (this can take many minutes)`);
        const pulled = await abortable(pullImage(settings.runtime, settings.image), guard.signal);
        if (pulled.exitCode !== 0) {
          progress.stop();
          const text = redact(`${pulled.stdout}\n${pulled.stderr}`);
          const findings = diagnose([{ name: `${settings.runtime} pull`, text }]);
          const reason = pulled.timedOut ? `${settings.runtime} pull did not finish in time` : `${settings.runtime} pull ${settings.image} failed`;
          const report = buildReport('up', { checks, launch: { ...launch, launched: false }, problem: reason, findings, logTail: tail(text) }, settings.strict, EXIT.container);
          return await finish(report, (r) => failureLines(findings, tail(text), reason, `${settings.runtime} pull output`, settings.runtime));
        }
      }
      progress.update(`Starting ${settings.name}`);
      // The cache is created by the user, not by the daemon as root, so later downloads outside the container work too.
      for (const m of settings.hub?.mounts ?? []) await mkdir(m.hostPath, { recursive: true }).catch(() => undefined);
      guard.setLeftBehind(`container ${settings.name} may be starting; remove it with guard-doctor down${runtimeFlag(settings.runtime)} --name ${settings.name}`);
      const ran = await runContainer(settings.runtime, runCommand.args, runCommand.env);
      if (ran.exitCode === 0) started = true;
      // An interrupt during `docker run` aborts the wait below; the container it made is still ours to remove.
      if (ran.exitCode !== 0) {
        progress.stop();
        const text = redact(`${ran.stdout}\n${ran.stderr}`);
        // docker run can create the container and then fail to start it (a GPU or port error).
        const created = await inspectContainer(settings.runtime, settings.name).catch(() => ({ exists: false as const }));
        if (created.exists) started = true;
        if (guard.signal.aborted) throw guard.signal.reason;
        const findings = diagnose([{ name: `${settings.runtime} run`, text }], { modelPaths: [settings.containerModelDir] });
        const reason = ran.timedOut ? `${settings.runtime} run did not finish in time` : `${settings.runtime} run failed (exit code ${ran.exitCode})`;
        const report = buildReport('up', { checks, launch: { ...launch, launched: false }, problem: reason, findings, logTail: tail(text) }, settings.strict, EXIT.container);
        return await finish(report, () => [...failureLines(findings, tail(text), reason, `${settings.runtime} run output`, settings.runtime), ...(created.exists ? leftBehindLines(settings) : [])]);
      }
      log(`Started container ${settings.name} from ${settings.image}`);
    }
    guard.setLeftBehind(settings.keep ? null : `container ${settings.name} was not removed; remove it with guard-doctor down${runtimeFlag(settings.runtime)} --name ${settings.name}`);
    if (guard.signal.aborted) throw guard.signal.reason;

    const watcher = watchContainer(settings.runtime, settings.name, { parent: guard.signal, followLog: !settings.json, initialRestartCount: restartBaseline });
    /** The container started but did not get ready or warm: its log, the diagnosis, exit 4. */
    const failStarted = async (reason: string): Promise<number> => {
      watcher.stop();
      progress?.stop();
      const failure = await collectFailure(settings, reason, redact);
      const report = buildReport('up', { checks, launch, problem: reason, findings: failure.findings, logTail: failure.logTail }, settings.strict, EXIT.container);
      return finish(report, () => [...failureLines(failure.findings, failure.logTail, null, `Last ${failure.logTail.length} lines of the container's log`, settings.runtime), ...leftBehindLines(settings)]);
    };
    const download = settings.hub ? watchDownload(settings.hub, expectedDownloadBytes(checks, settings), settings.model.shards) : null;
    await download?.sample().catch(() => undefined);
    const waitStarted = Date.now();
    const tick = setInterval(() => {
      void download?.sample().catch(() => undefined);
      const downloading = download?.describe();
      const line = downloading ?? watcher.latestLine();
      progress?.update(`Waiting for the server (${elapsedText(Date.now() - waitStarted)})${line ? `: ${truncateLine(redact(line))}` : ''}`);
    }, 1_000);
    let outcome;
    try {
      outcome = await waitUntilReady({ url, server: settings.server, servedModelName: settings.server === 'vllm' ? settings.model.name : null, timeoutMs: settings.readyTimeoutMs, apiKey: settings.apiKey, signal: watcher.signal });
    } finally {
      clearInterval(tick);
    }

    if (outcome.kind === 'aborted' && outcome.reason instanceof Interrupted) throw outcome.reason;
    if (outcome.kind !== 'ready') {
      let reason: string;
      if (outcome.kind === 'aborted') reason = outcome.reason instanceof ContainerStopped ? `${outcome.reason.message} after ${ms(outcome.elapsedMs)}` : `the wait was aborted: ${errorMessage(outcome.reason)}`;
      else if (outcome.kind === 'timeout') reason = `the server did not answer within ${ms(settings.readyTimeoutMs)} (--ready-timeout); last seen: ${outcome.lastProblem}${download?.describe() ? `; still ${download.describe()}` : ''}`;
      else if (outcome.kind === 'unauthorized') reason = outcome.detail;
      else reason = `the server answers but ${outcome.detail}`;
      checks.push({ id: 'server.ready', title: 'Server answers', status: 'fail', summary: reason, fix: outcome.kind === 'unauthorized' ? outcome.fix : fixFor(outcome.kind, settings), durationMs: outcome.elapsedMs });
      return await failStarted(reason);
    }
    const split = download ? download.split(outcome.elapsedMs, await containerLogs(settings.runtime, settings.name).catch(() => '')) : null;
    checks.push(readyResult(outcome.elapsedMs, outcome.detail, split));
    launch.readyMs = outcome.elapsedMs;
    if (split) Object.assign(launch, { downloadMs: split.downloadMs, loadMs: split.loadMs });
    // Wall-clock moment readiness was noticed, comparable with the container's log timestamps.
    launch.readyAt = new Date().toISOString();
    log(`Server answers after ${ms(outcome.elapsedMs)}`);

    const { createGuardClient } = await import('../guard-client.js');
    const servedModelName = outcome.servedModelName ?? settings.model.name;
    const client = (timeoutMs: number) => createGuardClient({ url, server: settings.server, model: servedModelName, apiKey: settings.apiKey, timeoutMs, signal: watcher.signal });
    const coldClient = client(settings.warmTimeoutMs);
    const warmClient = client(settings.requestTimeoutMs);
    const warmStarted = Date.now();
    const warmTick = setInterval(() => {
      const line = watcher.latestLine();
      progress?.update(`Warming (${elapsedText(Date.now() - warmStarted)})${line ? `: ${truncateLine(redact(line))}` : ''}`);
    }, 1_000);
    let warm;
    try {
      warm = await abortable(
        warmUp({ cold: (input) => coldClient.moderate(input), warm: (input) => warmClient.moderate(input), coldTimeoutMs: settings.warmTimeoutMs, signal: watcher.signal, onPhase: (text) => progress?.update(text) }, redact),
        watcher.signal,
      );
    } catch (error) {
      if (error instanceof ContainerStopped) warm = { ok: false, coldMs: null, warmMs: [], warmP50Ms: null, problem: `${error.message} during the warm-up` };
      else throw error;
    } finally {
      clearInterval(warmTick);
    }
    launch.coldMs = warm.coldMs;
    launch.warmP50Ms = warm.warmP50Ms;
    checks.push(warmResult(warm));
    if (!warm.ok) return await failStarted(warm.problem ?? 'the warm-up failed');
    log(`Warm: cold request ${ms(warm.coldMs)}, warm p50 ${ms(warm.warmP50Ms)}`);

    let cases: CaseResult[] | undefined;
    let suiteInfo: Record<string, unknown> | undefined;
    if (suite) {
      progress.update(`Running the edge-case suite (${suite.cases.length} cases)`);
      let before = null;
      const reconcileModule = settings.metricsUrl ? await import('../prom/reconcile.js') : null;
      if (reconcileModule && settings.metricsUrl) before = await abortable(reconcileModule.scrapeSnapshot(settings.metricsUrl, settings.requestTimeoutMs), watcher.signal);
      const suiteRun = await abortable(runSuiteDetailed(settings, { url, progress, suite, signal: watcher.signal }), watcher.signal);
      if (reconcileModule && before && settings.metricsUrl) {
        const after = await abortable(reconcileModule.scrapeSnapshot(settings.metricsUrl, settings.requestTimeoutMs), watcher.signal);
        checks.push(...reconcileModule.reconcile(before, after, suiteRun.cases, suiteRun.requestsSent, settings.server));
      }
      if (suiteRun.unauthorized) checks.push(authCheck(suiteRun.unauthorized));
      cases = suiteRun.cases;
      const latency = latencyStats(cases);
      suiteInfo = { name: suite.name, file: suite.file, servedModel: suiteRun.servedModel, requestsSent: suiteRun.requestsSent, durationMs: suiteRun.durationMs, latency: { p50Ms: latency.p50, p95Ms: latency.p95, p99Ms: latency.p99, maxMs: latency.max } };
    }
    watcher.stop();
    progress.stop();
    guard.setLeftBehind(null);
    const report = buildReport('up', { checks, ...(cases ? { cases } : {}), launch, ...(suiteInfo ? { suite: suiteInfo } : {}) }, settings.strict);
    return await finish(report, () => reachLines(settings, url, servedModelName, plan.kind === 'reuse'));
  } catch (error) {
    progress?.stop();
    const reason = error instanceof Interrupted ? error : guard.signal.aborted ? (guard.signal.reason as unknown) : null;
    if (reason instanceof Interrupted) return interrupted(settings, started);
    if (error instanceof ContainerStopped) {
      const failure = await collectFailure(settings, error.message, redact);
      checks.push({ id: 'server.suite', title: 'Edge-case suite', status: 'fail', summary: `${error.message} during the suite`, durationMs: 0 });
      const report = buildReport('up', { checks, launch, problem: error.message, findings: failure.findings, logTail: failure.logTail }, settings.strict, EXIT.container);
      return await emitReport(report, settings, (r) => [header, '', ...renderChecks(r.checks ?? [], settings.verbose), ...failureLines(failure.findings, failure.logTail, null, "The container's log", settings.runtime)]);
    }
    throw error;
  } finally {
    guard.dispose();
  }
}

async function interrupted(settings: Settings, started: boolean): Promise<number> {
  if (started && !settings.keep) {
    const removed = await forceRemove(settings.runtime, settings.name);
    process.stderr.write(
      removed.ok
        ? `guard-doctor: interrupted; removed the container ${settings.name} this run started\n`
        : `guard-doctor: interrupted; could not remove ${settings.name}: ${removed.message}\n  remove it with: guard-doctor down${runtimeFlag(settings.runtime)} --name ${settings.name}\n`,
    );
  } else if (started) {
    process.stderr.write(`guard-doctor: interrupted; the container ${settings.name} keeps running (--keep); stop it with: guard-doctor down${runtimeFlag(settings.runtime)} --name ${settings.name}\n`);
  } else {
    process.stderr.write('guard-doctor: interrupted; no container was started\n');
  }
  return EXIT.interrupted;
}

function fixFor(kind: string, settings: Settings): string {
  if (kind === 'timeout') return `read the log (guard-doctor diagnose${runtimeFlag(settings.runtime)} --container ${settings.name}); a slow first load may need a longer --ready-timeout`;
  if (kind === 'wrong-model') return `another server answers on port ${settings.port}: stop it, or publish on another --port`;
  return `read the diagnosis below and the full log: guard-doctor diagnose${runtimeFlag(settings.runtime)} --container ${settings.name}`;
}

function tail(text: string): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-LOG_TAIL_LINES);
}

function failureLines(findings: readonly Finding[], logTail: readonly string[], reason: string | null, logTitle: string, runtime: Settings['runtime']): string[] {
  const lines = [''];
  if (reason) lines.push(paint.red(reason), '');
  lines.push(...renderLogTail(logTail, logTitle), '');
  if (findings.length) lines.push(paint.bold('Diagnosis:'), ...renderFindings(findings, false));
  else lines.push(`Diagnosis: no known failure in the log; read it in full with \`guard-doctor diagnose\` or \`${runtime} logs\`.`);
  return lines;
}

function leftBehindLines(settings: Settings): string[] {
  return ['', `The container ${settings.name} is left for inspection: guard-doctor diagnose${runtimeFlag(settings.runtime)} --container ${settings.name}`, `Remove it with: guard-doctor down${runtimeFlag(settings.runtime)} --name ${settings.name} (or run up again with --replace)`];
}

function reachLines(settings: Settings, url: string, servedModelName: string, reused: boolean): string[] {
  return [
    '',
    paint.bold(`The server is running at ${url} (container ${settings.name}${reused ? ', reused' : ''})`),
    `  try it:  ${curlExample(url, settings.server, servedModelName, settings.apiKey?.envName ?? null)}`,
    `  stop it: guard-doctor down${runtimeFlag(settings.runtime)} --name ${settings.name}`,
  ];
}

/** What the download adds: model.source measured it from the hub's listing, else the published size. */
function expectedDownloadBytes(checks: readonly CheckResult[], settings: Settings): number {
  const measured = checks.find((c) => c.id === 'model.source')?.measured?.downloadBytes;
  return typeof measured === 'number' ? measured : publishedDownloadBytes(settings.model);
}

function elapsedText(msElapsed: number): string {
  const s = Math.floor(msElapsed / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** A log line cut to what fits beside the spinner's text. */
function truncateLine(line: string): string {
  return truncate(line.trim(), Math.max(20, (process.stderr.columns ?? 100) - 40));
}
