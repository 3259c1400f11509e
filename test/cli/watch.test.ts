/**
 * `guard-doctor watch` against the fake nvidia-smi replaying per-process memory that rises,
 * stays flat, or spikes once; and the trend rule on its own.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ROOT, runCli } from '../helpers/cli.js';
import { fitTrend, LEAK_RULE, type MemoryPoint } from '../../src/watch/trend.js';
// @ts-expect-error plain ESM test server without type declarations
import { startGuardServer } from '../server/guard-server.mjs';

const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'guard-doctor-watch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let stateDirs = 0;
/** Each run gets its own counter folder, so the apps-N.txt sequence starts at 1. */
function env(host: string, extra: Record<string, string> = {}) {
  const state = path.join(tmp, `state-${stateDirs++}`);
  return { FAKE_NVIDIA_SMI: host, FAKE_NVIDIA_SMI_STATE: mkdtempSync(`${state}-`), ...extra };
}

const byId = (json: any, id: string) => (json.checks as any[]).find((c) => c.id === id);
// The planned samples are taken even when nvidia-smi is slower than the interval, up to the duration plus
// one --probe-timeout: a generous limit keeps all 11 on a loaded machine (the fake nvidia-smi is a node process).
const SHORT = ['--interval', '0.2', '--duration', '2', '--probe-timeout', '60'];

describe('watch: per-process memory', () => {
  it('memory that keeps rising warns with its growth in MiB/min, the flat process passes', async () => {
    const { exitCode, json, stderr } = await runCli(['watch', ...SHORT, '--json'], { env: env(path.join(FIXTURES, 'watch', 'leak')) });
    expect(json.command).toBe('watch');
    const leak = byId(json, 'watch.process.48213');
    expect(leak.status).toBe('warn');
    expect(leak.summary).toMatch(/^pid 48213 keeps rising: 18500 -> \d+ MiB, \+\d+(\.\d)? MiB\/min \(\d+ of \d+ steps up or level\)$/);
    expect(leak.measured.slopeMiBPerMin).toBeGreaterThan(LEAK_RULE.minSlopeMiBPerMin);
    expect(leak.fix).toContain('--url');
    expect(byId(json, 'watch.process.51877')).toMatchObject({ status: 'pass', summary: 'pid 51877 steady: 1024 -> 1024 MiB, +0 MiB/min' });
    expect(byId(json, 'watch.gpu.0').status).toBe('pass');
    expect(byId(json, 'watch.sampling').status).toBe('pass');
    // The samples are in the JSON, in order, with both processes.
    const samples = json.watch.samples as Array<{ tMs: number; processes: Array<{ pid: number; usedMiB: number }> }>;
    expect(samples.length).toBeGreaterThanOrEqual(LEAK_RULE.minSamples);
    expect(samples[0]!.processes).toEqual([{ pid: 48213, usedMiB: 18500 }, { pid: 51877, usedMiB: 1024 }]);
    expect(samples.map((s) => s.tMs)).toEqual([...samples.map((s) => s.tMs)].sort((a, b) => a - b));
    expect(json.watch.trends.processes.find((t: any) => t.pid === 48213).verdict).toBe('rising');
    expect(json.watch).toMatchObject({ intervalMs: 200, durationMs: 2000, endedEarly: false });
    // A warning alone does not fail the run; plain progress lines went to stderr.
    expect(exitCode).toBe(0);
    expect(stderr).toContain('Watching GPU memory every 0.2 s for 2 s');
  });

  it('--strict turns the leak warning into exit 1', async () => {
    const { exitCode } = await runCli(['watch', ...SHORT, '--json', '--strict'], { env: env(path.join(FIXTURES, 'watch', 'leak')) });
    expect(exitCode).toBe(1);
  });

  it('flat memory passes (exit 0), and the human report has the table', async () => {
    const { exitCode, stdout } = await runCli(['watch', ...SHORT], { env: env(path.join(FIXTURES, 'watch', 'flat')) });
    expect(exitCode).toBe(0);
    expect(stdout).toContain('guard-doctor watch: GPU memory every 0.2 s for 2 s');
    expect(stdout).toMatch(/✓ watch\.process\.48213\s+pid 48213 steady: 61222 -> 6122[24] MiB/);
    expect(stdout).toMatch(/pid 48213\s+61222 MiB\s+6122[24] MiB\s+61224 MiB\s+\S+\s+steady/);
  });

  it('one spike is not a leak', async () => {
    const { exitCode, json } = await runCli(['watch', ...SHORT, '--json'], { env: env(path.join(FIXTURES, 'watch', 'spike')) });
    expect(byId(json, 'watch.process.48213').status).toBe('pass');
    expect(json.watch.trends.processes[0].maxMiB).toBe(63270);
    expect(exitCode).toBe(0);
  });

  it('a host with a busy A100 (recorded apps sequence, a process whose memory turns [N/A]) is judged on the readable samples', async () => {
    const { json } = await runCli(['watch', ...SHORT, '--json'], { env: env(path.join(FIXTURES, 'nvidia-smi', 'a100-80gb-busy')) });
    expect(byId(json, 'watch.sampling').status).toBe('pass');
    expect(byId(json, 'watch.process.48213')).toBeDefined();
    // 51877 has one readable sample, then [N/A]: too few to judge.
    expect(byId(json, 'watch.process.51877')).toMatchObject({ status: 'skip', summary: expect.stringContaining('only 1 sample') });
  });
});

