/**
 * The runner's `blockedBy` (src/judge.ts): a check whose facts are missing because another
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

describe("a fact's own lines (the derived gpu fact's \"GPU n chosen\")", () => {
  const chosenLine = 'GPU 1 chosen: it has the most free memory (pick another with --gpu)';
  const a100 = (inventory('570.124.06', 40000) as Extract<GpuInventory, { state: 'ok' }>).gpus[0]!;
  const gpuFact: Facts['gpu'] = {
    ok: true,
    value: { state: 'chosen', gpu: { ...a100, index: 1 }, reason: 'most-free', device: { kind: 'whole-gpu' }, notes: [chosenLine] },
    durationMs: 3,
    details: [chosenLine],
  };
  const reads = (id: string, extra: Partial<Check> = {}) =>
    ({ id, title: id, needs: ['gpu'], judge: ({ gpu }: { gpu: { gpu: { index: number } } }) => ({ status: 'pass', summary: `GPU ${gpu.gpu.index}` }), ...extra }) as unknown as Check;
  const withLine = (results: { id: string; details?: string[] }[]) => results.filter((r) => r.details?.includes(chosenLine)).map((r) => r.id);

  it('go on the first check in report order that judges the fact, once', () => {
    expect(withLine(judgeAll([driver as Check, reads('gpu.compute-capability'), reads('gpu.vram')], { ...facts(inventory('570.124.06', 40000)), gpu: gpuFact }, settings))).toEqual(['gpu.compute-capability']);
  });

  it('skip a check that did not judge it (skipped for these settings, or blocked), and go on the next', () => {
    const skipped = reads('gpu.compute-capability', { skip: () => 'not today' });
    expect(withLine(judgeAll([skipped, reads('gpu.vram')], { gpu: gpuFact }, settings))).toEqual(['gpu.vram']);
    const blocked = reads('gpu.compute-capability', { blockedBy: 'gpu.driver', judge: () => ({ status: 'error', summary: 'no GPU to check', factsMissing: true }) });
    expect(withLine(judgeAll([driver as Check, blocked, reads('gpu.vram')], { ...facts(missing), gpu: gpuFact }, settings))).toEqual(['gpu.vram']);
  });

  it('judgeOne, a check on its own, says them too', () => {
    expect(judgeOne(reads('gpu.vram'), { gpu: gpuFact }, settings).details).toEqual([chosenLine]);
  });
});
