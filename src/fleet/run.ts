/**
 * One command on many hosts over SSH: `check`, `up`, `suite`, `down` and `diagnose` with
 * --host/--hosts. Each host gets the same unit the command runs on this machine, with the
 * host as the executor; at most --parallel hosts at once. A host that cannot be reached is
 * one `host.reachable` error with ssh's own words, within the connection time limit, and never
 * delays the others. Ctrl-C stops every host's unit (up removes the containers it started),
 * then every connection and tunnel is closed and the private socket folder removed.
 */
import { UsageError, errorMessage } from '../errors.js';
import { EXIT, type CheckResult, type HostReport } from '../types.js';
import type { Settings } from '../settings.js';
import { emitReport } from '../report/emit.js';
import { installInterruptGuard, Interrupted, abortable } from '../launch/signals.js';
import { SshSession, type Connection, type FirstCommand, type SshHost } from '../ssh.js';
import { reachableCheck } from '../../checks/host/reachable.js';
import { buildFleetReport, hostReport, renderFleet, type HostOutcome } from './report.js';

/** What a command does on one host. `signal` aborts on Ctrl-C. */
export type HostUnit = (settings: Settings, host: SshHost, signal: AbortSignal) => Promise<HostOutcome>;

async function unitFor(command: string): Promise<HostUnit> {
  switch (command) {
    case 'check': {
      // Loaded while the connections are being made, not after.
      const modules = Promise.all([import('../phases/preflight.js'), import('../../checks/index.js'), import('../hub-settings.js'), import('../probes/index.js').then((m) => m.loadProbes())]);
      modules.catch(() => undefined);
      return async (settings, host) => {
        const [{ judgeHost }, { selectChecks }, { hostHubSettings }] = await modules;
        // A hub source: the host's cache, not this machine's.
        return { checks: await judgeHost(await hostHubSettings(settings, host), host, settings.only.length > 0 ? selectChecks(settings.only) : undefined) };
      };
    }
    case 'suite':
      return (await import('./suite.js')).suiteOnHost;
    case 'down':
      return downOnHost;
    case 'diagnose':
      return diagnoseOnHost;
    case 'up':
      return (await import('./up.js')).upOnHost;
    case 'watch':
      return (await import('../commands/watch.js')).watchOnHost;
    default:
      throw new UsageError(`${command} does not take --host`);
  }
}

/**
 * check's slowest remote command, started on each connection as it opens (it rides the
 * master's own session): the GPU query the gpus probe makes first, the very same words, so
 * the probe finds its answer there. Not with --cpu or --only (the probe may not run).
 */
async function firstCommand(settings: Settings): Promise<FirstCommand | undefined> {
  if (settings.command !== 'check' || settings.cpu || settings.only.length > 0) return undefined;
  const { NVIDIA_SMI, PROBE_FIELDS, queryGpuArgs } = await import('../probes/nvidia.js');
  return { command: NVIDIA_SMI, args: queryGpuArgs(PROBE_FIELDS), timeoutMs: settings.probeTimeoutMs, maxBuffer: 8 * 1024 * 1024 };
}