describe('watch: through the GPU probe', () => {
  it('each sample is two nvidia-smi calls: the compute apps and the GPU query, no more', async () => {
    const log = path.join(tmp, 'calls.log');
    const { json } = await runCli(['watch', ...SHORT, '--json'], { env: env(path.join(FIXTURES, 'watch', 'flat'), { FAKE_NVIDIA_SMI_LOG: log }) });
    const calls = readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as string[]);
    const samples = json.watch.samples.length;
    expect(samples).toBeGreaterThanOrEqual(LEAK_RULE.minSamples);
    expect(calls).toHaveLength(2 * samples);
    expect(calls.filter((c) => c[0]!.startsWith('--query-gpu=')).map((c) => c[0])).toEqual(Array(samples).fill('--query-gpu=index,uuid,memory.used,memory.total,mig.mode.current'));
    expect(calls.filter((c) => c[0]!.startsWith('--query-compute-apps='))).toHaveLength(samples);
  });

  it('--help names --host and says where the --url load comes from', async () => {
    const { exitCode, stdout } = await runCli(['watch', '--help']);
    expect(exitCode).toBe(0);
    expect(stdout).toContain('--host <target>');
    expect(stdout).toContain('driven from this machine against the URL as given');
  });
});

describe('watch: when nvidia-smi cannot answer', () => {
  it('no driver: a fail naming the driver message, after one sample (exit 1)', async () => {
    const { exitCode, json } = await runCli(['watch', '--interval', '0.2', '--duration', '30', '--json'], { env: env(path.join(FIXTURES, 'nvidia-smi', 'no-driver')) });
    expect(exitCode).toBe(1);
    const sampling = byId(json, 'watch.sampling');
    expect(sampling.status).toBe('fail');
    expect(sampling.summary).toContain("couldn't communicate with the NVIDIA driver");
    expect(json.watch.samples).toHaveLength(1);
  });

  it('nvidia-smi not installed: a fail saying so', async () => {
    const { exitCode, json } = await runCli(['watch', ...SHORT, '--json'], { env: { FAKE_NVIDIA_SMI: '' } });
    expect(exitCode).toBe(1);
    expect(byId(json, 'watch.sampling')).toMatchObject({ status: 'fail', summary: expect.stringContaining('nvidia-smi is not on PATH') });
  });

  it('--gpu naming a GPU the host does not have fails, listing the GPUs there are', async () => {
    const { exitCode, json } = await runCli(['watch', ...SHORT, '--gpu', '5', '--json'], { env: env(path.join(FIXTURES, 'nvidia-smi', 'two-a100-one-busy')) });
    expect(exitCode).toBe(1);
    expect(byId(json, 'watch.sampling')).toMatchObject({ status: 'fail', summary: 'there is no GPU 5 on this host (nvidia-smi lists 0, 1)' });
  });

  it('--gpu 1 watches only that GPU', async () => {
    const { json } = await runCli(['watch', ...SHORT, '--gpu', '1', '--json'], { env: env(path.join(FIXTURES, 'nvidia-smi', 'two-a100-one-busy')) });
    expect(json.checks.map((c: any) => c.id)).toEqual(['watch.sampling', 'watch.processes', 'watch.gpu.1']);
    expect(byId(json, 'watch.gpu.1').summary).toBe('GPU 1 steady: 1 -> 1 MiB, +0 MiB/min');
  });

  it('a hanging nvidia-smi is "could not tell" under --probe-timeout (exit 3)', async () => {
    const { exitCode, json } = await runCli(['watch', '--interval', '0.25', '--duration', '1', '--probe-timeout', '0.5', '--json'], {
      env: env(path.join(FIXTURES, 'watch', 'flat'), { FAKE_NVIDIA_SMI_HANG: '1' }),
    });
    expect(exitCode).toBe(3);
    expect(byId(json, 'watch.sampling')).toMatchObject({ status: 'error', summary: expect.stringContaining('did not answer within 0.5 s') });
  });
});

describe('watch: bad input', () => {
  it('an interval too long for the duration is a usage error naming both options (exit 2)', async () => {
    const { exitCode, stderr } = await runCli(['watch', '--interval', '10', '--duration', '20'], { env: env(path.join(FIXTURES, 'watch', 'flat')) });
    expect(exitCode).toBe(2);
    expect(stderr).toContain('--interval 10 s and --duration 20 s give 3 samples; a trend needs at least 5');
  });

  it('a zero or negative interval is a usage error (exit 2)', async () => {
    const { exitCode, stderr } = await runCli(['watch', '--interval', '0'], { env: env(path.join(FIXTURES, 'watch', 'flat')) });
    expect(exitCode).toBe(2);
    expect(stderr).toContain('--interval');
  });
});

