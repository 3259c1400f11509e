/**
 * The exposure probe: does the metrics endpoint of --url also answer, without credentials, on
 * this host's addresses that the network can reach? It resolves the URL's host name, lists this
 * host's interfaces, and asks the same port and path on the addresses that matter. The whole
 * probe runs under the probe runner's --probe-timeout; the requests share that deadline and
 * each is also capped at EXPOSURE_REQUEST_MS: a firewall that drops packets must not stall the run. `metrics.exposure` (checks/metrics/exposure.ts) judges what it found.
 */
import os from 'node:os';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ExposureFacts, ExposureHostKind } from '../facts.js';
import { HttpError, request } from '../http.js';
import type { Settings } from '../settings.js';

/** Time limit of each request on another address. */
export const EXPOSURE_REQUEST_MS = 2000;

export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

/** Non-loopback addresses of this host that a client on the network could use. */
export function externalAddresses(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  const out: string[] = [];
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.internal || isLoopback(entry.address)) continue;
      // Link-local IPv6 needs a zone id and is not reachable from other networks.
      if (entry.family === 'IPv6' && entry.address.toLowerCase().startsWith('fe80:')) continue;
      out.push(entry.address);
    }
  }
  return out;
}

/** Where addresses a host name resolved to are, seen from this host. */
export function classifyAddresses(addresses: readonly string[], own: readonly string[]): ExposureHostKind {
  if (addresses.length > 0 && addresses.every(isLoopback)) return 'loopback';
  if (addresses.some((a) => own.includes(a) || a === '0.0.0.0' || a === '::')) return 'this-host';
  return 'elsewhere';
}

/**
 * Which addresses to ask: none when the host is elsewhere (only this host's own addresses are
 * tried) or when the URL itself is a reachable address asked without credentials (that is the
 * finding already); the resolved addresses when the URL names this host with credentials; every
 * other address of this host when the URL is loopback.
 */
export function addressesToTry(kind: ExposureHostKind, credentialed: boolean, addresses: readonly string[], own: readonly string[]): string[] {
  if (kind === 'elsewhere') return [];
  if (kind === 'this-host') return credentialed ? [...addresses] : [];
  return [...own];
}

/** The `exposure` fact of --url. */
export async function probeExposure(settings: Settings): Promise<ExposureFacts> {
  if (settings.url === null) throw new Error('metrics needs --url');
  const deadline = performance.now() + settings.probeTimeoutMs;
  const limit = () => Math.max(1, Math.min(EXPOSURE_REQUEST_MS, settings.requestTimeoutMs, Math.round(deadline - performance.now())));
  const target = new URL(settings.url);
  const port = Number(target.port || (target.protocol === 'https:' ? '443' : '80'));
  const credentialed = target.username !== '' || target.password !== '';
  const ownAddresses = externalAddresses();
  const addresses = await resolve(target.hostname);
  const kind = classifyAddresses(addresses, ownAddresses);
  const tried = await Promise.all(
    addressesToTry(kind, credentialed, addresses, ownAddresses).map(async (address) => ({ address, outcome: await ask(settings.url!, address, limit()) })),
  );
  return { hostname: target.hostname, port, credentialed, addresses, kind, ownAddresses, tried };
}

async function resolve(hostname: string): Promise<string[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (isIP(bare)) return [bare];
  if (bare.toLowerCase() === 'localhost') return ['127.0.0.1'];
  try {
    // A lookup that hangs is bounded by the probe runner: the exposure is then "could not tell".
    return (await lookup(bare, { all: true })).map((r) => r.address);
  } catch {
    // Not resolvable (ENOTFOUND, a resolver error): counted as not this host.
    return [];
  }
}

/** Ask the URL's port and path on `address`, without the URL's credentials. */
async function ask(url: string, address: string, timeoutMs: number): Promise<string> {
  const probe = new URL(url);
  probe.username = '';
  probe.password = '';
  probe.hostname = address.includes(':') ? `[${address}]` : address;
  try {
    const response = await request({ url: probe.toString(), timeoutMs, maxBodyBytes: 4096 });
    if (response.status === 200) return 'answers';
    return response.status === 401 || response.status === 403 ? 'asks for credentials' : `HTTP ${response.status}`;
  } catch (error) {
    const kind = error instanceof HttpError ? error.kind : 'network';
    return kind === 'refused' ? 'refused' : kind === 'timeout' ? 'no answer' : kind;
  }
}
