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
import { hostHubSettings } from '../hub-settings.js';
import { createUpRun, runUp } from '../phases/run.js';
import type { UpRun } from '../phases/context.js';
import type { SshHost } from '../ssh.js';
import { tunnelTo, type Tunnel } from './suite.js';
import { tunnelFailedCheck } from '../../checks/host/tunnel.js';
import type { HostOutcome } from './report.js';

export async function upOnHost(given: Settings, host: SshHost, signal: AbortSignal): Promise<HostOutcome> {
  // A hub source: the host's cache is judged and mounted, not this machine's.
  const settings = await hostHubSettings(given, host);
  if (settings.publishHost !== '127.0.0.1' && settings.publishHost !== 'localhost') {
    // Published elsewhere the server would be open to the host's network; the forward needs loopback anyway.
    throw new UsageError(`--publish-host ${settings.publishHost}: with --host the server is published on each host's 127.0.0.1 and reached through SSH; leave --publish-host out`);
  }
  const suite = settings.runSuite ? loadSuite({ casesFile: settings.casesFile, tags: settings.tags }) : null;
  const run = createUpRun({ settings, host, signal, suite, progressEnabled: false, setLeftBehind: () => undefined });
  run.launch.host = host.label;
  const hostUrl = run.url;
  const tunnels: Tunnel[] = [];
  const reach = async (r: UpRun): Promise<string> => {
    const tunnel = await tunnelTo(host, hostUrl);
    if ('problem' in tunnel) throw new Error(tunnel.problem);
    tunnels.push(tunnel);
    r.launch.url = hostUrl;
    r.launch.sshForward = host.forwardCommand(settings.port, settings.port);
    if (settings.metricsUrl) r.metricsUrl = await reachMetrics(r, host, settings.metricsUrl, hostUrl, tunnel, tunnels);
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
    for (const tunnel of tunnels) await tunnel.close().catch(() => undefined);
  }
}

/** Scheme, address and port of a URL, as the host sees it ("localhost" is its 127.0.0.1). */
function endpoint(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  const address = parsed.hostname === 'localhost' ? '127.0.0.1' : parsed.hostname;
  return `${parsed.protocol}//${address}:${port}`;
}

/**
 * --metrics-url names a port on the host (usually the server's own: http://127.0.0.1:8000/metrics).
 * The server's forward serves it when it is the same port; another port gets its own forward.
 * A forward that cannot be opened is a host.tunnel error (the reconciliation is then not judged).
 */
async function reachMetrics(run: UpRun, host: SshHost, metricsUrl: string, hostUrl: string, server: Tunnel, tunnels: Tunnel[]): Promise<string | null> {
  if (endpoint(metricsUrl) === endpoint(hostUrl)) {
    const parsed = new URL(metricsUrl);
    return new URL(`${parsed.pathname}${parsed.search}`, `${server.url}/`).toString();
  }
  const opened = await tunnelTo(host, metricsUrl);
  if ('problem' in opened) {
    run.checks.push(tunnelFailedCheck(`--metrics-url ${metricsUrl}: ${opened.problem}; the counters were not reconciled`));
    return null;
  }
  tunnels.push(opened);
  return opened.url;
}
