/**
 * The watch.* checks judged from samples (no I/O): the recorded sequences of
 * test/fixtures/watch/<host>/ read through the GPU probe's parsers into samples as the
 * sampling loop keeps them, then edited (a failed sample, a lost GPU, MIG, no processes) to
 * reach each verdict.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseComputeApps, parseGpuQuery } from '../../src/probes/nvidia.js';
import type { GpuMemorySample } from '../../src/probes/nvidia-sample.js';
import { toWatchSample } from '../../src/watch/sample.js';
import type { LoadStats, WatchSample } from '../../src/watch/types.js';
import { judgeLoad, judgeMemory, judgeSampling, judgeWatch, WATCH_CHECKS } from '../../checks/watch/index.js';
import { CHECK_TABLES } from '../../checks/index.js';
import { LEAK_RULE } from '../../src/watch/trend.js';
import { ROOT } from '../helpers/cli.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const SETTINGS = { intervalMs: 5000, durationMs: 70_000 };

/** The probe's answer for the n-th sample of a recorded host (apps-n.txt, the last one repeating). */
function recorded(dir: string, n: number): Extract<GpuMemorySample, { ok: true }> {
  let k = n;
  while (k > 1 && !existsSync(path.join(dir, `apps-${k}.txt`))) k -= 1;
  const parsed = parseGpuQuery(readFileSync(path.join(dir, 'query-gpu.txt'), 'utf8'));
  // A host without apps files answers the compute-apps query with nothing (no process), as the fake nvidia-smi does.
  const apps = path.join(dir, `apps-${k}.txt`);
  return {
    ok: true,
    gpus: parsed.gpus.map((g) => ({ index: g.index, uuid: g.uuid, usedMiB: g.memoryUsedMiB, totalMiB: g.memoryTotalMiB, migEnabled: null })),
    processes: existsSync(apps) ? parseComputeApps(readFileSync(apps, 'utf8')) : [],
    lostGpus: parsed.lostGpus,
    fields: [],
    smiCalls: 2,
  };
}

/** `count` samples every 5 s of a recorded host, as the watch keeps them. */
function samplesOf(host: string, count = 15, gpu: number | null = null, edit: (s: Extract<GpuMemorySample, { ok: true }>, i: number) => GpuMemorySample = (s) => s): WatchSample[] {
  const dir = path.join(FIXTURES, host);
  return Array.from({ length: count }, (_, i) => toWatchSample(i * 5000, edit(recorded(dir, i + 1), i), gpu));
}

const failed = (kind: Extract<GpuMemorySample, { ok: false }>['kind'], message: string): GpuMemorySample => ({ ok: false, kind, message, fields: [], smiCalls: 1 });
const byId = (results: { id: string }[], id: string) => results.find((r) => r.id === id) as ReturnType<typeof judgeSampling> | undefined;
const steadyLoad: LoadStats = { url: 'http://127.0.0.1:8000', rounds: 4, cases: 64, requestsSent: 70, notPassing: 0, errors: 0, stopped: null };

