/**
 * `up --host`: the same phases as on this machine, with docker (or podman) run on the host
 * over SSH. The server is published on the host's 127.0.0.1; once launched, the doctor opens
 * a local forward on the host's SSH connection and waits, warms and runs the suite through
 * it. The report says per host how to reach the server (`ssh -L`) and how to stop it.
 */
import { UsageError } from '../errors.js';
import type { Settings } from '../settings.js';
import { paint } from '../report/style.js';
import { curlExample } from '../launch/render.js';
import { loadSuite } from '../suite/load.js';
import { createUpRun, runUp } from '../phases/run.js';
import type { UpRun } from '../phases/context.js';
import type { SshHost } from '../ssh.js';
import { tunnelTo } from './suite.js';
import type { HostOutcome } from './report.js';

export async function upOnHost(settings: Settings, host: SshHost, signal: AbortSignal): Promise<HostOutcome> {
  if (settings.publishHost !== '127.0.0.1' && settings.publishHost !== 'localhost') {
    // Published elsewhere the server would be open to the host's network; the forward needs loopback anyway.
    throw new UsageError(`--publish-host ${settings.publishHost}: with --host the server is published on each host's 127.0.0.1 and reached through SSH; leave --publish-host out`);
  }
  const suite = settings.runSuite ? loadSuite({ casesFile: settings.casesFile, tags: settings.tags }) : null;
  const run = createUpRun({ settings, host, signal, suite, progressEnabled: false, setLeftBehind: () => undefined });
  run.launch.host = host.label;
  const hostUrl = run.url;
  let closeTunnel: (() => Promise<void>) | null = null;
  const reach = async (r: UpRun): Promise<string> => {
    const tunnel = await tunnelTo(host, hostUrl);
    if ('problem' in tunnel) throw new Error(tunnel.problem);
    closeTunnel = tunnel.close;
    r.launch.url = hostUrl;
    r.launch.sshForward = host.forwardCommand(settings.port, settings.port);
    return tunnel.url;
  };
  const reachLines = (r: UpRun): string[] => {
    const local = `http://127.0.0.1:${settings.port}`;
    return [
      '',
      paint.bold(`  The server is running on ${host.label} at ${hostUrl} (container ${settings.name}${r.plan.kind === 'reuse' ? ', reused' : ''})`),
      `    reach it: ${host.forwardCommand(settings.port, settings.port)}   then ${local}`,
      `    try it:   ${curlExample(local, settings.server, r.servedModelName, settings.apiKey?.envName ?? null)}`,
      `    stop it:  guard-doctor down --host ${host.label} --name ${settings.name}`,
    ];
  };
  try {
    const result = await runUp(run, { reach, reachLines });
    if (result.interrupted) {
      return { checks: result.checks, launch: result.launch, exitCode: result.exitCode, lines: result.lines.map((l) => `  ${l}`), fields: { ...result.fields, interrupted: true } };
    }
    return { checks: result.checks, ...(result.cases ? { cases: result.cases } : {}), launch: result.launch, exitCode: result.exitCode, lines: result.lines, fields: result.fields };
  } finally {
    await (closeTunnel as (() => Promise<void>) | null)?.().catch(() => undefined);
  }
}