/** Runs `work` over `items`, at most `limit` at once, keeping the order of `items`. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}

function validate(settings: Settings): void {
  if (settings.command === 'suite' && settings.url === null) throw new UsageError('--url is required: the base URL of the running server as seen on each host, e.g. --url http://127.0.0.1:8000');
  if (settings.command === 'diagnose' && !settings.container) throw new UsageError('--container is required with --host: diagnose reads that container on each host (--log and standard input are files on this machine)');
  if (settings.command === 'up' && settings.server === 'web' && !settings.imageGiven) {
    throw new UsageError('--image is required with --server web (the Qwen3Guard-Gen web image has no default), e.g. --image registry.example.com/qwen3guard-web:latest');
  }
}

export async function runFleet(settings: Settings): Promise<number> {
  validate(settings);
  if (settings.command === 'watch') (await import('../watch/run.js')).validateWatch(settings);
  // A dry run prints the run command, the same for every host, and touches none of them.
  if (settings.command === 'up' && settings.dryRun) return (await import('../commands/up.js')).run(settings);
  // An invalid --cases file is a usage error before any host is contacted.
  if ((settings.command === 'suite' || (settings.command === 'up' && settings.runSuite)) && !settings.dryRun) {
    (await import('../suite/load.js')).loadSuite({ casesFile: settings.casesFile, tags: settings.tags });
  }
  const [unit, first] = await Promise.all([unitFor(settings.command), firstCommand(settings)]);
  const connectTimeoutMs = settings.probeTimeoutMs;
  const session = new SshSession({ connectTimeoutMs, readTimeoutMs: settings.probeTimeoutMs, configFile: process.env.GUARD_DOCTOR_SSH_CONFIG || null });
  const guard = installInterruptGuard((signalName) => {
    process.stderr.write(`\nguard-doctor: ${signalName}: stopping every host${settings.command === 'up' && !settings.keep ? ' and removing the containers this run started' : ''}...\n`);
  });
  const note = settings.targetsFromDocker ? `${settings.targetsFromDocker.source}=${settings.targetsFromDocker.host}: judging that machine over SSH (its GPUs, model folder, memory and ports)` : null;
  if (note && !settings.json) process.stderr.write(`guard-doctor: ${note}\n`);

  let hosts: Array<HostReport & { lines: string[] }>;
  try {
    // Each host's connection is started when a lane frees up for the host --parallel places
    // ahead of it, so a handshake is over by the time its turn comes (at most 2 x --parallel open).
    const sshHosts = settings.targets.map((target) => session.host(target));
    const connections = new Map<number, Promise<Connection>>();
    const connectAhead = (i: number) => {
      if (i < sshHosts.length && !connections.has(i)) connections.set(i, sshHosts[i]!.connect(first));
      return connections.get(i);
    };
    hosts = await mapLimit(settings.targets, settings.parallel, async (target, i) => {
      const host = sshHosts[i]!;
      const connecting = connectAhead(i)!;
      connectAhead(i + settings.parallel);
      const connection = await abortable(connecting, guard.signal).catch((error: unknown) => ({ ok: false as const, message: errorMessage(error), durationMs: 0 }));
      const reach = reachableCheck(target.raw, connection, connectTimeoutMs);
      if (!connection.ok) return hostReport(settings.command, target.raw, { checks: [reach], exitCode: guard.signal.aborted ? EXIT.interrupted : EXIT.undetermined }, settings.strict);
      try {
        // up cleans up after itself on Ctrl-C (removing what it started) and watch reports what it sampled; the others just stop waiting.
        const work = unit(settings, host, guard.signal);
        const outcome = await (settings.command === 'up' || settings.command === 'watch' ? work : abortable(work, guard.signal));
        return hostReport(settings.command, target.raw, { ...outcome, checks: [reach, ...(outcome.checks ?? [])] }, settings.strict);
      } catch (error) {
        const interrupted = error instanceof Interrupted;
        const failed: CheckResult = {
          id: `${settings.command}.run`,
          title: `${settings.command} on the host`,
          status: 'error',
          summary: interrupted ? `interrupted (${error.signalName})` : `${settings.command} could not finish on ${target.raw}: ${errorMessage(error)}`,
          durationMs: 0,
        };
        return hostReport(settings.command, target.raw, { checks: [reach, failed], exitCode: interrupted ? EXIT.interrupted : error instanceof UsageError ? EXIT.failed : EXIT.undetermined }, settings.strict);
      }
    });
  } finally {
    await session.close();
    guard.dispose();
  }

  const report = buildFleetReport(settings.command, hosts, note ? { note } : {});
  const title = `guard-doctor ${settings.command} on ${hosts.length === 1 ? hosts[0]!.host : `${hosts.length} hosts`}${settings.parallel < hosts.length ? ` (${settings.parallel} at once)` : ''}`;
  return emitReport(report, settings, (r) => renderFleet(r, hosts, title, settings.verbose));
}

async function downOnHost(settings: Settings, host: SshHost): Promise<HostOutcome> {
  const { downOn } = await import('../commands/down.js');
  const outcome = await downOn(settings, host);
  return { exitCode: outcome.exitCode, fields: { container: settings.name, ...outcome.fields, message: outcome.message }, lines: outcome.message.split('\n').map((l) => `  ${l.replace(/^guard-doctor: /, '')}`) };
}

async function diagnoseOnHost(settings: Settings, host: SshHost): Promise<HostOutcome> {
  const { readContainer, EXIT_FOR } = await import('../commands/diagnose.js');
  const { diagnoseAll } = await import('../diagnose.js');
  const { renderFindings } = await import('../launch/render.js');
  const read = await readContainer(settings, settings.container!, host);
  // The same verdict as on this machine: an unknown failure or no sign of a start-up is "could not tell", never healthy.
  const diagnosis = diagnoseAll(read.sources, { state: read.state });
  const { findings } = diagnosis;
  const verdict = findings.length ? [] : diagnosis.kind === 'healthy' ? ['  Healthy: no failure in its log, and it shows the server finished starting.'] : [`  Could not tell (${diagnosis.kind}): no known failure, and no sign the server finished starting.`];
  return {
    exitCode: EXIT_FOR[diagnosis.kind],
    fields: { container: settings.container, containerState: read.state, diagnosis: diagnosis.kind, findings },
    lines: [`  (${read.note})`, ...(findings.length ? renderFindings(findings, false) : verdict)],
  };
}
