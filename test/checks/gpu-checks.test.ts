/**
 * The three GPU checks judged from fact snapshots (STYLE.md: build the facts of a host, edit
 * them, assert the verdict, the numbers in the summary and the fix). GPU facts come from the
 * recorded nvidia-smi output of test/fixtures/nvidia-smi/<host>/ through the real parsers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { judgeOne } from '../../src/judge.js';
import type { Facts, GpuInfo, GpuInventory, ImageInfo } from '../../src/facts.js';
import { parseGpuQuery, parseSmiVersion } from '../../src/probes/nvidia.js';
import { deriveFacts, runProbe } from '../../src/probes/index.js';
import { resolveSettings } from '../../src/settings.js';
import { findModel } from '../../src/data/models.js';
import { archCoverage, compareVersions, requiredDriver } from '../../src/data/cuda.js';
import { resolveImageCuda } from '../../src/image-gate.js';
import { capabilityFromName } from '../../src/data/gpus.js';
import { chooseGpu } from '../../src/gpu-choice.js';
import { largestFittingModelLen, largestUtilization, vramRequirement } from '../../src/requirements.js';
import { gpuDriver } from '../../checks/gpu-driver.js';
import { gpuComputeCapability } from '../../checks/gpu-compute-capability.js';
import { gpuVram } from '../../checks/gpu-vram.js';
import { ROOT } from '../helpers/cli.js';
import { qwen3Config, removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';

afterAll(removeTempDirs);

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi');

/** The GPU facts of a recorded host, as the probe builds them. */
function host(name: string): Extract<GpuInventory, { state: 'ok' }> {
  const read = (file: string) => readFileSync(path.join(FIXTURES, name, file), 'utf8');
  const versions = parseSmiVersion(existsSync(path.join(FIXTURES, name, 'version.txt')) ? read('version.txt') : '');
  const { gpus } = parseGpuQuery(read('query-gpu.txt'));
  return { state: 'ok', driverVersion: versions.driverVersion, cudaVersion: versions.cudaVersion, gpus, notes: [] };
}

const NO_IMAGE: ImageInfo = { ref: 'vllm/vllm-openai:v0.11.0', present: false, cudaVersion: null, torchCudaArchList: null };
const VLLM_IMAGE: ImageInfo = {
  ref: 'vllm/vllm-openai:v0.11.0',
  present: true,
  cudaVersion: '12.8.1',
  torchCudaArchList: ['7.0', '7.5', '8.0', '8.9', '9.0', '10.0', '12.0'],
};

/** The facts as gatherFacts hands them to the checks: the gathered ones, and the chosen GPU derived from them. */
function facts(gpus: GpuInventory, image: ImageInfo = NO_IMAGE, model: Facts['model'] = { ok: true, value: null, durationMs: 0 }, settings = settingsOf()): Partial<Facts> {
  return deriveFacts({ gpus: { ok: true, value: gpus, durationMs: 12 }, image: { ok: true, value: image, durationMs: 30 }, model }, ['gpu'], settings);
}

function settingsOf(flags: Record<string, unknown> = {}) {
  return resolveSettings('check', flags, {}, ROOT);
}

function judge(gpus: GpuInventory, flags: Record<string, unknown> = {}, image: ImageInfo = NO_IMAGE, model?: Facts['model']) {
  const settings = settingsOf(flags);
  const f = facts(gpus, image, model, settings);
  return {
    driver: judgeOne(gpuDriver, f, settings),
    capability: judgeOne(gpuComputeCapability, f, settings),
    vram: judgeOne(gpuVram, f, settings),
  };
}

function withGpu(inventory: Extract<GpuInventory, { state: 'ok' }>, index: number, edit: Partial<GpuInfo>): Extract<GpuInventory, { state: 'ok' }> {
  return { ...inventory, gpus: inventory.gpus.map((g) => (g.index === index ? { ...g, ...edit } : g)) };
}