describe('watch.process.<pid> and watch.gpu.<index>', () => {
  it('leak: the growing process warns with its growth per minute and a fix that asks for load; the flat one passes', () => {
    const results = judgeWatch(samplesOf('watch/leak'), null, SETTINGS);
    const leak = byId(results, 'watch.process.48213')!;
    expect(leak.status).toBe('warn');
    expect(leak.summary).toMatch(/^pid 48213 keeps rising: 18500 -> \d+ MiB, \+\d+(\.\d)? MiB\/min \(\d+ of 14 steps up or level\)$/);
    expect((leak.measured as { slopeMiBPerMin: number }).slopeMiBPerMin).toBeGreaterThan(LEAK_RULE.minSlopeMiBPerMin);
    expect(leak.fix).toContain('--url');
    expect(byId(results, 'watch.process.51877')).toMatchObject({ status: 'pass', summary: 'pid 51877 steady: 1024 -> 1024 MiB, +0 MiB/min' });
    expect(results.map((r) => r.id)).toEqual(['watch.sampling', 'watch.process.48213', 'watch.process.51877', 'watch.gpu.0']);
  });

  it('the same rise under a steady load is called a leak, with what to do about it', () => {
    const results = judgeWatch(samplesOf('watch/leak'), steadyLoad, SETTINGS);
    const leak = byId(results, 'watch.process.48213')!;
    expect(leak.summary).toMatch(/ under steady load$/);
    expect(leak.fix).toContain('is a leak');
    expect(byId(results, 'watch.load')).toMatchObject({ status: 'pass', summary: '4 suite rounds, 70 requests sent against http://127.0.0.1:8000' });
  });

  it('a load that stopped is no steady load: the rise keeps the "watch under load" fix', () => {
    const leak = byId(judgeWatch(samplesOf('watch/leak'), { ...steadyLoad, stopped: 'every request of round 4 failed (ECONNREFUSED)' }, SETTINGS), 'watch.process.48213')!;
    expect(leak.summary).not.toContain('under steady load');
    expect(leak.fix).toContain('--url');
  });

  it('flat memory and one spike pass; falling memory passes as fallen', () => {
    expect(byId(judgeWatch(samplesOf('watch/flat'), null, SETTINGS), 'watch.process.48213')).toMatchObject({ status: 'pass', summary: expect.stringMatching(/^pid 48213 steady: 61222 -> 6122[24] MiB/) });
    const spike = byId(judgeWatch(samplesOf('watch/spike'), null, SETTINGS), 'watch.process.48213')!;
    expect(spike.status).toBe('pass');
    expect((spike.measured as { maxMiB: number }).maxMiB).toBe(63270);
    // The leak played backwards: memory handed back.
    const backwards = samplesOf('watch/leak').reverse().map((s, i) => ({ ...s, tMs: i * 5000 }));
    expect(byId(judgeMemory(backwards, false), 'watch.process.48213')).toMatchObject({ status: 'pass', summary: expect.stringMatching(/^pid 48213 fell: \d+ -> 18500 MiB, -\d/) });
  });

  it('too few readable samples are a skip that says how many a trend needs', () => {
    const results = judgeWatch(samplesOf('watch/leak', 3), null, SETTINGS);
    expect(byId(results, 'watch.process.48213')).toMatchObject({ status: 'skip', summary: `pid 48213: only 3 samples (${LEAK_RULE.minSamples} needed to judge a trend)` });
  });

  it('a recorded A100 whose second process turns [N/A] is judged on the readable figures', () => {
    const results = judgeWatch(samplesOf('nvidia-smi/a100-80gb-busy', 6), null, SETTINGS);
    expect(byId(results, 'watch.process.48213')!.status).not.toBe('skip');
    expect(byId(results, 'watch.process.51877')).toMatchObject({ status: 'skip', summary: expect.stringContaining('only 1 sample') });
  });

  it('no compute process: watch.processes says so; [N/A] everywhere: it says the GPU figures judge instead', () => {
    const none = judgeWatch(samplesOf('watch/flat', 6, null, (s) => ({ ...s, processes: [] })), null, SETTINGS);
    expect(byId(none, 'watch.processes')).toMatchObject({ status: 'skip', summary: 'no compute process on the GPU during the watch' });
    const na = judgeWatch(samplesOf('watch/flat', 6, null, (s) => ({ ...s, processes: s.processes.map((p) => ({ ...p, usedMiB: null })) })), null, SETTINGS);
    expect(byId(na, 'watch.processes')!.summary).toContain('[N/A]');
    expect(byId(na, 'watch.gpu.0')!.status).toBe('pass');
  });

  it('a GPU in MIG mode is judged as the whole GPU, and says so', () => {
    const mig = judgeWatch(samplesOf('watch/flat', 6, null, (s) => ({ ...s, gpus: s.gpus.map((g) => ({ ...g, migEnabled: true })) })), null, SETTINGS);
    expect(byId(mig, 'watch.gpu.0')!.summary).toMatch(/^GPU 0 \(MIG on: every instance together\) steady: /);
  });

  it('--gpu keeps that GPU and the processes on it (by uuid); processes nvidia-smi does not place are kept', () => {
    const two = samplesOf('nvidia-smi/two-a100-one-busy', 6, 1, (s) => ({
      ...s,
      processes: [
        { pid: 10, usedMiB: 30000, gpuUuid: s.gpus[0]!.uuid, processName: null },
        { pid: 11, usedMiB: 500, gpuUuid: s.gpus[1]!.uuid, processName: null },
        { pid: 12, usedMiB: 700, gpuUuid: null, processName: null },
      ],
    }));
    expect(two[0]!.gpus).toEqual([{ index: 1, usedMiB: 1 }]);
    expect(two[0]!.processes.map((p) => p.pid)).toEqual([11, 12]);
  });
});

