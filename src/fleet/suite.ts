/**
 * `suite --host H --url URL`: the URL is the server as the host sees it (usually published on
 * its 127.0.0.1); the doctor reaches it through a local forward on the host's SSH connection
 * and runs the same suite it runs locally.
 */
import { errorMessage } from '../errors.js';
import type { Settings } from '../settings.js';
import type { CheckResult } from '../types.js';
import type { SshHost } from '../ssh.js';
import { createProgress } from '../report/progress.js';
import { abortable } from '../launch/signals.js';
import type { HostOutcome } from './report.js';
import { tunnelFailedCheck } from '../../checks/host/tunnel.js';

export interface Tunnel {
  /** The URL as reached from this machine. */
  url: string;
  close(): Promise<void>;
}

/** A forward to `url` as the host sees it; the URL to use from here, or why there is none. */
export async function tunnelTo(host: SshHost, url: string): Promise<Tunnel | { problem: string }> {
  const parsed = new URL(url);
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  const address = parsed.hostname.replace(/^\[|\]$/g, '');
  const forward = await host.forward(address === 'localhost' ? '127.0.0.1' : address, port);
  if (!forward.ok) return { problem: `could not forward a local port to ${address}:${port} on ${host.label}: ${forward.message}` };
  const local = new URL(url);
  local.hostname = '127.0.0.1';
  local.port = String(forward.localPort);
  return { url: local.toString().replace(/\/+$/, ''), close: forward.close };
}

function tunnelFailed(problem: string): HostOutcome {
  return { checks: [tunnelFailedCheck(problem)] };
}

export async function suiteOnHost(settings: Settings, host: SshHost, signal: AbortSignal): Promise<HostOutcome> {
  const tunnel = await tunnelTo(host, settings.url!);
  if ('problem' in tunnel) return tunnelFailed(tunnel.problem);
  let metrics: Tunnel | null = null;
  try {
    if (settings.metricsUrl) {
      const opened = await tunnelTo(host, settings.metricsUrl);
      if ('problem' in opened) return tunnelFailed(opened.problem);
      metrics = opened;
    }
    const { loadSuite } = await import('../suite/load.js');
    const { runSuiteDetailed } = await import('../suite/run.js');
    const suite = loadSuite({ casesFile: settings.casesFile, tags: settings.tags });
    const progress = await createProgress(settings.output, { when: 'never' });
    const checks: CheckResult[] = [];
    const reconcileModule = metrics ? await (await import('../phases/suite.js')).loadReconcile() : null;
    const before = reconcileModule && metrics ? await abortable(reconcileModule.scrapeSnapshot(metrics.url, settings.requestTimeoutMs), signal) : null;
    const run = await abortable(runSuiteDetailed(settings, { url: tunnel.url, progress, suite, signal }), signal);
    if (reconcileModule && metrics && before) {
      const after = await abortable(reconcileModule.scrapeSnapshot(metrics.url, settings.requestTimeoutMs), signal);
      const { asTheUserNamedIt } = await import('../phases/suite.js');
      const reconciled = reconcileModule.reconcile(before, after, [...run.cases, ...run.followUps], run.requestsSent, settings.server);
      checks.push(...reconciled.map((c) => asTheUserNamedIt(c, metrics!.url, settings.metricsUrl, host.label)));
    }
    return {
      checks,
      cases: run.cases,
      fields: { suite: { name: suite.name, url: settings.url, servedModel: run.servedModel, requestsSent: run.requestsSent, durationMs: run.durationMs } },
    };
  } catch (error) {
    if (signal.aborted) throw error;
    throw new Error(`the suite could not run through the tunnel: ${errorMessage(error)}`);
  } finally {
    await tunnel.close().catch(() => undefined);
    await metrics?.close().catch(() => undefined);
  }
}
