/**
 * `guard-doctor watch --host ...` against real sshd hosts (test/helpers/sshd.ts), each with its
 * own nvidia-smi answers: a leaking guard, a flat one, one without a driver, and a port where
 * nothing listens. This machine has no nvidia-smi on the doctor's PATH, so a watch that
 * sampled locally would fail every assertion below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { fleetUnavailable, startFleet, type Fleet } from '../helpers/sshd.js';
// @ts-expect-error plain ESM test server without type declarations
import { startGuardServer } from '../server/guard-server.mjs';

const skip = fleetUnavailable();
// The machine running the tests is shared and slow at times; these limits are the doctor's, not timings.
const LIMITS = ['--probe-timeout', '300'];
let fleet: Fleet;

function run(args: string[]): Promise<CliResult> {
  // No fake nvidia-smi here: only the hosts have one.
  return runCli([...args, ...LIMITS], { fakeBin: false, env: fleet.env, timeoutMs: 600_000 });
}

type Check = { id: string; status: string; summary: string; fix?: string };
type Entry = { host: string; ok: boolean; exitCode: number; checks: Check[]; watch?: { samples: Array<{ processes: Array<{ pid: number }> }>; load: { requestsSent: number } | null } };
const byHost = (result: CliResult) => Object.fromEntries((result.json.hosts as Entry[]).map((h) => [h.host, h]));
const check = (entry: Entry | undefined, id: string) => entry?.checks.find((c) => c.id === id);

describe('watch --host: bad input before any host is reached', () => {
  it('--url with more than one host is a usage error naming the options (exit 2)', async () => {
    const result = await runCli(['watch', '--host', 'gpu-a', '--host', 'gpu-b', '--url', 'http://127.0.0.1:8000', '--interval', '0.5', '--duration', '5'], { fakeBin: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--url drives one server from this machine, but 2 hosts are given (--host/--hosts)');
  });

  it('--parallel 0 and a --hosts file that is not there are usage errors naming the option (exit 2)', async () => {
    const parallel = await runCli(['watch', '--host', 'gpu-a', '--parallel', '0'], { fakeBin: false });
    expect(parallel.exitCode).toBe(2);
    expect(parallel.stderr).toContain('--parallel');
    const hosts = await runCli(['watch', '--hosts', '/nonexistent/gpus.txt'], { fakeBin: false });
    expect(hosts.exitCode).toBe(2);
    expect(hosts.stderr).toContain('--hosts');
    expect(hosts.stderr).toContain('/nonexistent/gpus.txt');
  });

  it('an interval too long for the duration is the same usage error as on this machine (exit 2)', async () => {
    const result = await runCli(['watch', '--host', 'gpu-a', '--interval', '10', '--duration', '20'], { fakeBin: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--interval 10 s and --duration 20 s give 3 samples; a trend needs at least 5');
  });
});

describe.skipIf(skip !== null)('watch --host over real SSH', () => {
  beforeAll(async () => {
    fleet = await startFleet([
      { alias: 'gpu-leak', smi: '../watch/leak' },
      { alias: 'gpu-flat', smi: '../watch/flat' },
      { alias: 'gpu-nodriver', smi: 'no-driver' },
      { alias: 'gpu-load', smi: '../watch/flat' },
      { alias: 'gpu-ctrlc', smi: '../watch/leak' },
    ]);
  }, 120_000);
  afterAll(async () => fleet?.stop());

  it("samples each host's GPUs over SSH: a section per host, the fleet's exit code, JSON hosts[] with each host's samples", async () => {
    const result = await run(['watch', '--json', '--parallel', '4', '--host', 'gpu-leak', '--host', 'gpu-flat', '--host', 'gpu-nodriver', '--host', fleet.dead, '--interval', '0.4', '--duration', '3']);
    expect(result.json, result.stderr).toBeDefined();
    expect(result.json).toMatchObject({ tool: 'guard-doctor', command: 'watch', ok: false, exitCode: 1 });
    expect(result.json.checks).toBeUndefined();
    expect((result.json.hosts as Entry[]).map((h) => h.host)).toEqual(['gpu-leak', 'gpu-flat', 'gpu-nodriver', fleet.dead]);
    const hosts = byHost(result);
    const seen = JSON.stringify(result.json.hosts, null, 1);

    // gpu-leak: its own nvidia-smi's rising process.
    expect(check(hosts['gpu-leak'], 'host.reachable')?.status, seen).toBe('pass');
    expect(check(hosts['gpu-leak'], 'watch.sampling')?.status, seen).toBe('pass');
    expect(check(hosts['gpu-leak'], 'watch.process.48213'), seen).toMatchObject({ status: 'warn', summary: expect.stringMatching(/^pid 48213 keeps rising: 18500 -> \d+ MiB/) });
    expect(check(hosts['gpu-leak'], 'watch.process.51877')?.status, seen).toBe('pass');
    expect(hosts['gpu-leak']!.exitCode).toBe(0);
    expect(hosts['gpu-leak']!.watch!.samples.length).toBeGreaterThanOrEqual(5);
    expect(hosts['gpu-leak']!.watch!.samples[0]!.processes.map((p) => p.pid)).toEqual([48213, 51877]);

    // gpu-flat: steady.
    expect(check(hosts['gpu-flat'], 'watch.process.48213'), seen).toMatchObject({ status: 'pass', summary: expect.stringMatching(/^pid 48213 steady: 61222 -> /) });
    expect(check(hosts['gpu-flat'], 'watch.gpu.0')?.status, seen).toBe('pass');

    // gpu-nodriver: the driver's own words, once.
    expect(check(hosts['gpu-nodriver'], 'watch.sampling'), seen).toMatchObject({ status: 'fail', summary: expect.stringContaining("couldn't communicate with the NVIDIA driver") });
    expect(hosts['gpu-nodriver']!.checks.map((c) => c.id)).toEqual(['host.reachable', 'watch.sampling']);
    expect(hosts['gpu-nodriver']!.exitCode).toBe(1);

    // the dead host: ssh's words, and only that.
    expect(check(hosts[fleet.dead], 'host.reachable'), seen).toMatchObject({ status: 'error', summary: expect.stringContaining(`could not reach ${fleet.dead} over ssh`) });
  }, 600_000);

  it('the human report has a section per host with its trend table, then the fleet table', async () => {
    const result = await run(['watch', '--host', 'gpu-flat', '--host', fleet.dead, '--interval', '0.4', '--duration', '2']);
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stdout).toContain('guard-doctor watch on 2 hosts');
    expect(result.stdout).toContain('── gpu-flat ──');
    // gpu-flat's recorded sequence went on from the run above (its nvidia-smi keeps count): 61222 or 61224.
    expect(result.stdout).toMatch(/✓ watch\.process\.48213\s+pid 48213 steady: 6122[24] -> 6122[24] MiB/);
    expect(result.stdout).toMatch(/pid 48213\s+6122[24] MiB\s+6122[24] MiB\s+6122[24] MiB\s+\S+\s+steady/);
    expect(result.stdout).toContain(`── ${fleet.dead} ──`);
    expect(result.stdout).toContain('Fleet: 2 hosts');
  }, 600_000);

  it('--url with one --host drives the load from this machine against the URL as given', async () => {
    const server = await startGuardServer({ kind: 'web' });
    try {
      const result = await run(['watch', '--json', '--host', 'gpu-load', '--url', server.url, '--server', 'web', '--interval', '0.5', '--duration', '4']);
      const entry = byHost(result)['gpu-load'];
      const seen = JSON.stringify(result.json?.hosts, null, 1);
      expect(['pass', 'warn'], seen).toContain(check(entry, 'watch.load')?.status);
      expect(entry!.watch!.load!.requestsSent, seen).toBeGreaterThan(0);
      expect(server.stats().requests).toBeGreaterThanOrEqual(entry!.watch!.load!.requestsSent);
      expect(check(entry, 'watch.process.48213')?.status, seen).toBe('pass');
    } finally {
      await server.close();
    }
  }, 600_000);

  it('Ctrl-C ends the watch on every host early, and each host still reports what it sampled', async () => {
    const { execa } = await import('execa');
    const child = execa(process.execPath, [path.join(ROOT, 'bin', 'guard-doctor.js'), 'watch', '--json', '--host', 'gpu-ctrlc', '--interval', '0.3', '--duration', '600', ...LIMITS], {
      env: { ...fleet.env, NO_COLOR: '1', CI: '' },
      reject: false,
      timeout: 120_000,
    });
    // The host's start line says the watch began; give it a few seconds of samples, then interrupt.
    await new Promise<void>((resolve) => {
      let seen = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('guard-doctor: gpu-ctrlc: watching GPU memory every 0.3 s for 600 s')) setTimeout(resolve, 4000);
      });
    });
    child.kill('SIGINT');
    const result = await child;
    const json = JSON.parse(String(result.stdout));
    const entry = json.hosts[0];
    expect(entry.host).toBe('gpu-ctrlc');
    expect(entry.watch.endedEarly, result.stderr).toBe(true);
    expect(entry.watch.samples.length).toBeGreaterThan(1);
    expect(entry.checks.map((c: Check) => c.id)).toContain('watch.sampling');
    expect(String(result.stderr)).toContain('stopping every host');
    expect(result.exitCode).toBe(json.exitCode);
  }, 180_000);
});
