/**
 * The preflight phase: the host's facts, gathered once, judged by every preflight check; for
 * `up` also what to do with an existing container of the same name (reuse, replace, or stop
 * here). `check` is this phase alone.
 */
import { PREFLIGHT_CHECKS } from '../../checks/index.js';
import { dockerHost } from '../../checks/docker-host.js';
import { nameJudged, nameUnknown, type NamePlan } from '../../checks/server/container.js';
import { judgeAll, neededFacts, type Check } from '../judge.js';
import { localHost, type Host } from '../exec.js';
import { errorMessage } from '../errors.js';
import { gatherFacts } from '../probes/index.js';
import { createProgress } from '../report/progress.js';
import type { Settings } from '../settings.js';
import type { Facts } from '../facts.js';
import { EXIT, type CheckResult } from '../types.js';
import { inspectContainer, sameImageRef, type ContainerInfo } from '../launch/container.js';
import { CONTAINER_PORT, buildRunCommand, runtimeFlag } from '../launch/run-args.js';
import { abortable, Interrupted } from '../launch/signals.js';
import { PhaseFailure, type ExistingPlan, type UpRun } from './context.js';

/** The checks for this run: docker.host joins when docker points at a machine the doctor cannot judge. */
export function preflightChecks(settings: Settings): readonly Check[] {
  return settings.foreignDocker ? [...PREFLIGHT_CHECKS, dockerHost as Check] : PREFLIGHT_CHECKS;
}

/** The facts of `host`, gathered once, judged by every preflight check. */
export async function judgeHost(settings: Settings, host: Host, checks: readonly Check[] = preflightChecks(settings)): Promise<CheckResult[]> {
  return (await judgeHostFacts(settings, host, checks)).checks;
}

/** judgeHost, keeping the facts too (up launches on the GPU they chose). */
export async function judgeHostFacts(settings: Settings, host: Host, checks: readonly Check[] = preflightChecks(settings)): Promise<{ checks: CheckResult[]; facts: Partial<Facts> }> {
  const facts = await gatherFacts(neededFacts(checks, settings), settings, host);
  return { checks: judgeAll(checks, facts, settings), facts };
}

/** judgeHostFacts with a spinner on a terminal (this machine's runs). */
export async function preflight(settings: Settings, host: Host = localHost, checks?: readonly Check[]): Promise<{ checks: CheckResult[]; facts: Partial<Facts> }> {
  const progress = await createProgress(settings.output, { when: host.remote ? 'never' : 'terminal', initial: 'Probing the GPU, the container runtime and the model folder' });
  try {
    return await judgeHostFacts(settings, host, checks);
  } finally {
    progress.stop();
  }
}

/**
 * The GPU the checks judged, as `--gpu` would name it, when the user named none: `up` starts the
 * container on exactly that GPU (or MIG device). With `--gpus all` vLLM would take CUDA device 0,
 * which need not be the GPU with the most free memory that gpu.vram passed.
 */
export function judgedGpuFlag(facts: Partial<Facts>, settings: Settings): { gpu: number; migDevice: string | null } | null {
  if (settings.cpu || settings.gpu !== null || settings.migDevice) return null;
  const outcome = facts.gpu;
  if (!outcome?.ok || outcome.value.state !== 'chosen') return null;
  const { gpu, device } = outcome.value;
  return { gpu: gpu.index, migDevice: device.kind === 'mig' ? String(device.device.index) : null };
}

export function describeTarget(settings: Settings): string {
  const image = settings.server === 'vllm' || settings.imageGiven ? ` (${settings.image})` : '';
  const where = settings.cpu ? 'on CPU' : settings.gpu === null ? 'on the GPU with most free memory' : `on GPU ${settings.gpu}`;
  return `${settings.model.name} served by ${settings.server}${image} ${where}`;
}

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
  const named: NamePlan = plan.kind === 'reuse' ? { kind: 'reuse', image: settings.image } : plan.kind === 'conflict' ? { kind: 'conflict', why: plan.why } : { kind: plan.kind };
  return nameJudged(named, settings.name, runtimeFlag(settings.runtime));
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

export async function preflightPhase(run: UpRun): Promise<void> {
  const { settings, host } = run;
  // A runtime that does not answer is reported by the docker.daemon check; here it only means "cannot tell".
  let inspectProblem: string | null = null;
  const existing = await abortable(inspectContainer(settings.runtime, settings.name, host), run.signal).catch((error: unknown) => {
    if (error instanceof Interrupted) throw error;
    inspectProblem = errorMessage(error);
    return { exists: false as const };
  });
  run.plan = planExisting(existing.exists ? existing.info : null, settings);
  const judged = await abortable(preflight(settings, host), run.signal);
  run.checks.push(...adjustPortCheck(judged.checks, run.plan, settings));
  const pinned = judgedGpuFlag(judged.facts, settings);
  if (pinned) run.runCommand = buildRunCommand({ ...settings, ...pinned });
  run.checks.push(
    inspectProblem
      ? nameUnknown(settings.name, settings.runtime, inspectProblem)
      : nameCheck(run.plan, settings),
  );
  const failed = run.checks.filter((c) => c.status === 'fail');
  if (failed.length > 0 && !settings.force) {
    throw new PhaseFailure(EXIT.failed, `not launching: ${failed.map((c) => c.id).join(', ')} failed`, {
      launched: false,
      lines: ['', `Not launching: ${failed.map((c) => c.id).join(', ')} failed. Fix ${failed.length === 1 ? 'it' : 'them'}, or launch anyway with --force.`],
    });
  }
}
