/**
 * The runner's `blockedBy` (src/check.ts): a check whose facts are missing because another
 * check failed is shown as `skip` "needs <that check>", so one cause is one failure. Checks
 * here are small stand-ins over the `gpus` fact; the real GPU checks are in test/cli/one-cause.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { defineCheck, judgeAll, judgeOne, type Check } from '../../src/judge.js';
import type { Facts, GpuInventory } from '../../src/facts.js';
import { resolveSettings } from '../../src/settings.js';
import { ROOT } from '../helpers/cli.js';

const settings = resolveSettings('check', {}, {}, ROOT);

const driver = defineCheck({
  id: 'gpu.driver',
  title: 'NVIDIA driver',
  needs: ['gpus'],
  judge: ({ gpus }) =>
    gpus.state !== 'ok'
      ? { status: 'fail', summary: `no NVIDIA driver: ${gpus.message}` }
      : gpus.driverVersion === '470.239.06'
        ? { status: 'fail', summary: `driver ${gpus.driverVersion} is too old` }
        : { status: 'pass', summary: `driver ${gpus.driverVersion}` },
});

const vram = defineCheck({
  id: 'gpu.vram',
  title: 'Free GPU memory',
  needs: ['gpus'],
  blockedBy: 'gpu.driver',
  judge: ({ gpus }) => {
    if (gpus.state !== 'ok') return { status: 'fail', summary: `no GPU to check: ${gpus.message}`, fix: 'install the driver', factsMissing: true };
    const free = gpus.gpus[0]?.memoryFreeMiB ?? 0;
    return free < 26624 ? { status: 'fail', summary: `${free} MiB free`, measured: { freeMiB: free } } : { status: 'pass', summary: `${free} MiB free`, measured: { freeMiB: free } };
  },
});

const CHECKS = [driver, vram] as Check[];

function inventory(driverVersion: string, freeMiB: number): GpuInventory {
  const gpu = { index: 0, name: 'NVIDIA A100-SXM4-80GB', uuid: 'GPU-0', memoryTotalMiB: 81920, memoryUsedMiB: 81920 - freeMiB, memoryFreeMiB: freeMiB, computeCapability: '8.0', computeCapabilitySource: 'nvidia-smi' };
  return { state: 'ok', driverVersion, cudaVersion: '12.8', gpus: [gpu], notes: [] } as unknown as GpuInventory;
}

const facts = (gpus: GpuInventory): Partial<Facts> => ({ gpus: { ok: true, value: gpus, durationMs: 3 } });
const missing: GpuInventory = { state: 'no-nvidia-smi', message: 'nvidia-smi is not on PATH' };

describe('blockedBy', () => {
  it('turns the echo into a skip that names the cause, keeping what it would have said for -v', () => {
    const [d, v] = judgeAll(CHECKS, facts(missing), settings);
    expect(d).toMatchObject({ id: 'gpu.driver', status: 'fail' });
    expect(v).toEqual({
      id: 'gpu.vram',
      title: 'Free GPU memory',
      status: 'skip',
      summary: 'needs gpu.driver',
      measured: { blockedBy: 'gpu.driver' },
      details: ['gpu.driver did not pass, so this was not judged: no GPU to check: nvidia-smi is not on PATH'],
      durationMs: expect.any(Number),
    });
  });

  it('leaves a second, real cause alone: a driver too old and too little memory are two failures', () => {
    const [d, v] = judgeAll(CHECKS, facts(inventory('470.239.06', 20000)), settings);
    expect(d!.status).toBe('fail');
    expect(v).toMatchObject({ status: 'fail', summary: '20000 MiB free', measured: { freeMiB: 20000 } });
  });

  it('leaves a pass alone, and needs a blocker that did not pass', () => {
    expect(judgeAll(CHECKS, facts(inventory('470.239.06', 40000)), settings).map((r) => r.status)).toEqual(['fail', 'pass']);
    expect(judgeAll(CHECKS, facts(inventory('570.124.06', 20000)), settings).map((r) => r.status)).toEqual(['pass', 'fail']);
  });

  it('counts a failed probe as missing facts: the blocker says "could not tell", the echo names it', () => {
    const timedOut: Partial<Facts> = { gpus: { ok: false, kind: 'timeout', message: 'nvidia-smi did not answer within 10 s', durationMs: 10_000 } };
    const [d, v] = judgeAll(CHECKS, timedOut, settings);
    expect(d).toMatchObject({ status: 'error', summary: 'could not tell: nvidia-smi did not answer within 10 s' });
    expect(v).toMatchObject({ status: 'skip', summary: 'needs gpu.driver', details: ['gpu.driver did not pass, so this was not judged: could not tell: nvidia-smi did not answer within 10 s'] });
  });

  it('without the blocker in the run (--only gpu.vram), the check reports the missing facts itself', () => {
    const [v] = judgeAll([vram] as Check[], facts(missing), settings);
    expect(v).toMatchObject({ status: 'fail', summary: 'no GPU to check: nvidia-smi is not on PATH', fix: 'install the driver' });
    expect(v).not.toHaveProperty('factsMissing');
    expect(judgeOne(vram as Check, facts(missing), settings)).not.toHaveProperty('factsMissing');
  });
});