describe('data: CUDA -> driver', () => {
  it('compares dotted versions numerically', () => {
    expect(compareVersions('570.26', '570.124.06')).toBe(-1);
    expect(compareVersions('550.120', '550.54.15')).toBe(1);
    expect(compareVersions('525.60.13', '525.60.13')).toBe(0);
    expect(compareVersions('580', '575.51.03')).toBe(1);
    expect(compareVersions('12.10', '12.9')).toBe(1);
  });

  it('finds the minimum driver and the minor-version floor for a toolkit', () => {
    expect(requiredDriver('12.8')).toEqual({ cuda: '12.8', major: 12, minDriver: '570.26', tableCuda: '12.8', compatFloor: '525.60.13' });
    // CUDA 12.8 Update 1 (the vLLM images' 12.8.1) has its own floor.
    expect(requiredDriver('12.8.1')).toEqual({ cuda: '12.8.1', major: 12, minDriver: '570.124.06', tableCuda: '12.8.1', compatFloor: '525.60.13' });
    expect(requiredDriver('11.1')).toMatchObject({ minDriver: '455.23' });
    expect(requiredDriver('11.2')).toMatchObject({ minDriver: '460.27.03' });
    expect(requiredDriver('12.4')).toMatchObject({ minDriver: '550.54.14' });
    expect(requiredDriver('11.8')).toMatchObject({ minDriver: '520.61.05', compatFloor: '450.80.02' });
    expect(requiredDriver('13.0')).toMatchObject({ minDriver: '580.65.06', compatFloor: '580.65.06' });
    // A release missing from the table borrows the nearest older row of its major and says so.
    expect(requiredDriver('13.1')).toMatchObject({ cuda: '13.1', tableCuda: '13.0' });
    expect(requiredDriver('10.2')).toMatchObject({ minDriver: '440.33' });
    expect(requiredDriver('8.0')).toBeNull();
    expect(requiredDriver('twelve')).toBeNull();
  });

  it('takes --cuda first, then the local image, then the known-image table, then the server default', () => {
    expect(resolveImageCuda(settingsOf({ cuda: '12.4' }), VLLM_IMAGE)).toEqual({ version: '12.4', source: 'flag' });
    expect(resolveImageCuda(settingsOf(), VLLM_IMAGE)).toEqual({ version: '12.8.1', source: 'image' });
    expect(resolveImageCuda(settingsOf(), NO_IMAGE)).toEqual({ version: '12.8.1', source: 'table' });
    expect(resolveImageCuda(settingsOf({ image: 'example/unknown:1' }), NO_IMAGE)).toEqual({ version: '12.8', source: 'default' });
    expect(resolveImageCuda(settingsOf({ server: 'web', image: 'example/qwen3guard-web:1' }), undefined)).toEqual({ version: '12.1', source: 'default' });
  });
});

describe('data: GPU names -> compute capability', () => {
  it.each([
    ['NVIDIA A100-SXM4-80GB', '8.0'],
    ['NVIDIA A100-PCIE-40GB', '8.0'],
    ['A100-PCIE-40GB', '8.0'],
    ['NVIDIA A10G', '8.6'],
    ['NVIDIA A10', '8.6'],
    ['NVIDIA A30', '8.0'],
    ['NVIDIA A40', '8.6'],
    ['NVIDIA RTX A6000', '8.6'],
    ['NVIDIA RTX 6000 Ada Generation', '8.9'],
    ['Quadro RTX 6000', '7.5'],
    ['NVIDIA GeForce RTX 3090', '8.6'],
    ['NVIDIA GeForce RTX 3090 Ti', '8.6'],
    ['NVIDIA GeForce RTX 4090', '8.9'],
    ['NVIDIA GeForce RTX 5090', '12.0'],
    ['NVIDIA GeForce RTX 2080 Ti', '7.5'],
    ['NVIDIA GeForce GTX 1080 Ti', '6.1'],
    ['GeForce GTX 1080', '6.1'],
    ['Tesla T4', '7.5'],
    ['Tesla V100-SXM2-32GB', '7.0'],
    ['Tesla P100-PCIE-16GB', '6.0'],
    ['Tesla P40', '6.1'],
    ['Tesla K80', '3.7'],
    ['NVIDIA L4', '8.9'],
    ['NVIDIA L40S', '8.9'],
    ['NVIDIA L40', '8.9'],
    ['NVIDIA H100 80GB HBM3', '9.0'],
    ['NVIDIA H100 PCIe', '9.0'],
    ['NVIDIA H200', '9.0'],
    ['NVIDIA GH200 480GB', '9.0'],
    ['NVIDIA B200', '10.0'],
    ['NVIDIA RTX PRO 6000 Blackwell Server Edition', '12.0'],
  ])('%s -> %s', (name, capability) => {
    expect(capabilityFromName(name)).toBe(capability);
  });

  it('knows nothing of names it has never seen', () => {
    expect(capabilityFromName('Matrox G200eW3')).toBeNull();
    expect(capabilityFromName('')).toBeNull();
  });
});

