/**
 * The image's start gate, evaluated as nvidia-container-cli evaluates it (libnvidia-container
 * src/cli/dsl.c and configure.c), on the real NVIDIA_REQUIRE_CUDA of the CUDA 12.8.1 base images
 * that the vLLM 0.9-0.11 images carry, and on the edges of its grammar.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dslCompareVersion, evaluateGate, evaluateRequirement, gateRequirements, parseGoBool, requiredCudaOf, type GateContext } from '../../src/nvidia-require.js';
import { DEFAULT_CUDA, DEFAULT_VLLM_IMAGE, KNOWN_IMAGES, MIN_VLLM_FOR_QWEN3GUARD, REQUIRE_CUDA_12_8, imageRef, knownImage, splitImageRef } from '../../src/data/images.js';
import { DEFAULT_CUDA as SETTINGS_DEFAULT_CUDA, DEFAULT_VLLM_IMAGE as SETTINGS_DEFAULT_IMAGE } from '../../src/settings.js';
import { brandFromName, containerBrand, migProfileFor } from '../../src/data/gpus.js';
import { compareVersions, cudaForDriver } from '../../src/data/cuda.js';

const host = (driverVersion: string, cudaVersion: string, brand: string | null, arch = '8.9'): GateContext => ({
  driverVersion,
  cudaVersion,
  device: { arch, brand },
});

const REFUSED_12_8 = 'unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container';

describe('dsl_compare_version', () => {
  it.each([
    ['12.8', '>=', '12.8', true],
    ['12.4', '>=', '12.8', false],
    ['12.10', '>=', '12.9', true],
    ['12.8', '>=', '12.8.1', false],
    ['12.8.0', '=', '12.8', true],
    ['550.127.05', '>=', '550', true],
    ['550.127.05', '<', '551', true],
    ['551.61', '<', '551', false],
    ['565.57.01', '<', '566', true],
    ['8.9', '>=', '8.0', true],
    ['7.5', '<', '8.0', true],
    ['12.8', '!=', '12.8.0', false],
  ] as const)('%s %s %s is %s', (a, op, b, want) => {
    expect(dslCompareVersion(a, op, b)).toBe(want);
  });

  it('makes anything but digits and dots an invalid expression (null)', () => {
    expect(dslCompareVersion('12.8', '>=', '12.x')).toBeNull();
    expect(dslCompareVersion('ERR!', '>=', '12.8')).toBeNull();
  });

  it('orders versions as compareVersions does, for any two versions', () => {
    const version = fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
    fc.assert(
      fc.property(version, version, (a, b) => {
        const c = compareVersions(a, b);
        expect(dslCompareVersion(a, '<', b)).toBe(c < 0);
        expect(dslCompareVersion(a, '>=', b)).toBe(c >= 0);
        expect(dslCompareVersion(a, '=', b)).toBe(c === 0);
      }),
    );
  });
});

describe('the CUDA 12.8.1 base images\' gate (vLLM 0.9 to 0.11)', () => {
  it('admits any GPU on a driver that supports CUDA 12.8', () => {
    expect(evaluateRequirement(REQUIRE_CUDA_12_8, host('570.124.06', '12.8', 'GeForce'))).toEqual({ ok: true, alternative: 'cuda>=12.8' });
    expect(evaluateRequirement(REQUIRE_CUDA_12_8, host('580.95.05', '13.0', 'Unknown'))).toEqual({ ok: true, alternative: 'cuda>=12.8' });
  });

  it('refuses a GeForce card below CUDA 12.8, in nvidia-container-cli\'s words', () => {
    for (const [driver, cuda] of [
      ['550.127.05', '12.4'],
      ['560.35.03', '12.6'],
      ['565.57.01', '12.7'],
      ['535.183.01', '12.2'],
    ]) {
      expect(evaluateRequirement(REQUIRE_CUDA_12_8, host(driver!, cuda!, 'GeForce'))).toEqual({ ok: false, invalid: false, unsatisfied: 'cuda>=12.8', message: REFUSED_12_8 });
      expect(evaluateRequirement(REQUIRE_CUDA_12_8, host(driver!, cuda!, 'TITAN')).ok).toBe(false);
    }
  });

  it('admits datacenter and workstation brands on the 470, 535, 550, 560 and 565 branches (forward compatibility)', () => {
    expect(evaluateRequirement(REQUIRE_CUDA_12_8, host('550.127.05', '12.4', 'Unknown'))).toEqual({ ok: true, alternative: 'brand=unknown,driver>=550,driver<551' });
    expect(evaluateRequirement(REQUIRE_CUDA_12_8, host('535.183.01', '12.2', 'Tesla'))).toEqual({ ok: true, alternative: 'brand=tesla,driver>=535,driver<536' });
    expect(evaluateRequirement(REQUIRE_CUDA_12_8, host('470.239.06', '11.4', 'Quadro'))).toEqual({ ok: true, alternative: 'brand=quadro,driver>=470,driver<471' });
    expect(evaluateRequirement(REQUIRE_CUDA_12_8, host('565.57.01', '12.7', 'nvidia'))).toEqual({ ok: true, alternative: 'brand=nvidia,driver>=565,driver<566' });
  });

  it('refuses datacenter brands on branches it does not list (555, 545, 525)', () => {
    for (const [driver, cuda] of [
      ['555.42.02', '12.5'],
      ['545.23.08', '12.3'],
      ['525.147.05', '12.0'],
    ]) {
      expect(evaluateRequirement(REQUIRE_CUDA_12_8, host(driver!, cuda!, 'Tesla'))).toMatchObject({ ok: false, message: REFUSED_12_8 });
    }
  });

  it('passes brand and arch rules when no GPU is visible, as the runtime does', () => {
    expect(evaluateRequirement(REQUIRE_CUDA_12_8, { driverVersion: '550.127.05', cudaVersion: '12.4', device: null }).ok).toBe(true);
  });

  it('passes the cuda rule when the driver CUDA version is unknown, as the runtime does', () => {
    expect(evaluateRequirement('cuda>=12.8', { driverVersion: '550.127.05', cudaVersion: null, device: null }).ok).toBe(true);
  });
});

describe('the grammar', () => {
  const ctx = host('550.127.05', '12.4', 'Tesla', '7.5');

  it('ANDs comma-separated conditions and ORs space-separated alternatives', () => {
    expect(evaluateRequirement('cuda>=12.0,arch>=7.5', ctx).ok).toBe(true);
    expect(evaluateRequirement('cuda>=12.0,arch>=8.0', ctx).ok).toBe(false);
    expect(evaluateRequirement('arch>=8.0 brand=tesla', ctx)).toEqual({ ok: true, alternative: 'brand=tesla' });
  });

  it('names the first alternative when all fail, with the update hint only for cuda>=', () => {
    expect(evaluateRequirement('arch>=8.0 brand=geforce', ctx)).toEqual({ ok: false, invalid: false, unsatisfied: 'arch>=8.0', message: 'unsatisfied condition: arch>=8.0' });
    expect(evaluateRequirement('cuda>=13.0,driver>=580 brand=geforce', ctx).ok).toBe(false);
    expect(evaluateRequirement('cuda>=13.0,driver>=580 brand=geforce', ctx)).toMatchObject({
      message: 'unsatisfied condition: cuda>=13.0,driver>=580, please update your driver to a newer version, or use an earlier cuda container',
    });
  });

  it('compares brands case-insensitively and only with = and !=', () => {
    expect(evaluateRequirement('brand=TESLA', ctx).ok).toBe(true);
    expect(evaluateRequirement('brand!=geforce', ctx).ok).toBe(true);
    expect(evaluateRequirement('brand>=tesla', ctx)).toEqual({ ok: false, invalid: true, message: 'invalid expression' });
  });

  it('calls unknown keys, missing values and unknown operators invalid', () => {
    for (const bad of ['memory>=16', 'cuda>=', 'cuda==12.8', 'cuda=>12.8', '>=12.8', 'cuda>=12.x']) {
      expect(evaluateRequirement(bad, ctx), bad).toEqual({ ok: false, invalid: true, message: 'invalid expression' });
    }
  });

  it('skips empty alternatives and conditions; an empty requirement holds', () => {
    expect(evaluateRequirement('', ctx).ok).toBe(true);
    expect(evaluateRequirement('  cuda>=12.0,,arch>=7.5  ', ctx).ok).toBe(true);
  });

  it('keeps the last result when a trailing alternative holds no condition, as dsl_evaluate does', () => {
    expect(evaluateRequirement('cuda>=13.0 ,', ctx).ok).toBe(false);
  });

  it('requires every --require string to hold', () => {
    expect(evaluateGate(['cuda>=12.0', 'arch>=8.0'], ctx)).toMatchObject({ ok: false, unsatisfied: 'arch>=8.0' });
    expect(evaluateGate(['cuda>=12.0', 'arch>=7.0'], ctx)).toEqual({ ok: true, alternative: 'cuda>=12.0' });
  });

  it('never throws on any text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = evaluateRequirement(text, ctx);
        expect(typeof result.ok).toBe('boolean');
      }),
    );
  });
});

describe('what the toolkit hands to nvidia-container-cli', () => {
  it('passes every NVIDIA_REQUIRE_* and adds cuda>=X.Y for an old image with CUDA_VERSION only', () => {
    expect(gateRequirements({ cudaVersion: '12.8.1', requireCuda: REQUIRE_CUDA_12_8, otherRequires: { NVIDIA_REQUIRE_ARCH: 'arch>=7.5' }, disableRequire: null })).toEqual([
      REQUIRE_CUDA_12_8,
      'arch>=7.5',
    ]);
    expect(gateRequirements({ cudaVersion: '11.0.3', requireCuda: null, disableRequire: null })).toEqual(['cuda>=11.0']);
    expect(gateRequirements({ cudaVersion: null, requireCuda: null, disableRequire: null })).toEqual([]);
  });

  it('lets NVIDIA_DISABLE_REQUIRE switch it off with Go\'s boolean spellings', () => {
    for (const on of ['1', 'true', 'TRUE', 'True', 't', 'T']) expect(parseGoBool(on), on).toBe(true);
    for (const off of ['0', 'false', 'yes', '', 'on']) expect(parseGoBool(off), off).toBe(false);
    expect(gateRequirements({ cudaVersion: '12.8.1', requireCuda: REQUIRE_CUDA_12_8, disableRequire: 'true' })).toEqual([]);
  });

  it('reads the lowest cuda>= a requirement asks for', () => {
    expect(requiredCudaOf(REQUIRE_CUDA_12_8)).toBe('12.8');
    expect(requiredCudaOf('brand=tesla,driver>=535')).toBeNull();
  });
});

describe('data: known images', () => {
  it('holds the pinned default, which settings re-exports, with its CUDA and its gate', () => {
    expect(SETTINGS_DEFAULT_IMAGE).toBe(DEFAULT_VLLM_IMAGE);
    expect(SETTINGS_DEFAULT_CUDA).toBe(DEFAULT_CUDA);
    const pinned = knownImage(DEFAULT_VLLM_IMAGE);
    expect(pinned).toMatchObject({ vllmVersion: '0.11.0', cudaVersion: '12.8.1', requireCuda: REQUIRE_CUDA_12_8 });
    expect(pinned!.archList).toEqual(['7.0', '7.5', '8.0', '8.9', '9.0', '10.0', '12.0']);
  });

  it('gives every row its sources, a Qwen3Guard-capable vLLM, and a gate that reads', () => {
    for (const row of KNOWN_IMAGES) {
      expect(row.source.cuda, imageRef(row)).toMatch(/github\.com\/vllm-project\/vllm\/blob\/v[\d.]+\/docker\/Dockerfile/);
      expect(row.source.archList, imageRef(row)).toContain('torch_cuda_arch_list');
      expect(compareVersions(row.vllmVersion!, MIN_VLLM_FOR_QWEN3GUARD)).toBeGreaterThanOrEqual(0);
      expect(evaluateRequirement(row.requireCuda, host('580.95.05', '13.0', 'GeForce')).ok).toBe(true);
    }
  });

  it('spells the real base-image gate: 12.8, or 12 non-GeForce brands on five branches', () => {
    const alternatives = REQUIRE_CUDA_12_8.split(' ');
    expect(alternatives[0]).toBe('cuda>=12.8');
    expect(alternatives).toHaveLength(1 + 12 * 5);
    expect(alternatives).toContain('brand=cloudgaming,driver>=565,driver<566');
    expect(alternatives.some((a) => a.includes('geforce'))).toBe(false);
  });

  it('finds images however the reference is spelled, and no others', () => {
    expect(knownImage('docker.io/vllm/vllm-openai:v0.11.0')).toBeDefined();
    expect(knownImage('vllm/vllm-openai:latest')).toBeUndefined();
    expect(knownImage('vllm/vllm-openai')).toBeUndefined();
    expect(splitImageRef('registry:5000/team/img:1@sha256:abc')).toEqual({ repository: 'registry:5000/team/img', tag: '1' });
  });
});

describe('data: brands and MIG profiles', () => {
  it('maps NVML brands to the names nvidia-container-cli compares', () => {
    expect(containerBrand('GeForce')).toBe('GeForce');
    expect(containerBrand('Tesla')).toBe('Tesla');
    expect(containerBrand('NVIDIA')).toBe('Unknown');
    expect(containerBrand('NVIDIA RTX')).toBe('Unknown');
    expect(containerBrand(null)).toBeNull();
  });

  it('falls back to the name, saying so elsewhere', () => {
    expect(brandFromName('NVIDIA GeForce RTX 4090')).toBe('GeForce');
    expect(brandFromName('Tesla T4')).toBe('Tesla');
    expect(brandFromName('NVIDIA A100-SXM4-80GB')).toBe('NVIDIA');
    expect(brandFromName('NVIDIA RTX A6000')).toBe('NVIDIA RTX');
  });

  it('names the smallest MIG profile that holds a requirement', () => {
    expect(migProfileFor('NVIDIA A100-SXM4-80GB', 81920, 26 * 1024)?.name).toBe('3g.40gb');
    expect(migProfileFor('NVIDIA A100-SXM4-40GB', 40960, 26 * 1024)?.name).toBe('7g.40gb');
    expect(migProfileFor('NVIDIA A100-SXM4-40GB', 40960, 45 * 1024)).toBeNull();
    expect(migProfileFor('NVIDIA H100 80GB HBM3', 81559, 26 * 1024)?.name).toBe('3g.40gb');
    expect(migProfileFor('NVIDIA B200', 183359, 26 * 1024, ['1g.23gb', '2g.45gb'])?.name).toBe('2g.45gb');
  });
});

describe('data: the CUDA a driver supports, without asking nvidia-smi', () => {
  it.each([
    ['570.124.06', '12.8', true],
    ['550.127.05', '12.4', true],
    ['565.57.01', '12.7', true],
    ['535.183.01', '12.2', true],
    ['470.239.06', '11.4', true],
    ['610.57.04', '13.3', true],
    ['700.10', '13.3', false],
  ])('driver %s -> CUDA %s', (driver, cuda, exact) => {
    expect(cudaForDriver(driver)).toEqual({ cuda, exact });
  });
});
