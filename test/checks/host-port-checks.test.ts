/**
 * port.free and host.memory: a port really held by a server (a process here, a container
 * publishing it), an address that is not this machine's, and host memory / disk judged from
 * this machine's real facts with the numbers edited to the interesting cases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execa } from 'execa';
import net from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { judgeOne } from '../../src/judge.js';
import type { HostInfo, PortInfo, ProbeOutcome } from '../../src/facts.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { probeHost, prettyName } from '../../src/probes/host.js';
import { containersPublishing, parseSsHolder, probePort, tryListen } from '../../src/probes/port.js';
import { portFree } from '../../checks/port-free.js';
import { hostMemory } from '../../checks/host-memory.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { skipDocker, testImage } from '../helpers/docker.js';

const GiB = 1024 ** 3;
const ssInstalled = (process.env.PATH ?? '').split(path.delimiter).some((d) => d !== '' && existsSync(path.join(d, 'ss')));
const settingsFor = (flags: Record<string, unknown> = {}, cwd = ROOT): Settings => resolveSettings('check', flags, {}, cwd);
const ok = <T>(value: T): ProbeOutcome<T> => ({ ok: true, value, durationMs: 3 });

function listen(host = '127.0.0.1', port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;
const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('port.free with a port really held', () => {
  let holder: net.Server;
  let port: number;
  beforeAll(async () => {
    holder = await listen();
    port = portOf(holder);
  });
  afterAll(() => close(holder));

  it('the probe finds it taken, by whom, and a free port nearby', async () => {
    const facts = await probePort(settingsFor({ port: String(port) }));
    expect(facts).toMatchObject({ port, host: '127.0.0.1', free: false, state: 'in-use' });
    // ss (iproute2; .ci/run installs it) shows the holding process, this test worker, to its
    // own user and to root; without ss the holder stays unknown.
    expect(facts.holder).toBe(ssInstalled ? `node (pid ${process.pid})` : null);
    expect(facts.alternative).toBeGreaterThan(port);
    expect(facts.alternative).toBeLessThanOrEqual(port + 20);
    expect((await tryListen(facts.alternative!, '127.0.0.1')).ok).toBe(true);
  });

  it('guard-doctor check fails port.free naming the holder and a free --port, exit 1', async () => {
    const { exitCode, json, stderr } = await runCli(['check', '--cpu', '--json', '--model', 'Qwen3Guard-Gen-0.6B', '--port', String(port)]);
    expect(exitCode, stderr).toBe(1);
    const check = (json.checks as Array<Record<string, any>>).find((c) => c.id === 'port.free')!;
    expect(check.status).toBe('fail');
    expect(check.summary).toBe(`127.0.0.1:${port} is already taken${ssInstalled ? ` by node (pid ${process.pid})` : ''}`);
    const suggested = Number(/--port (\d+) \(free\)/.exec(check.fix)?.[1]);
    expect(suggested).toBe(check.measured.alternative);
    expect(suggested).toBeGreaterThan(port);
    expect(check.fix).toContain('stop what listens there');
  });

  it('human output shows the taken port and the fix', async () => {
    const { exitCode, stdout, stderr } = await runCli(['check', '--cpu', '--model', 'Qwen3Guard-Gen-0.6B', '--port', String(port)]);
    expect(exitCode).toBe(1);
    const text = stdout + stderr;
    expect(text).toContain(`127.0.0.1:${port} is already taken${ssInstalled ? ` by node (pid ${process.pid})` : ''}`);
    expect(text).toMatch(/--port \d+ \(free\)/);
  });

  it('a port held on all addresses counts as taken on 127.0.0.1 too', async () => {
    const wide = await listen('0.0.0.0');
    try {
      const facts = await probePort(settingsFor({ port: String(portOf(wide)) }));
      expect(facts.free).toBe(false);
    } finally {
      await close(wide);
    }
  });

  it('a free port passes', async () => {
    const free = await listen();
    const freePort = portOf(free);
    await close(free);
    const result = judgeOne(portFree as never, { port: ok(await probePort(settingsFor({ port: String(freePort) }))) }, settingsFor());
    expect(result).toMatchObject({ status: 'pass', summary: `127.0.0.1:${freePort} is free` });
  });

  it('publishing on an address that is not this machine\'s fails', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a host; binding only asks the kernel.
    const settings = { ...settingsFor({ port: '8000' }), publishHost: '192.0.2.1' };
    const facts = await probePort(settings);
    expect(facts).toMatchObject({ free: false, state: 'address-not-local', message: '192.0.2.1 is not an address of this machine, so nothing can be published on it' });
    const result = judgeOne(portFree as never, { port: ok(facts) }, settings);
    expect(result.status).toBe('fail');
    expect(result.fix).toContain('--publish-host 127.0.0.1');
  });
});

describe.skipIf(skipDocker)('port.free with the port published by a container', () => {
  const name = `gd-test-port-holder-${process.pid}`;
  let port: number;
  beforeAll(async () => {
    const probe = await listen();
    port = portOf(probe);
    await close(probe);
    await execa('docker', ['run', '-d', '--rm', '--name', name, '-p', `127.0.0.1:${port}:8000`, '--entrypoint', '/usr/local/bin/node', testImage()!, '-e', 'setInterval(() => {}, 1 << 30)'], { timeout: 60_000 });
  });
  afterAll(async () => {
    await execa('docker', ['rm', '-f', name], { reject: false, timeout: 60_000 });
  });

  it('names the container and how to stop it', async () => {
    const settings = settingsFor({ port: String(port) });
    const facts = await probePort(settings);
    expect(facts).toMatchObject({ free: false, holder: `container ${name}` });
    const result = judgeOne(portFree as never, { port: ok(facts) }, settings);
    expect(result.summary).toBe(`127.0.0.1:${port} is already taken by container ${name}`);
    expect(result.fix).toContain(`docker stop ${name}`);
    expect(result.fix).toMatch(/--port \d+ \(free\)/);
  });

  it('recognises a container left by an earlier guard-doctor up', async () => {
    const settings = { ...settingsFor({ port: String(port) }), name };
    const result = judgeOne(portFree as never, { port: ok(await probePort(settings)) }, settings);
    expect(result.fix).toContain(`guard-doctor down --name ${name}`);
    const replacing = { ...settings, replace: true };
    expect(judgeOne(portFree as never, { port: ok(await probePort(replacing)) }, replacing)).toMatchObject({
      status: 'pass',
      summary: `127.0.0.1:${port} is held by container ${name}, which --replace removes first`,
    });
  });
});

describe('port.free from edited facts', () => {
  const base: PortInfo = { port: 80, host: '127.0.0.1', free: true, state: 'untested', holder: null, alternative: null, message: 'could not try port 80: ports below 1024 need root (the Docker daemon binds as root, so it may still work)' };
  it('warns when a port below 1024 could not be tried without root', () => {
    const result = judgeOne(portFree as never, { port: ok(base) }, settingsFor());
    expect(result.status).toBe('warn');
    expect(result.summary).toContain('ports below 1024 need root');
  });
  it('without a free neighbour, says to pick one', () => {
    const taken: PortInfo = { ...base, port: 8000, free: false, state: 'in-use', message: '127.0.0.1:8000 is already in use' };
    const result = judgeOne(portFree as never, { port: ok(taken) }, settingsFor());
    expect(result).toMatchObject({ status: 'fail', summary: '127.0.0.1:8000 is already taken' });
    expect(result.fix).toContain('pick a free port with --port N');
  });
});

describe('port and host parsers', () => {
  it('read container port lists and ss lines', () => {
    const ps = 'guard-doctor-qwen3guard-gen-8b\t127.0.0.1:8000->8000/tcp\nweb\t0.0.0.0:7860-7862->7860-7862/tcp, :::7860-7862->7860-7862/tcp\nidle\t\n';
    expect(containersPublishing(ps, 8000)).toEqual(['guard-doctor-qwen3guard-gen-8b']);
    expect(containersPublishing(ps, 7861)).toEqual(['web']);
    expect(containersPublishing(ps, 8001)).toEqual([]);
    expect(parseSsHolder('LISTEN 0      4096   127.0.0.1:18555 0.0.0.0:* users:(("docker-proxy",pid=10022,fd=4))\n')).toBe('docker-proxy (pid 10022)');
    expect(prettyName('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(prettyName('ID=alpine\n')).toBeNull();
  });
  it('never throw on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 1, max: 65535 }), (text, port) => {
        containersPublishing(text, port);
        parseSsHolder(text);
        prettyName(text);
      }),
    );
  });
});

describe('host.memory', () => {
  let realHost: HostInfo;
  beforeAll(async () => {
    // Without a folder the model lives in the hub cache: HF_HOME/hub, not there yet, so its nearest existing folder.
    realHost = await probeHost(resolveSettings('check', {}, {}, ROOT, { HF_HOME: ROOT }));
  });

  it('the probe reads this machine: memory as /proc/meminfo says, free disk, OS', () => {
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1]) * 1024;
    expect(realHost.memTotalBytes).toBe(kib('MemTotal'));
    expect(realHost.memAvailableBytes).toBeGreaterThan(0);
    expect(realHost.memAvailableBytes).toBeLessThanOrEqual(realHost.memTotalBytes);
    expect(realHost.diskPath).toBe(ROOT);
    expect(realHost.diskFreeBytes).toBeGreaterThan(0);
    expect(realHost.os).toContain(`kernel ${os.release()}`);
  });

  it('measures disk where the model will be, even before its folder exists', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gd-host $(touch pwned) é '));
    try {
      const settings = settingsFor({ mount: `${path.join(dir, 'not yet', 'Qwen3Guard-Gen-8B')}:/models/Qwen3Guard-Gen-8B` });
      const host = await probeHost(settings);
      expect(host.diskPath).toBe(dir);
      expect(host.diskFreeBytes).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const judge = (host: Partial<HostInfo>, flags: Record<string, unknown> = {}, weightBytes: number | null = null) =>
    judgeOne(hostMemory as never, { host: ok({ ...realHost, ...host }), model: ok(weightBytes === null ? null : ({ weightBytes } as never)) }, settingsFor(flags));

  it('passes with room to load the 8B weights', () => {
    const result = judge({ memAvailableBytes: 64 * GiB, memTotalBytes: 128 * GiB, diskFreeBytes: 500 * GiB });
    expect(result.status).toBe('pass');
    expect(result.summary).toContain('64.0 GiB of 128.0 GiB RAM available, loading needs about 17.3 GiB');
  });

  it('warns when available RAM is below the 8B weights, with the OOM-kill consequence and a smaller model', () => {
    const result = judge({ memAvailableBytes: 12 * GiB, memTotalBytes: 16 * GiB, diskFreeBytes: 500 * GiB });
    expect(result.status).toBe('warn');
    expect(result.summary).toContain('12.0 GiB of 16.0 GiB RAM available; loading Qwen3Guard-Gen-8B needs about 17.3 GiB (15.3 GiB of weights from the published size and the server)');
    expect(result.fix).toContain('exit 137, OOMKilled');
    expect(result.fix).toContain('--model Qwen3Guard-Gen-4B');
    expect(result.measured).toMatchObject({ memAvailableMiB: 12 * 1024, requiredMiB: Math.ceil((16_381_516_776 + 2 * GiB) / 1024 ** 2) });
  });

  it('uses the weight size read from the model folder over the published one', () => {
    const result = judge({ memAvailableBytes: 12 * GiB }, {}, 9 * GiB);
    expect(result.status).toBe('pass');
    expect(result.measured).toMatchObject({ weightBytes: 9 * GiB, requiredMiB: 11 * 1024 });
  });

  it('on CPU counts the KV cache too', () => {
    const result = judge({ memAvailableBytes: 20 * GiB, diskFreeBytes: 500 * GiB }, { cpu: true });
    expect(result.status).toBe('warn');
    expect(result.summary).toContain('serving Qwen3Guard-Gen-8B needs about 21.3 GiB');
  });

  it('warns when the disk holding the model is nearly full', () => {
    const result = judge({ memAvailableBytes: 64 * GiB, diskFreeBytes: 300 * 1024 ** 2, diskPath: '/srv/models' }, { model: 'Qwen3Guard-Gen-0.6B' });
    expect(result.status).toBe('warn');
    expect(result.summary).toBe('only 300.0 MiB free disk at /srv/models');
    expect(result.fix).toContain('free disk space on the file system holding /srv/models');
  });
});
