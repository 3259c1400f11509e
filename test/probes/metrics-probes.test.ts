/**
 * The two probes of `metrics` run by the one probe runner (src/probes/index.ts runProbe)
 * against real HTTP endpoints started here on this host, and the exposure probe's pure parts
 * (where an address is, which addresses to ask).
 */
import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { runProbe } from '../../src/probes/index.js';
import { addressesToTry, classifyAddresses, externalAddresses } from '../../src/probes/exposure.js';
import { resolveSettings } from '../../src/settings.js';
import { ROOT } from '../helpers/cli.js';

const WEB = readFileSync(path.join(ROOT, 'test', 'fixtures', 'prom', 'web-app.txt'), 'utf8');

const servers: http.Server[] = [];
afterAll(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** /metrics answering the web app's page after `delayMs` (never, with `hang`), on `host`. */
async function serve(options: { host?: string; delayMs?: number; hang?: boolean } = {}): Promise<number> {
  const server = http.createServer((_req, res) => {
    if (options.hang) return;
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(WEB), options.delayMs ?? 0);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const settingsFor = (url: string, flags: Record<string, unknown> = {}) => resolveSettings('metrics', { url, server: 'web', ...flags }, {}, ROOT);

describe('the scrape probe under the probe runner', () => {
  it('is bounded by --request-timeout, not --probe-timeout: a scrape slower than the probe limit still counts', async () => {
    const port = await serve({ delayMs: 1500 });
    const outcome = await runProbe('scrape', settingsFor(`http://127.0.0.1:${port}/metrics`, { probeTimeout: '0.2', requestTimeout: '10' }));
    expect(outcome.ok).toBe(true);
    if (!outcome.ok || !outcome.value.ok) throw new Error('the scrape should have succeeded');
    expect(outcome.value.result.families).toHaveLength(6);
    expect(outcome.value.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(outcome.durationMs).toBeGreaterThanOrEqual(1400);
  });

  it('a hanging endpoint is a scrape that timed out (a fact for metrics.scrape), not a probe that crashed', async () => {
    const port = await serve({ hang: true });
    const outcome = await runProbe('scrape', settingsFor(`http://127.0.0.1:${port}/metrics`, { requestTimeout: '1' }));
    expect(outcome).toMatchObject({ ok: true, value: { ok: false, kind: 'timeout', message: `no complete answer from http://127.0.0.1:${port}/metrics within 1 s` } });
  });

  it('a password in the URL is never in what the probe reports', async () => {
    const port = await serve();
    const outcome = await runProbe('scrape', settingsFor(`http://prom:s3cret-pa55@127.0.0.1:${port}/metrics`));
    expect(JSON.stringify(outcome)).not.toContain('s3cret-pa55');
    expect(outcome).toMatchObject({ ok: true, value: { ok: true, url: `http://prom:***@127.0.0.1:${port}/metrics` } });
  });
});

describe('the exposure probe under the probe runner', () => {
  const external = externalAddresses();

  it('on loopback: asks every other address of this host, and each one refuses', async () => {
    const port = await serve({ host: '127.0.0.1' });
    const outcome = await runProbe('exposure', settingsFor(`http://127.0.0.1:${port}/metrics`));
    if (!outcome.ok) throw new Error(outcome.message);
    expect(outcome.value).toMatchObject({ hostname: '127.0.0.1', port, credentialed: false, addresses: ['127.0.0.1'], kind: 'loopback', ownAddresses: external });
    expect(outcome.value.tried).toEqual(external.map((address) => ({ address, outcome: 'refused' })));
  });

  it.runIf(external.some((a) => !a.includes(':')))('on all addresses: another address of this host answers', async () => {
    const port = await serve({ host: '0.0.0.0' });
    const outcome = await runProbe('exposure', settingsFor(`http://localhost:${port}/metrics`));
    if (!outcome.ok) throw new Error(outcome.message);
    const v4 = external.find((a) => !a.includes(':'))!;
    expect(outcome.value.kind).toBe('loopback');
    expect(outcome.value.tried).toContainEqual({ address: v4, outcome: 'answers' });
  });
});

describe('where the URL is, and what to ask', () => {
  it('lists the addresses of interfaces the network reaches: no loopback, no IPv6 link-local', () => {
    const interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {
      lo: [
        { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
        { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
      ],
      eth0: [
        { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '52:54:00:12:34:56', internal: false, cidr: '192.168.1.20/24' },
        { address: 'fe80::5054:ff:fe12:3456', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '52:54:00:12:34:56', internal: false, cidr: 'fe80::5054:ff:fe12:3456/64', scopeid: 2 },
        { address: '2001:db8::20', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '52:54:00:12:34:56', internal: false, cidr: '2001:db8::20/64', scopeid: 0 },
      ],
      docker0: [{ address: '172.17.0.1', netmask: '255.255.0.0', family: 'IPv4', mac: '02:42:ac:11:00:01', internal: false, cidr: '172.17.0.1/16' }],
    };
    expect(externalAddresses(interfaces)).toEqual(['192.168.1.20', '2001:db8::20', '172.17.0.1']);
  });

  it('classifies loopback, this host (an own address or a wildcard) and elsewhere; nothing resolved is elsewhere', () => {
    const own = ['192.168.1.20'];
    expect(classifyAddresses(['127.0.0.1', '::1'], own)).toBe('loopback');
    expect(classifyAddresses(['::ffff:127.0.0.1'], own)).toBe('loopback');
    expect(classifyAddresses(['192.168.1.20'], own)).toBe('this-host');
    expect(classifyAddresses(['0.0.0.0'], own)).toBe('this-host');
    expect(classifyAddresses(['127.0.0.1', '192.168.1.20'], own)).toBe('this-host');
    expect(classifyAddresses(['203.0.113.7'], own)).toBe('elsewhere');
    expect(classifyAddresses([], own)).toBe('elsewhere');
  });

  it('asks the other addresses for loopback, the URL\'s own addresses with credentials, nothing otherwise', () => {
    const own = ['192.168.1.20', '10.0.0.5'];
    expect(addressesToTry('loopback', false, ['127.0.0.1'], own)).toEqual(own);
    expect(addressesToTry('this-host', true, ['192.168.1.20'], own)).toEqual(['192.168.1.20']);
    expect(addressesToTry('this-host', false, ['192.168.1.20'], own)).toEqual([]);
    expect(addressesToTry('elsewhere', false, ['203.0.113.7'], own)).toEqual([]);
  });
});