describe('data: compiled architecture lists', () => {
  it('sorts exact, binary-compatible, PTX-only and missing', () => {
    expect(archCoverage('9.0', ['8.0', '9.0'])).toMatchObject({ kind: 'exact' });
    expect(archCoverage('8.6', ['7.5', '8.0'])).toMatchObject({ kind: 'binary', entry: { raw: '8.0' } });
    expect(archCoverage('12.0', ['8.0', '9.0+PTX'])).toMatchObject({ kind: 'ptx', entry: { raw: '9.0+PTX' } });
    expect(archCoverage('9.0', ['7.5', '8.0', '8.6'])).toEqual({ kind: 'none' });
    // "a" builds run only on their exact capability.
    expect(archCoverage('10.3', ['10.0a'])).toEqual({ kind: 'none' });
    expect(archCoverage('9.0', ['sm_90a'])).toMatchObject({ kind: 'exact' });
  });
});

describe('GPU choice', () => {
  it('takes the GPU with the most free memory, or the one --gpu names', () => {
    const two = host('two-a100-one-busy');
    expect(chooseGpu(two.gpus, { gpu: null })).toMatchObject({ ok: true, reason: 'most-free', gpu: { index: 1 } });
    expect(chooseGpu(two.gpus, { gpu: 0 })).toMatchObject({ ok: true, reason: 'flag', gpu: { index: 0 } });
  });

  it('fails --gpu with an index that does not exist, naming the ones that do', () => {
    const r = judge(host('two-a100-one-busy'), { gpu: '3' });
    for (const result of [r.capability, r.vram]) {
      expect(result.status).toBe('fail');
      expect(result.summary).toBe('--gpu 3: there is no GPU 3; this host has GPUs 0, 1');
      expect(result.fix).toBe('give one of --gpu 0, --gpu 1 (nvidia-smi indexes)');
    }
  });
});

