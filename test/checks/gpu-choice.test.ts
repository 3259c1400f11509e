/**
 * The derived `gpu` fact (src/gpu-choice.ts selectGpu, DERIVED in src/probes/index.ts): the GPU, or
 * MIG device, the server will get and why, or why none can be had, worked out once per run from the
 * `gpus` facts and --gpu. The GPU facts are those of real hosts (test/fixtures/nvidia-smi/real/, see
 * its SOURCES.md), read once per host by the real probe from the host's nvidia-smi replay; from there
 * on everything is judged from facts. The hand-built inventory is used only where no host was
 * published (an inventory that lists no GPU at all).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { localHost, type Host } from '../../src/exec.js';
import type { Facts, GpuInventory, GpuSelection } from '../../src/facts.js';
import { deriveFacts, gatherFacts, runProbe } from '../../src/probes/index.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { selectGpu } from '../../src/gpu-choice.js';
import { judgeAll, judgeOne, type Check } from '../../src/judge.js';
import { judgeHost } from '../../src/phases/preflight.js';
import { gpuDriver } from '../../checks/gpu-driver.js';
import { gpuComputeCapability } from '../../checks/gpu-compute-capability.js';
import { gpuVram } from '../../checks/gpu-vram.js';
import { ROOT } from '../helpers/cli.js';

const CORPUS = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'real');
const GPU_CHECKS = [gpuDriver, gpuComputeCapability, gpuVram] as Check[];

/** This machine, except that `nvidia-smi` is the real host's replay. */
function replayHost(prefix: string): Host {
  const folder = readdirSync(CORPUS).find((name) => name.startsWith(prefix));
  if (!folder) throw new Error(`no real host ${prefix}* in ${CORPUS}`);
  const smi = path.join(CORPUS, folder, 'nvidia-smi');
  return { ...localHost, label: folder, run: (command, args, options) => localHost.run(command === 'nvidia-smi' ? smi : command, args, options) };
}

// A generous probe limit: the replays are node scripts, slow to start on a loaded machine.
const settingsOf = (flags: Record<string, unknown> = {}): Settings => resolveSettings('check', { probeTimeout: '60', ...flags }, {}, ROOT);

const HOSTS = {
  a10g: '16-',
  lostGpu1: '01-',
  h100x8: '13-',
  migGpu0: '14-',
  migNoInstances: '24-',
  migList: '27-',
  gb10Unified: '03-',
  nvmlMismatch: '07-',
  noDevices: '09-',
} as const;
const inventories = {} as Record<keyof typeof HOSTS, GpuInventory>;

beforeAll(async () => {
  const settings = settingsOf();
  await Promise.all(
    Object.entries(HOSTS).map(async ([name, prefix]) => {
      const outcome = await runProbe('gpus', settings, replayHost(prefix));
      if (!outcome.ok) throw new Error(`the gpus probe on ${prefix}: ${outcome.message}`);
      inventories[name as keyof typeof HOSTS] = outcome.value;
    }),
  );
}, 120_000);

const select = (host: keyof typeof HOSTS, flags: Record<string, unknown> = {}): GpuSelection => selectGpu(inventories[host], settingsOf(flags));
const chosen = (s: GpuSelection) => {
  expect(s.state, s.state === 'none' ? s.summary : '').toBe('chosen');
  return s as Extract<GpuSelection, { state: 'chosen' }>;
};
const none = (s: GpuSelection) => {
  expect(s.state).toBe('none');
  return s as Extract<GpuSelection, { state: 'none' }>;
};