describe('watch: Ctrl-C and load', () => {
  it('Ctrl-C ends the watch early and still reports', async () => {
    const { execa } = await import('execa');
    const child = execa(process.execPath, [path.join(ROOT, 'bin', 'guard-doctor.js'), 'watch', '--interval', '0.2', '--duration', '600', '--json'], {
      env: { ...env(path.join(FIXTURES, 'watch', 'leak')), NO_COLOR: '1', CI: '', PATH: `${path.join(ROOT, 'test', 'helpers', 'bin')}${path.delimiter}${process.env.PATH}` },
      reject: false,
      timeout: 60_000,
    });
    // Wait for a few samples (the progress line on stderr says which one), then interrupt.
    await new Promise<void>((resolve) => {
      let seen = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('sample 1/')) setTimeout(resolve, 1500);
      });
    });
    child.kill('SIGINT');
    const result = await child;
    const json = JSON.parse(String(result.stdout));
    expect(json.watch.endedEarly).toBe(true);
    expect(json.watch.samples.length).toBeGreaterThan(1);
    expect(json.watch.samples.length).toBeLessThan(3000);
    expect(result.exitCode).toBe(json.exitCode);
  });

  it('--url drives the suite in a loop while watching and reports the load', async () => {
    const server = await startGuardServer({ kind: 'web' });
    try {
      const { json } = await runCli(['watch', '--interval', '0.25', '--duration', '3', '--url', server.url, '--server', 'web', '--json'], {
        env: env(path.join(FIXTURES, 'watch', 'leak')),
      });
      const load = byId(json, 'watch.load');
      expect(['pass', 'warn']).toContain(load.status);
      expect(json.watch.load.url).toBe(server.url);
      expect(json.watch.load.requestsSent).toBeGreaterThan(0);
      expect(server.stats().requests).toBeGreaterThanOrEqual(json.watch.load.requestsSent);
      if (load.status === 'pass') expect(byId(json, 'watch.process.48213').summary).toContain('under steady load');
    } finally {
      await server.close();
    }
  });

  it('--url to a closed port: the load check says it could not drive the suite', async () => {
    const server = await startGuardServer({ kind: 'web' });
    await server.close();
    const { json } = await runCli(['watch', ...SHORT, '--url', server.url, '--server', 'web', '--json', '--request-timeout', '1'], { env: env(path.join(FIXTURES, 'watch', 'flat')) });
    const load = byId(json, 'watch.load');
    // Every request is refused (and retried with backoff): no round completes, or one completes with nothing but errors.
    expect(load.status).toBe('warn');
    expect(load.summary).toMatch(/^(no suite round finished within the watch|the load stopped after 1 round: every request of round 1 failed)/);
    expect(json.watch.load.url).toBe(server.url);
    // The GPU figures are still judged.
    expect(byId(json, 'watch.process.48213').status).toBe('pass');
  });
});

describe('the trend rule', () => {
  const series = (values: number[], stepMs = 5000): MemoryPoint[] => values.map((usedMiB, i) => ({ tMs: i * stepMs, usedMiB }));

  it('a steady climb is rising, with the least-squares growth per minute', () => {
    const trend = fitTrend(series([1000, 1010, 1020, 1030, 1040, 1050, 1060]));
    expect(trend.verdict).toBe('rising');
    expect(trend.slopeMiBPerMin).toBe(120);
    expect(trend.nonDecreasingSteps).toBe(6);
  });

  it('one step up at the end, one spike, a saw-tooth and a slow creep are not leaks', () => {
    expect(fitTrend(series([1000, 1000, 1000, 1000, 1000, 1000, 3000])).verdict).toBe('steady');
    expect(fitTrend(series([1000, 1000, 1000, 5000, 1000, 1000, 1000])).verdict).toBe('steady');
    expect(fitTrend(series([1000, 1400, 1000, 1400, 1000, 1400, 1000, 1400])).verdict).toBe('steady');
    // 2 MiB per minute: under the 5 MiB/min rule.
    expect(fitTrend(series([1000, 1000, 1001, 1001, 1002, 1002, 1003, 1003, 1004, 1004], 30_000)).verdict).toBe('steady');
  });

  it('too few samples are not judged; falling memory is not a leak', () => {
    expect(fitTrend(series([1000, 2000, 3000])).verdict).toBe('too few samples');
    expect(fitTrend(series([5000, 4000, 3000, 2000, 1000])).verdict).toBe('falling');
  });

  it('never throws and never calls a series with no net growth rising (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 81920 }), { maxLength: 60 }), fc.integer({ min: 1, max: 60_000 }), (values, stepMs) => {
        const trend = fitTrend(series(values, stepMs));
        if (values.length > 0 && values[values.length - 1]! - values[0]! < LEAK_RULE.minGrowthMiB) expect(trend.verdict).not.toBe('rising');
      }),
    );
  });
});