describe('gpu.driver', () => {
  it('passes a 570.124.06 driver for the pinned default image, judged by its known start gate', () => {
    const { driver } = judge(host('h100'));
    expect(driver.status).toBe('pass');
    expect(driver.summary).toBe(
      'driver 570.124.06 (supports CUDA up to 12.8); vllm/vllm-openai:v0.11.0 (CUDA 12.8.1) starts: its NVIDIA_REQUIRE_CUDA (known-image table) is satisfied (cuda>=12.8), and 570.124.06 or newer is what CUDA 12.8.1 needs',
    );
    expect(driver.measured).toMatchObject({ driverVersion: '570.124.06', cuda: '12.8.1', cudaSource: 'table', requiredDriver: '570.124.06', gate: 'table' });
  });

  it('fails an RTX 4090 on driver 550 in nvidia-container-cli\'s words, with the driver it needs', () => {
    const geforce550 = withGpu({ ...host('rtx4090'), driverVersion: '550.127.05', cudaVersion: '12.4' }, 0, { brand: 'GeForce', brandSource: 'nvidia-smi' });
    const { driver } = judge(geforce550);
    expect(driver.status).toBe('fail');
    expect(driver.summary).toBe(
      'driver 550.127.05 (supports CUDA up to 12.4) cannot start vllm/vllm-openai:v0.11.0 (CUDA 12.8.1) on GPU 0 (NVIDIA GeForce RTX 4090, brand GeForce): nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container',
    );
    expect(driver.fix).toBe("update the NVIDIA driver to 570.124.06 or newer (the gate asks cuda>=12.8, and the image's CUDA 12.8.1 needs 570.124.06)");
    expect(driver.details?.join(' ')).toContain('GeForce/TITAN cards get no CUDA forward compatibility');
  });

  it('warns a datacenter GPU on 550 that starts only through forward compatibility, naming the brand rule that admits it', () => {
    const tesla550 = withGpu({ ...host('t4'), driverVersion: '550.54.15', cudaVersion: '12.4' }, 0, { brand: 'Tesla', brandSource: 'nvidia-smi' });
    const { driver } = judge(tesla550);
    expect(driver.status).toBe('warn');
    expect(driver.summary).toContain('starts vllm/vllm-openai:v0.11.0 (CUDA 12.8.1) on GPU 0 (Tesla T4, brand Tesla) only through CUDA forward compatibility');
    expect(driver.fix).toContain('update the NVIDIA driver to 570.124.06 or newer');
    expect(driver.measured).toMatchObject({ admittedBy: 'brand=tesla,driver>=550,driver<551' });
  });

  it('fails a datacenter GPU on a branch the gate does not list (555), though minor-version compatibility would have allowed it', () => {
    const a100 = withGpu({ ...host('a100-80gb-idle'), driverVersion: '555.42.02', cudaVersion: '12.5' }, 0, { brand: 'NVIDIA', brandSource: 'nvidia-smi' });
    const { driver } = judge(a100);
    expect(driver.status).toBe('fail');
    expect(driver.summary).toContain('unsatisfied condition: cuda>=12.8');
  });

  it('warns on a 570 driver below the 12.8 Update 1 floor: the gate admits it, CUDA 12.8.1 runs under minor-version compatibility', () => {
    const { driver } = judge({ ...host('h100'), driverVersion: '570.86.15', cudaVersion: '12.8' });
    expect(driver.status).toBe('warn');
    expect(driver.summary).toContain('passes the image\'s start gate (cuda>=12.8) but is older than the 570.124.06');
  });

  it("judges a local image's own NVIDIA_REQUIRE_CUDA, and its CUDA_VERSION", () => {
    const image: ImageInfo = { ...VLLM_IMAGE, ref: 'example/custom:1', requireCuda: 'cuda>=12.9', otherRequires: {}, disableRequire: null };
    const { driver } = judge(host('h100'), { image: 'example/custom:1' }, image);
    expect(driver.status).toBe('fail');
    expect(driver.summary).toContain("nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.9, please update your driver");
    expect(driver.fix).toContain('update the NVIDIA driver to 575.51.03 or newer');
  });

  it('lets NVIDIA_DISABLE_REQUIRE switch the gate off: the driver table decides', () => {
    const image: ImageInfo = { ...VLLM_IMAGE, ref: 'example/custom:1', requireCuda: 'cuda>=12.9', otherRequires: {}, disableRequire: '1' };
    const { driver } = judge(host('h100'), { image: 'example/custom:1' }, image);
    expect(driver.status).toBe('pass');
    expect(driver.measured).toMatchObject({ gate: 'disabled' });
    expect(driver.details?.join(' ')).toContain('NVIDIA_DISABLE_REQUIRE');
  });

  it('judges an unknown image that is not local by the CUDA table, and says so', () => {
    const { driver } = judge(host('h100'), { image: 'example/unknown:1' });
    expect(driver.status).toBe('pass');
    expect(driver.summary).toBe('driver 570.124.06 (supports CUDA up to 12.8); CUDA 12.8 (the --server vllm default: image example/unknown:1 is unknown and not present locally) needs >= 570.26; the start gate of example/unknown:1 is unknown');
  });

  it('passes the same A100 535 host with --cuda 12.2 on an image without a gate', () => {
    expect(judge(host('a100-80gb-busy'), { cuda: '12.2', image: 'example/unknown:1' }).driver).toMatchObject({ status: 'pass', summary: expect.stringContaining('CUDA 12.2 (--cuda) needs >= 535.54.03') });
  });

  it('fails a 470 driver for a CUDA 12 image without a gate, with found, needed and what to do', () => {
    const old = { ...host('two-a100-one-busy'), driverVersion: '470.239.06', cudaVersion: '11.4' };
    const { driver } = judge(old, { image: 'example/unknown:1', cuda: '12.8' });
    expect(driver.status).toBe('fail');
    expect(driver.summary).toBe('driver 470.239.06 (supports CUDA up to 11.4) is too old: CUDA 12.8 (--cuda) needs driver >= 570.26 (>= 525.60.13 under minor-version compatibility)');
    expect(driver.fix).toBe('update the NVIDIA driver to 570.26 or newer, or use an image built for CUDA 11.4 or older (--image, --cuda)');
  });

  it('warns when only minor-version compatibility covers a gate-less image', () => {
    const old = { ...host('two-a100-one-busy'), driverVersion: '470.239.06', cudaVersion: '11.4' };
    const { driver } = judge(old, { cuda: '11.8', image: 'example/unknown:1' });
    expect(driver.status).toBe('warn');
    expect(driver.summary).toContain('only if the image does not refuse this driver at start');
  });

  it('fails a host with a GPU fallen off the bus, even when the user picked another GPU', () => {
    const lost = { ...host('two-a100-one-busy'), lostGpus: [{ id: '0000:07:00.0', line: 'Unable to determine the device handle for GPU0000:07:00.0: Unknown Error' }] };
    const { driver, capability } = judge(lost, { gpu: '1' });
    expect(driver.status).toBe('fail');
    expect(driver.summary).toContain('nvidia-smi cannot reach a GPU: Unable to determine the device handle for GPU0000:07:00.0: Unknown Error');
    expect(driver.fix).toContain('reboot');
    expect(capability.details?.join(' ')).toContain('nvidia-smi cannot reach 0000:07:00.0');
  });

  it('judges the start gate on the GPUs the container gets: all of them, or the one --gpu (or its MIG UUID) names', () => {
    const base = { ...host('two-a100-one-busy'), driverVersion: '550.127.05', cudaVersion: '12.4' };
    const migDevice = { index: 0, profile: '3g.20gb', uuid: 'MIG-0d6b1b8a-6f0e-5a7e-9d2b-1f3c5e7a9b0d', gpuInstanceId: 1, computeInstanceId: 0, memoryTotalMiB: 19968, memoryUsedMiB: 13, memoryFreeMiB: 19955 };
    const mixed = withGpu(withGpu(base, 0, { name: 'NVIDIA GeForce RTX 4090', brand: 'GeForce', brandSource: 'nvidia-smi' }), 1, { brand: 'NVIDIA', brandSource: 'nvidia-smi', migEnabled: true, migDevices: [migDevice] });
    // --gpus all: the GeForce card's refusal stops the container.
    expect(judge(mixed).driver).toMatchObject({ status: 'fail', summary: expect.stringContaining('on GPU 0 (NVIDIA GeForce RTX 4090, brand GeForce)') });
    for (const gpu of ['1', '1:0', migDevice.uuid]) {
      expect(judge(mixed, { gpu }).driver, `--gpu ${gpu}`).toMatchObject({ status: 'warn', summary: expect.stringContaining('on GPU 1 (NVIDIA A100-SXM4-40GB, brand NVIDIA) only through CUDA forward compatibility') });
    }
  });

  it('fails "CUDA Version: ERR!" (WSL2, vGPU): CUDA cannot be assumed', () => {
    const { driver } = judge({ ...host('h100'), cudaVersion: null, cudaVersionSource: 'unreadable', cudaVersionText: 'ERR!' });
    expect(driver.status).toBe('fail');
    expect(driver.summary).toContain('nvidia-smi reports "CUDA Version: ERR!"');
  });

  it('fails an NVML driver/library mismatch with its own summary, both versions, and reboot as the fix (not "no driver")', () => {
    const { driver, vram } = judge({
      state: 'nvml-mismatch',
      message: 'Failed to initialize NVML: Driver/library version mismatch NVML library version: 570.133',
      libraryVersion: '570.133',
      kernelVersion: '565.57.01',
    });
    expect(driver.status).toBe('fail');
    expect(driver.summary).toContain('NVIDIA driver/library version mismatch');
    expect(driver.summary).toContain('library 570.133, kernel module 565.57.01');
    expect(driver.fix).toMatch(/^reboot, or reload the nvidia kernel modules/);
    expect(driver.summary).not.toContain('no NVIDIA driver');
    // One cause, one failure: the checks that need GPU facts could not tell.
    expect(vram.status).toBe('error');
  });

  it('fails "No devices were found": a driver, but no GPU', () => {
    const { driver } = judge({ state: 'no-devices', message: 'No devices were found (nvidia-smi exit 6)' });
    expect(driver.status).toBe('fail');
    expect(driver.summary).toBe('the NVIDIA driver is loaded but sees no usable GPU: No devices were found (nvidia-smi exit 6)');
  });

  it('fails when no driver answers, saying what to install', () => {
    const { driver } = judge({ state: 'no-driver', message: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running." });
    expect(driver.status).toBe('fail');
    expect(driver.summary).toContain("no NVIDIA driver answers: NVIDIA-SMI has failed because it couldn't communicate");
    expect(driver.fix).toContain('the NVIDIA driver (>= 570.124.06 for CUDA 12.8.1)');
    expect(driver.fix).toContain('--cpu');
  });

  it('fails when nvidia-smi is missing', () => {
    const { driver } = judge({ state: 'no-nvidia-smi', message: 'nvidia-smi is not on PATH' });
    expect(driver.status).toBe('fail');
    expect(driver.summary).toBe('no NVIDIA driver: nvidia-smi is not on PATH; vllm/vllm-openai:v0.11.0 (CUDA 12.8.1) needs driver >= 570.124.06');
  });

  it('warns on a CUDA version the table does not know, for an image without a gate', () => {
    const { driver } = judge(host('h100'), { cuda: '14.0', image: 'example/unknown:1' });
    expect(driver.status).toBe('warn');
    expect(driver.summary).toContain('is not in the driver table');
  });
});

describe('gpu.compute-capability', () => {
  it('passes an H100 that the image was compiled for', () => {
    const { capability } = judge(host('h100'), {}, VLLM_IMAGE);
    expect(capability.status).toBe('pass');
    expect(capability.summary).toBe("GPU 0 (NVIDIA H100 80GB HBM3): compute capability 9.0 >= 8.0, listed in the image's TORCH_CUDA_ARCH_LIST (7.0 7.5 8.0 8.9 9.0 10.0 12.0)");
  });

  it('passes an RTX 3090 (8.6) on 8.0 kernels, saying why', () => {
    const { capability } = judge(host('rtx3090'), {}, VLLM_IMAGE);
    expect(capability.status).toBe('pass');
    expect(capability.summary).toContain("runs the image's 8.0 kernels (binary compatible within major 8");
  });

  it('warns a T4 (7.5) under vLLM: served in fp16, not the official bf16', () => {
    const { capability } = judge(host('t4'));
    expect(capability.status).toBe('warn');
    expect(capability.summary).toBe(
      'GPU 0 (Tesla T4) has compute capability 7.5 (Turing): no bf16, so vLLM serves the bf16 checkpoint in fp16 (--dtype auto), with numerics slightly different from the official bf16 evaluation, listed in the compiled list of vllm/vllm-openai:v0.11.0 (known-image table) (7.0 7.5 8.0 8.9 9.0 10.0 12.0)',
    );
    expect(capability.measured).toMatchObject({ dtype: 'float16', required: '7.0' });
  });

  it('fails a T4 for the web image, which supports 8.0 and newer only', () => {
    const { capability } = judge(host('t4'), { server: 'web', image: 'example/qwen3guard-web:1' });
    expect(capability.status).toBe('fail');
    expect(capability.summary).toBe('GPU 0 (Tesla T4) has compute capability 7.5 (Turing); the web image needs 8.0 (Ampere) or newer');
    expect(capability.fix).toBe('serve on an Ampere or newer GPU (A100, A10, L4, RTX 3090 or newer), or on CPU with --cpu');
  });

  it('fails a GTX 1080 Ti (6.1) under vLLM in vLLM\'s own words', () => {
    const { capability } = judge(host('gtx1080ti'));
    expect(capability.status).toBe('fail');
    expect(capability.summary).toBe('GPU 0 (NVIDIA GeForce GTX 1080 Ti) has compute capability 6.1 (Pascal); vLLM refuses it ("RuntimeError: GPUs with compute capability below 7.0 are not supported.")');
  });

  it('points at a newer GPU on the same host', () => {
    const mixed = host('two-a100-one-busy');
    mixed.gpus[0] = { ...host('t4').gpus[0]!, index: 0 };
    const { capability } = judge(mixed, { gpu: '0' });
    expect(capability.fix).toBe('use --gpu 1 (NVIDIA A100-SXM4-40GB, compute capability 8.0) for bf16, or accept fp16 (check the verdicts with `guard-doctor suite`)');
  });

  it('says when the capability came from the name table (old drivers)', () => {
    const old = withGpu(host('two-a100-one-busy'), 1, { computeCapability: '8.0', computeCapabilitySource: 'name-table' });
    const { capability } = judge(old);
    expect(capability.status).toBe('pass');
    expect(capability.summary).toContain('compute capability 8.0 (from the GPU name table: this driver does not report it)');
  });

  it('fails when the image was not compiled for the GPU', () => {
    const image = { ...VLLM_IMAGE, torchCudaArchList: ['7.0', '7.5', '8.0', '8.6'] };
    const { capability } = judge(host('h100'), {}, image);
    expect(capability.status).toBe('fail');
    expect(capability.summary).toContain("was compiled only for 7.0 7.5 8.0 8.6 (the image's TORCH_CUDA_ARCH_LIST)");
    expect(capability.summary).toContain('no kernel image is available for execution on the device');
    expect(capability.fix).toContain('use an image built for compute capability 9.0');
  });

  it('warns when only PTX of an older architecture covers the GPU', () => {
    const rtx5090 = withGpu(host('rtx4090'), 0, { name: 'NVIDIA GeForce RTX 5090', computeCapability: '12.0', memoryTotalMiB: 32607 });
    const { capability } = judge(rtx5090, {}, { ...VLLM_IMAGE, torchCudaArchList: ['8.0', '8.6', '9.0+PTX'] });
    expect(capability.status).toBe('warn');
    expect(capability.summary).toContain('only PTX of 9.0+PTX, which the driver must JIT-compile');
  });

  it('warns when the capability is unknown', () => {
    const odd = withGpu(host('h100'), 0, { name: 'NVIDIA Graphics Device', computeCapability: null, computeCapabilitySource: 'unknown' });
    expect(judge(odd).capability).toMatchObject({ status: 'warn', summary: expect.stringContaining('could not tell the compute capability of GPU 0 (NVIDIA Graphics Device)') });
  });
});

describe('gpu.vram requirement', () => {
  const model = (name: string) => findModel(name)!;

  it('comes out at exactly 26 GiB for Qwen3Guard-Gen-8B at 32768 tokens (the field floor)', () => {
    const need = vramRequirement(model('Qwen3Guard-Gen-8B'), null, 32768, 'vllm');
    expect(need).toMatchObject({ weightsMiB: 15623, kvCacheMiB: 4608, kvBytesPerToken: 147456, formulaMiB: 24327, floorMiB: 26624, requiredMiB: 26624 });
  });

  it('derives 4B and 0.6B the same way', () => {
    expect(vramRequirement(model('Qwen3Guard-Gen-4B'), null, 32768, 'vllm')).toMatchObject({ weightsMiB: 7673, kvCacheMiB: 4608, requiredMiB: 16377, floorMiB: null });
    expect(vramRequirement(model('Qwen3Guard-Gen-0.6B'), null, 32768, 'vllm')).toMatchObject({ weightsMiB: 1434, kvCacheMiB: 3584, requiredMiB: 9114 });
  });

  it('keeps the field floor for the web image at any context', () => {
    expect(vramRequirement(model('Qwen3Guard-Gen-8B'), null, 4096, 'web').requiredMiB).toBe(26624);
    expect(vramRequirement(model('Qwen3Guard-Gen-8B'), null, 4096, 'vllm').requiredMiB).toBe(15623 + 576 + 4096);
  });

  it('finds the longest context and the largest utilization that fit', () => {
    const spec = model('Qwen3Guard-Gen-8B');
    const length = largestFittingModelLen(spec, null, 22118, 32768)!;
    expect(length).toBe(16384);
    expect(vramRequirement(spec, null, length, 'vllm').requiredMiB).toBeLessThanOrEqual(22118);
    expect(largestFittingModelLen(spec, null, 19000, 32768)).toBeNull();
    expect(largestUtilization(19803, 81920)).toBe(0.24);
    expect(largestUtilization(22630, 24576)).toBe(0.92);
    expect(largestUtilization(81037, 81920)).toBe(0.98);
  });
});

describe('gpu.vram', () => {
  it('passes an idle H100', () => {
    const { vram } = judge(host('h100'));
    expect(vram.status).toBe('pass');
    expect(vram.summary).toBe('GPU 0 has 78.7 GiB free of 79.6 GiB; Qwen3Guard-Gen-8B needs at least 26 GiB at --max-model-len 32768; --gpu-memory-utilization 0.9 gives it 71.7 GiB');
    expect(vram.measured).toMatchObject({ gpu: 0, freeMiB: 80626, requiredMiB: 26624, totalMiB: 81559 });
  });

  it('fails an RTX 3090 for the 8B with a --max-model-len that works, and that length passes', () => {
    const { vram } = judge(host('rtx3090'));
    expect(vram.status).toBe('fail');
    expect(vram.summary).toBe('GPU 0 has 22.1 GiB free of 24 GiB; Qwen3Guard-Gen-8B needs at least 26 GiB at --max-model-len 32768');
    expect(vram.fix).toBe('start with --max-model-len 16384; or use --model Qwen3Guard-Gen-4B (needs 16 GiB, not 26 GiB)');
    expect(vram.measured).toMatchObject({ gpu: 0, freeMiB: 22630, requiredMiB: 26624, suggestedMaxModelLen: 16384, suggestedModel: 'Qwen3Guard-Gen-4B' });

    expect(judge(host('rtx3090'), { maxModelLen: '16384' }).vram.status).toBe('pass');
    expect(judge(host('rtx3090'), { model: 'Qwen3Guard-Gen-4B' }).vram.status).toBe('pass');
  });

  it('fails the web image on an RTX 3090 without offering --max-model-len (it has a fixed context)', () => {
    const { vram } = judge(host('rtx3090'), { server: 'web', image: 'example/qwen3guard-web:1' });
    expect(vram.status).toBe('fail');
    expect(vram.fix).toBe('use --model Qwen3Guard-Gen-4B (needs 16 GiB, not 26 GiB)');
  });

  it('fails a busy A100 where vLLM would refuse 0.9 x total, with numbers that work', () => {
    const { vram } = judge(host('a100-80gb-busy'));
    expect(vram.status).toBe('fail');
    expect(vram.summary).toBe('GPU 0 has 19.3 GiB free of 80 GiB; Qwen3Guard-Gen-8B needs at least 26 GiB at --max-model-len 32768; --gpu-memory-utilization 0.9 asks for 72 GiB, more than is free (vLLM refuses to start)');
    expect(vram.fix).toBe('use --model Qwen3Guard-Gen-4B --gpu-memory-utilization 0.24 (needs 16 GiB, not 26 GiB); or free memory on GPU 0 (59.8 GiB in use; `nvidia-smi` lists the processes holding it)');
    expect(judge(host('a100-80gb-busy'), { model: 'Qwen3Guard-Gen-4B', gpuMemoryUtilization: '0.24' }).vram.status).toBe('pass');
  });

  it('offers a lower --gpu-memory-utilization when only the fraction is off', () => {
    const halfBusy = withGpu(host('a100-80gb-idle'), 0, { memoryUsedMiB: 40000, memoryFreeMiB: 41037 });
    const { vram } = judge(halfBusy);
    expect(vram.status).toBe('fail');
    expect(vram.summary).toContain('--gpu-memory-utilization 0.9 asks for 72 GiB, more than is free (vLLM refuses to start)');
    expect(vram.fix).toMatch(/^start with --gpu-memory-utilization 0\.50;/);
    expect(judge(halfBusy, { gpuMemoryUtilization: '0.50' }).vram.status).toBe('pass');
  });

  it('names another GPU that would fit', () => {
    const { vram } = judge(host('two-a100-one-busy'), { gpu: '0' });
    expect(vram.status).toBe('fail');
    expect(vram.summary).toContain('GPU 0 has 2.4 GiB free of 40 GiB');
    expect(vram.fix).toMatch(/^use --gpu 1 \(NVIDIA A100-SXM4-40GB, 39\.5 GiB free\)/);
    expect(vram.measured).toMatchObject({ suggestedGpu: 1 });
    expect(judge(host('two-a100-one-busy')).vram).toMatchObject({ status: 'pass', measured: { gpu: 1 } });
  });

  it('warns when memory is [N/A] (unified memory) instead of crashing', () => {
    const { vram } = judge(host('unified-memory-na'));
    expect(vram.status).toBe('warn');
    expect(vram.summary).toBe('could not measure free memory on GPU 0 (NVIDIA GB10) (nvidia-smi reports [N/A], as on unified-memory machines); Qwen3Guard-Gen-8B needs at least 26 GiB');
  });

  it('reads the real config.json and shard sizes from the model folder', async () => {
    const root = await tempDir();
    // A deeper variant: 48 layers instead of 36, so the KV cache per token grows by a third.
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 2, config: { ...qwen3Config('8B'), num_hidden_layers: 48 } });
    const settings = settingsOf({ modelDir: built.dir, maxModelLen: '8192' });
    const model = await runProbe('model', settings);
    expect(model.ok).toBe(true);
    const result = judgeOne(gpuVram, facts(host('rtx3090'), NO_IMAGE, model, settings), settings);
    expect(result.status).toBe('pass');
    expect(result.measured).toMatchObject({ kvCacheMiB: 1536, figuresFrom: 'model folder', weightsMiB: Math.ceil((model.ok ? model.value!.weightBytes! : 0) / 1048576) });
    expect(result.details?.[0]).toContain('KV cache 1536 MiB (8192 tokens x 192 KiB, config.json)');
  });

  it('fails with the reason when no GPU answers', () => {
    const { capability, vram } = judge({ state: 'no-driver', message: 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.' });
    expect(capability.status).toBe('error');
    expect(vram).toMatchObject({ status: 'error', summary: expect.stringContaining('no GPU to check: nvidia-smi cannot reach the driver') });
  });
});

describe('--cpu', () => {
  it('skips all three GPU checks, saying why (skip is not pass)', () => {
    const r = judge({ state: 'no-nvidia-smi', message: 'nvidia-smi is not on PATH' }, { cpu: true });
    for (const result of [r.driver, r.capability, r.vram]) {
      expect(result).toMatchObject({ status: 'skip', summary: 'serving on CPU (--cpu): no GPU is used' });
    }
  });
});

describe('a probe that timed out', () => {
  it('makes every GPU check an error, not a pass or a fail', () => {
    const settings = settingsOf();
    const timedOut = deriveFacts(
      {
        gpus: { ok: false, kind: 'timeout', message: 'nvidia-smi did not answer within 10 s', durationMs: 10_000 },
        image: { ok: true, value: NO_IMAGE, durationMs: 1 },
        model: { ok: true, value: null, durationMs: 0 },
      },
      ['gpu'],
      settings,
    );
    for (const check of [gpuDriver, gpuComputeCapability, gpuVram]) {
      expect(judgeOne(check, timedOut, settings)).toMatchObject({ status: 'error', summary: 'could not tell: nvidia-smi did not answer within 10 s' });
    }
  });
});