describe('the gpu fact: which GPU the server gets, and why', () => {
  it('one GPU (A10G): that one, the whole of it, with nothing to say', () => {
    const s = chosen(select('a10g'));
    expect(s).toMatchObject({ reason: 'only', gpu: { index: 0, name: 'NVIDIA A10G' }, device: { kind: 'whole-gpu' }, notes: [] });
  });

  it('eight idle H100s: the most free memory, ties to the lower index, and the report is told so', () => {
    const s = chosen(select('h100x8'));
    expect(s).toMatchObject({ reason: 'most-free', gpu: { index: 0 }, device: { kind: 'whole-gpu' } });
    expect(s.notes).toEqual(['GPU 0 chosen: it has the most free memory (pick another with --gpu)']);
  });

  it('--gpu 5 on the same host: GPU 5, because the user named it (no "chosen" line)', () => {
    expect(chosen(select('h100x8', { gpu: '5' }))).toMatchObject({ reason: 'flag', gpu: { index: 5 }, notes: [] });
  });

  it('--gpu out of range: none, naming the indexes there are', () => {
    expect(none(select('h100x8', { gpu: '9' }))).toMatchObject({
      cause: 'out-of-range',
      summary: '--gpu 9: there is no GPU 9; this host has GPUs 0, 1, 2, 3, 4, 5, 6, 7',
      fix: 'give one of --gpu 0, --gpu 1, --gpu 2, --gpu 3, --gpu 4, --gpu 5, --gpu 6, --gpu 7 (nvidia-smi indexes)',
      gpu: null,
      factsMissing: false,
    });
    expect(none(select('a10g', { gpu: '1' })).summary).toBe('--gpu 1: there is no GPU 1; this host has GPU 0');
  });

  it('a GPU fallen off the bus, not picked: the idle GPU 3 is chosen, and the lost one is mentioned once', () => {
    const s = chosen(select('lostGpu1'));
    expect(s).toMatchObject({ reason: 'most-free', gpu: { index: 3 } });
    expect(s.notes).toEqual(['GPU 3 chosen: it has the most free memory (pick another with --gpu)', 'nvidia-smi cannot reach GPU 1 (0000:34:00.0) (see gpu.driver)']);
    expect(chosen(select('lostGpu1', { gpu: '2' }))).toMatchObject({ reason: 'flag', gpu: { index: 2 }, notes: ['nvidia-smi cannot reach GPU 1 (0000:34:00.0) (see gpu.driver)'] });
  });

  it('a GPU fallen off the bus, picked with --gpu 1: none, in nvidia-smi\'s words, and it is gpu.driver\'s cause', () => {
    expect(none(select('lostGpu1', { gpu: '1' }))).toMatchObject({
      cause: 'lost',
      summary: '--gpu 1: nvidia-smi cannot reach GPU 1: Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error',
      fix: 'reset the GPU (`sudo nvidia-smi -r -i <index>` with nothing using it) or reboot (see gpu.driver), or pick a GPU that answers: --gpu 0, --gpu 2, --gpu 3',
      gpu: null,
      factsMissing: true,
    });
  });

  it('MIG on GPU 0 only (2x A100 40GB): by default the whole GPU 1, whose 40 GiB beat any 1g.10gb slice', () => {
    expect(chosen(select('migGpu0'))).toMatchObject({ reason: 'most-free', gpu: { index: 1 }, device: { kind: 'whole-gpu' } });
  });

  it('--gpu 0 on that host: its first MIG device; --gpu 0:2: MIG device 2, because the user named it', () => {
    expect(chosen(select('migGpu0', { gpu: '0' }))).toMatchObject({ reason: 'flag', gpu: { index: 0 }, device: { kind: 'mig', reason: 'first', device: { index: 0 } } });
    expect(chosen(select('migGpu0', { gpu: '0:2' }))).toMatchObject({ reason: 'flag', gpu: { index: 0 }, device: { kind: 'mig', reason: 'flag', device: { index: 2 } } });
  });

  it('--gpu 0:7 names a MIG device that is not there; --gpu 1:0 a GPU not in MIG mode: none, with the GPU kept for its capability', () => {
    const missing = none(select('migGpu0', { gpu: '0:7' }));
    expect(missing).toMatchObject({ cause: 'no-such-mig-device', gpu: { index: 0 }, factsMissing: false });
    // This capture has no `nvidia-smi -L`, so the profiles are not known: the devices are listed by index.
    expect(missing.summary).toBe('--gpu 0:7: GPU 0 has no MIG device 7; its MIG devices: 0:0, 0:1, 0:2, 0:3');
    expect(none(select('migGpu0', { gpu: '1:0' }))).toMatchObject({ cause: 'not-mig', summary: '--gpu 1:0: GPU 1 is not in MIG mode', gpu: { index: 1 } });
  });

  it('--gpu MIG-<uuid> (4x H100, a 2g.20gb on GPU 3, from `nvidia-smi -L`): the GPU that holds it, and that device', () => {
    expect(chosen(select('migList', { gpu: 'MIG-55d07ceb-ef71-58e0-87c2-0477d96fa03f' }))).toMatchObject({
      reason: 'flag',
      gpu: { index: 3 },
      device: { kind: 'mig', reason: 'flag', device: { profile: '2g.20gb', uuid: 'MIG-55d07ceb-ef71-58e0-87c2-0477d96fa03f' } },
    });
  });

  it('MIG on, no instance created (A100 80GB): none, because a container would get no GPU from it', () => {
    expect(none(select('migNoInstances'))).toMatchObject({
      cause: 'mig-no-device',
      summary: 'GPU 0 (NVIDIA A100-SXM4-80GB) is in MIG mode but has no MIG device: a container gets no GPU from it',
      gpu: { index: 0 },
      factsMissing: false,
    });
  });

  it('unified memory (DGX Spark GB10, memory [N/A]): the one GPU, its free memory unknown, never guessed', () => {
    const s = chosen(select('gb10Unified'));
    expect(s).toMatchObject({ reason: 'only', gpu: { index: 0, name: 'NVIDIA GB10', memoryFreeMiB: null }, device: { kind: 'whole-gpu' } });
  });

  it('no GPU facts (NVML mismatch, "No devices were found"): none, and gpu.driver is the cause', () => {
    for (const host of ['nvmlMismatch', 'noDevices'] as const) {
      expect(none(select(host))).toMatchObject({ cause: 'no-inventory', gpu: null, factsMissing: true, summary: expect.stringMatching(/^no GPU to check: /) });
    }
  });

  it('an inventory that lists no GPU at all (hand-built: no such host is published): none', () => {
    const empty: GpuInventory = { state: 'ok', driverVersion: '570.124.06', cudaVersion: '12.8', gpus: [], notes: [] };
    expect(none(selectGpu(empty, settingsOf()))).toMatchObject({ cause: 'no-gpus', summary: 'nvidia-smi lists no GPU', factsMissing: false });
  });
});