describe('watch.sampling', () => {
  it('every sample read: pass, with how many over how long', () => {
    expect(judgeSampling(samplesOf('watch/flat'), SETTINGS)).toMatchObject({ status: 'pass', summary: '15 samples over 70 s, every 5 s' });
  });

  it('some samples lost: a warning with the count and the first reason; the rest is still judged', () => {
    const samples = samplesOf('watch/leak', 15, null, (s, i) => (i === 4 || i === 9 ? failed('timeout', 'nvidia-smi did not answer within 10 s') : s));
    const results = judgeWatch(samples, null, SETTINGS);
    expect(byId(results, 'watch.sampling')).toMatchObject({ status: 'warn', summary: '13 samples over 70 s, every 5 s; 2 failed (nvidia-smi did not answer within 10 s)' });
    expect(byId(results, 'watch.process.48213')!.status).toBe('warn');
  });

  it('a GPU falling off the bus mid-watch warns with nvidia-smi\'s line and a fix', () => {
    const line = 'Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error';
    const result = judgeSampling(samplesOf('watch/flat', 6, null, (s, i) => (i >= 3 ? { ...s, lostGpus: [{ id: 'GPU 1 (0000:34:00.0)', line }] } : s)), SETTINGS);
    expect(result).toMatchObject({ status: 'warn', summary: `6 samples over 25 s, every 5 s; nvidia-smi lost 1 GPU during the watch (${line})` });
    expect(result.fix).toContain('Xid');
  });

  it('the host\'s lasting state is a fail with its fix, and nothing else is reported (one cause, one line)', () => {
    const cases = [
      ['no-nvidia-smi', 'nvidia-smi is not on PATH (the NVIDIA driver is not installed, or its tools are not on PATH)', 'install the NVIDIA driver'],
      ['no-driver', readFileSync(path.join(FIXTURES, 'nvidia-smi', 'no-driver', 'default.txt'), 'utf8').trim(), 'load the NVIDIA kernel driver'],
      ['nvml-mismatch', 'Failed to initialize NVML: Driver/library version mismatch', 'reboot'],
      ['no-devices', 'No devices were found (nvidia-smi exit 6)', 'lspci'],
    ] as const;
    for (const [kind, message, fix] of cases) {
      const results = judgeWatch([toWatchSample(0, failed(kind, message), null)], steadyLoad, SETTINGS);
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ id: 'watch.sampling', status: 'fail', summary: message });
      expect(results[0]!.fix).toContain(fix);
    }
  });

  it('--gpu naming a GPU the host lacks fails, listing the GPUs there are', () => {
    const results = judgeWatch(samplesOf('nvidia-smi/two-a100-one-busy', 1, 5), null, SETTINGS);
    expect(results).toEqual([expect.objectContaining({ id: 'watch.sampling', status: 'fail', summary: 'there is no GPU 5 on this host (nvidia-smi lists 0, 1)' })]);
  });

  it('every sample hung or failed oddly: "could not tell" (error), never a pass', () => {
    const hung = judgeSampling(samplesOf('watch/flat', 4, null, () => failed('timeout', 'nvidia-smi did not answer within 0.5 s')), SETTINGS);
    expect(hung).toMatchObject({ status: 'error', summary: 'could not tell: nvidia-smi did not answer within 0.5 s' });
    expect(hung.fix).toContain('--probe-timeout');
    expect(judgeSampling([], SETTINGS)).toMatchObject({ status: 'error', summary: 'could not tell: the watch ended before the first sample' });
  });
});

describe('watch.load', () => {
  const load = (edit: Partial<LoadStats>) => judgeLoad({ ...steadyLoad, ...edit }, SETTINGS);
  it('each way a load can go', () => {
    expect(load({ rounds: 0, stopped: 'HTTP 401 from http://127.0.0.1:8000/v1/chat/completions: the server wants an API key', authFix: 'give the key with --api-key-env NAME' })).toMatchObject({ status: 'fail', fix: 'give the key with --api-key-env NAME' });
    expect(load({ rounds: 0, stopped: '--cases: cannot read cases.json' })).toMatchObject({ status: 'error', summary: 'could not drive the suite against http://127.0.0.1:8000: --cases: cannot read cases.json' });
    expect(load({ stopped: 'every request of round 4 failed (ECONNREFUSED)' })).toMatchObject({ status: 'warn', summary: 'the load stopped after 4 rounds: every request of round 4 failed (ECONNREFUSED)' });
    expect(load({ rounds: 0 })).toMatchObject({ status: 'warn', summary: 'no suite round finished within the watch (70 s); the load was not steady' });
    expect(load({ errors: 3 })).toMatchObject({ status: 'warn', summary: '4 suite rounds, 70 requests sent against http://127.0.0.1:8000, 3 cases without an answer' });
    expect(load({})).toMatchObject({ status: 'pass' });
  });
});

describe('the watch table', () => {
  it('checks/index.ts lists the checks of checks/watch/, in report order', () => {
    expect(CHECK_TABLES.watch.map((e) => e.id)).toEqual(WATCH_CHECKS.map((c) => c.id));
    expect(CHECK_TABLES.watch.map((e) => e.id)).toEqual(['watch.sampling', 'watch.load', 'watch.processes', 'watch.process.<pid>', 'watch.gpu.<index>']);
  });
});
