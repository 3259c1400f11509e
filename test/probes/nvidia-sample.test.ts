/**
 * sampleGpuMemory, the GPU probe's sample for `watch`, against real hosts' nvidia-smi
 * (test/fixtures/nvidia-smi/real/, replayed by their shims): the call count, the fallback for
 * a field an old driver rejects, a GPU fallen off the bus, MIG, an NVML mismatch, no devices,
 * and the --probe-timeout budget. None of these captures shows `--query-compute-apps`, so that
 * call is answered from test/fixtures/watch/leak (and the hosts' own answers everywhere else).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { localHost, type ExecOptions, type ExecResult, type Host } from '../../src/exec.js';
import { sampleGpuMemory, SAMPLE_FIELDS } from '../../src/probes/nvidia-sample.js';
import { ROOT } from '../helpers/cli.js';

const REAL = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'real');
const APPS = readFileSync(path.join(ROOT, 'test', 'fixtures', 'watch', 'leak', 'apps-1.txt'), 'utf8');
const SETTINGS = { probeTimeoutMs: 60_000 };

/** A host whose nvidia-smi is the real host's replay; the calls it got, with their time limits. */
function realHost(id: string): Host & { calls: Array<{ args: readonly string[]; timeoutMs: number }> } {
  const calls: Array<{ args: readonly string[]; timeoutMs: number }> = [];
  const shim = path.join(REAL, id, 'nvidia-smi');
  return {
    ...localHost,
    label: id,
    calls,
    async run(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
      expect(command).toBe('nvidia-smi');
      calls.push({ args, timeoutMs: options.timeoutMs });
      const replayAll = JSON.parse(readFileSync(path.join(REAL, id, 'host.json'), 'utf8')).replay?.all;
      if (args[0]?.startsWith('--query-compute-apps=') && !replayAll) {
        return { command, args, exitCode: 0, stdout: APPS, stderr: '', timedOut: false, notFound: false, failed: false, durationMs: 1 };
      }
      return localHost.run(shim, args, options);
    },
  };
}

describe('sampleGpuMemory on real hosts', () => {
  it('a healthy 8x H100: two calls, every GPU, the processes with their memory', async () => {
    const host = realHost('13-h100-80gb-hbm3-x8-r550');
    const sample = await sampleGpuMemory(SETTINGS, host);
    expect(sample.ok).toBe(true);
    if (!sample.ok) return;
    expect(sample.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(sample.gpus.every((g) => g.usedMiB !== null && g.totalMiB !== null)).toBe(true);
    expect(sample.processes.map((p) => [p.pid, p.usedMiB])).toEqual([[48213, 18500], [51877, 1024]]);
    expect(host.calls).toHaveLength(2);
    expect(sample.smiCalls).toBe(2);
    expect(sample.fields).toEqual(SAMPLE_FIELDS);
  });

  it('a 390 driver rejects mig.mode.current: asked again without it once, and the next sample starts without it', async () => {
    const host = realHost('25-v100-sxm2-16gb-r390');
    const first = await sampleGpuMemory(SETTINGS, host);
    const queries = host.calls.filter((c) => c.args[0]!.startsWith('--query-gpu='));
    expect(queries.map((c) => c.args[0])).toEqual(['--query-gpu=index,uuid,memory.used,memory.total,mig.mode.current', '--query-gpu=index,uuid,memory.used,memory.total']);
    expect(first.smiCalls).toBe(3);
    expect(first.fields).toEqual(['index', 'uuid', 'memory.used', 'memory.total']);
    // This host's capture has no memory figures, so what the replay says is all there is: "could not tell", never figures.
    expect(first).toMatchObject({ ok: false, kind: 'failed', message: expect.stringContaining('"memory.used" was not captured') });
    const second = await sampleGpuMemory(SETTINGS, host, first.fields);
    expect(second.smiCalls).toBe(2);
  });

  it('a GPU fallen off the bus is named with nvidia-smi\'s line; the others are still sampled', async () => {
    const sample = await sampleGpuMemory(SETTINGS, realHost('01-rtx-pro-6000-x4-lost-gpu1-r610'));
    expect(sample.ok, JSON.stringify(sample)).toBe(true);
    if (!sample.ok) return;
    expect(sample.gpus.map((g) => g.index)).toEqual([0, 2, 3]);
    expect(sample.lostGpus.map((l) => l.line)).toEqual(['Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error']);
  });

  it('a GPU in MIG mode says so', async () => {
    const sample = await sampleGpuMemory(SETTINGS, realHost('02-h200-mig-3g71gb-r610'));
    expect(sample.ok, JSON.stringify(sample)).toBe(true);
    if (sample.ok) expect(sample.gpus.some((g) => g.migEnabled === true)).toBe(true);
  });

  it('an NVML mismatch and "No devices were found" read as the GPU probe reads them', async () => {
    const mismatch = await sampleGpuMemory(SETTINGS, realHost('07-nvml-mismatch-r535'));
    expect(mismatch).toMatchObject({ ok: false, kind: 'nvml-mismatch', message: expect.stringContaining('Driver/library version mismatch') });
    const none = await sampleGpuMemory(SETTINGS, realHost('09-rtx5090-no-devices-found'));
    expect(none).toMatchObject({ ok: false, kind: 'no-devices', message: expect.stringContaining('No devices were found') });
  });

  it('every call of a sample shares one --probe-timeout budget, and a hang is a timeout, not a throw', async () => {
    const calls: number[] = [];
    const hanging: Host = {
      ...localHost,
      async run(command, args, options) {
        calls.push(options.timeoutMs);
        return { command, args, exitCode: null, stdout: '', stderr: '', timedOut: true, notFound: false, failed: false, durationMs: options.timeoutMs };
      },
    };
    const sample = await sampleGpuMemory({ probeTimeoutMs: 500 }, hanging);
    expect(sample).toMatchObject({ ok: false, kind: 'timeout', message: 'nvidia-smi did not answer within 0.5 s' });
    expect(calls).toHaveLength(2);
    expect(calls.every((ms) => ms <= 500)).toBe(true);
  });
});