describe('the gpu fact in the pipeline', () => {
  const gathered = (host: keyof typeof HOSTS): Partial<Facts> => ({
    gpus: { ok: true, value: inventories[host], durationMs: 40 },
    image: { ok: true, value: { ref: 'vllm/vllm-openai:v0.11.0', present: false, cudaVersion: null, torchCudaArchList: null }, durationMs: 5 },
    model: { ok: true, value: null, durationMs: 0 },
  });
  const detailsWith = (results: { id: string; details?: string[] }[], text: string) => results.filter((r) => (r.details ?? []).some((d) => d.includes(text))).map((r) => r.id);

  it('says "GPU n chosen" once a report, on the first check that judges the chosen GPU', () => {
    const settings = settingsOf();
    const facts = deriveFacts(gathered('lostGpu1'), ['gpu'], settings);
    const all = judgeAll(GPU_CHECKS, facts, settings);
    expect(detailsWith(all, 'GPU 3 chosen: it has the most free memory')).toEqual(['gpu.compute-capability']);
    expect(detailsWith(all, 'nvidia-smi cannot reach GPU 1 (0000:34:00.0) (see gpu.driver)')).toEqual(['gpu.compute-capability']);
    // Both checks still judge GPU 3; with --only gpu.vram the line moves to gpu.vram.
    expect(all.slice(1).map((r) => r.measured?.gpu)).toEqual([3, 3]);
    expect(detailsWith(judgeAll([gpuVram as Check], facts, settings), 'GPU 3 chosen')).toEqual(['gpu.vram']);
    expect(detailsWith([judgeOne(gpuVram as Check, facts, settings)], 'GPU 3 chosen')).toEqual(['gpu.vram']);
  });

  it('a lost GPU picked with --gpu 1 is one failure: gpu.driver, and the GPU checks need it', () => {
    const settings = settingsOf({ gpu: '1' });
    const [driver, capability, vram] = judgeAll(GPU_CHECKS, deriveFacts(gathered('lostGpu1'), ['gpu'], settings), settings);
    expect(driver).toMatchObject({ status: 'fail', summary: expect.stringContaining('Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error') });
    for (const r of [capability!, vram!]) {
      expect(r).toMatchObject({ status: 'skip', summary: 'needs gpu.driver', measured: { blockedBy: 'gpu.driver' } });
      expect(r.details![0]).toBe('gpu.driver did not pass, so this was not judged: --gpu 1: nvidia-smi cannot reach GPU 1: Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error');
    }
  });

  it('a derived fact whose source probe failed is missing the same way: "could not tell", then "needs gpu.driver"', () => {
    const settings = settingsOf();
    const timedOut = deriveFacts({ gpus: { ok: false, kind: 'timeout', message: 'nvidia-smi did not answer within 10 s', durationMs: 10_000 } }, ['gpu'], settings);
    expect(timedOut.gpu).toEqual({ ok: false, kind: 'timeout', message: 'nvidia-smi did not answer within 10 s', durationMs: 10_000 });
    const [driver, capability, vram] = judgeAll(GPU_CHECKS, { ...gathered('a10g'), ...timedOut }, settings);
    expect(driver).toMatchObject({ status: 'error', summary: 'could not tell: nvidia-smi did not answer within 10 s' });
    for (const r of [capability!, vram!]) expect(r).toMatchObject({ status: 'skip', summary: 'needs gpu.driver' });
  });

  it("an nvidia-smi that ignores its own limit: the runner's net makes `gpus` a timeout, and `gpu` is missing the same way", async () => {
    const settings = resolveSettings('check', { probeTimeout: '1' }, {}, ROOT);
    const wedged: Host = { ...localHost, run: (command, args, options) => (command === 'nvidia-smi' ? new Promise(() => {}) : localHost.run(command, args, options)) };
    const facts = await gatherFacts(['gpu'], settings, wedged);
    const timedOut = { ok: false, kind: 'timeout', message: 'the gpus probe did not finish within 2 s' };
    expect(facts.gpus).toMatchObject(timedOut);
    expect(facts.gpu).toMatchObject(timedOut);
  }, 20_000);

  it('gatherFacts probes `gpus` once for the derived fact, and judgeHost (check, up\'s preflight, the fleet) judges from it', async () => {
    const settings = settingsOf({ gpu: '0:2' });
    const host = replayHost(HOSTS.migGpu0);
    const facts = await gatherFacts(['gpu'], settings, host);
    expect(Object.keys(facts).sort()).toEqual(['gpu', 'gpus']);
    expect(facts.gpu).toMatchObject({ ok: true, value: { state: 'chosen', gpu: { index: 0 }, device: { kind: 'mig', device: { index: 2 } } } });

    const results = await judgeHost(settings, host, [gpuVram as Check]);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ id: 'gpu.vram', status: 'fail', measured: { gpu: 0, migDevice: '0:2', requiredMiB: 26624 } });
    expect(results[0]!.summary).toBe('GPU 0 MIG device 2 has 9.6 GiB free of 9.6 GiB; Qwen3Guard-Gen-8B needs at least 26 GiB at --max-model-len 32768');
  }, 60_000);
});
