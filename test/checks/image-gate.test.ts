/**
 * The image's own start gate, read from real local images: tiny images made with
 * `docker import --change 'ENV NVIDIA_REQUIRE_CUDA=...'` (nothing pulled, nothing run), checked
 * by the built CLI on a recorded RTX 4090 host (driver 570.124.06, CUDA 12.8).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';
import { REQUIRE_CUDA_12_8 } from '../../src/data/images.js';

const skip = process.env.GUARD_DOCTOR_SKIP_DOCKER === '1';
const RUN = `${process.pid}-${Date.now().toString(36)}`;
const IMAGES: Record<string, string[]> = {
  // A CUDA 12.9 base's gate, as nvidia/cuda 12.9 images spell its first alternative.
  cuda129: ['ENV CUDA_VERSION=12.9.1', 'ENV NVIDIA_REQUIRE_CUDA="cuda>=12.9 brand=tesla,driver>=535,driver<536"'],
  disabled: ['ENV CUDA_VERSION=12.9.1', 'ENV NVIDIA_REQUIRE_CUDA="cuda>=12.9"', 'ENV NVIDIA_DISABLE_REQUIRE=true'],
  legacy: ['ENV CUDA_VERSION=12.9.0'],
  // Values with spaces are quoted, as in the nvidia/cuda Dockerfiles.
  vllm: ['ENV CUDA_VERSION=12.8.1', `ENV NVIDIA_REQUIRE_CUDA="${REQUIRE_CUDA_12_8}"`, 'ENV TORCH_CUDA_ARCH_LIST="9.0 10.0"'],
};
const ref = (name: string) => `guard-doctor-test/gate-${name}:${RUN}`;
const work = mkdtempSync(path.join(os.tmpdir(), 'gd-gate-'));
const rtx4090 = { FAKE_NVIDIA_SMI: path.join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'rtx4090') };

async function gpuChecks(image: string) {
  const result = await runCli(['check', '--json', '--image', image, '--probe-timeout', '60'], { env: rtx4090, timeoutMs: 120_000 });
  expect(result.json, result.stderr).toBeDefined();
  return Object.fromEntries((result.json.checks as { id: string }[]).filter((c) => c.id.startsWith('gpu.')).map((c) => [c.id, c])) as unknown as Record<
    string,
    { status: string; summary: string; fix?: string; measured?: Record<string, unknown> }
  >;
}

describe.skipIf(skip)('the start gate of local images (docker import --change ENV ...)', () => {
  beforeAll(async () => {
    // An inspect-only image needs a root file system of one file.
    writeFileSync(path.join(work, 'README'), 'guard-doctor gate test image: never run\n');
    await execa('tar', ['-cf', path.join(work, 'root.tar'), '-C', work, 'README'], { timeout: 30_000 });
    for (const [name, env] of Object.entries(IMAGES)) {
      await execa('docker', ['import', ...env.flatMap((e) => ['--change', e]), path.join(work, 'root.tar'), ref(name)], { timeout: 120_000 });
    }
  }, 300_000);

  afterAll(async () => {
    await execa('docker', ['rmi', '-f', ...Object.keys(IMAGES).map(ref)], { reject: false, timeout: 60_000 });
    rmSync(work, { recursive: true, force: true });
  });

  it("refuses a driver below the image's NVIDIA_REQUIRE_CUDA in nvidia-container-cli's words", async () => {
    const gpu = await gpuChecks(ref('cuda129'));
    expect(gpu['gpu.driver']).toMatchObject({ status: 'fail', measured: { gate: 'image', cuda: '12.9.1', cudaSource: 'image', unsatisfied: 'cuda>=12.9' } });
    expect(gpu['gpu.driver']!.summary).toContain(
      'nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.9, please update your driver to a newer version, or use an earlier cuda container',
    );
    expect(gpu['gpu.driver']!.fix).toContain('update the NVIDIA driver to 575.51.03 or newer');
  }, 180_000);

  it('skips the gate when the image sets NVIDIA_DISABLE_REQUIRE, judging by the driver table', async () => {
    const gpu = await gpuChecks(ref('disabled'));
    expect(gpu['gpu.driver']).toMatchObject({ status: 'warn', measured: { gate: 'disabled', cuda: '12.9.1' } });
    expect(gpu['gpu.driver']!.summary).toContain('minor-version compatibility');
  }, 180_000);

  it('derives cuda>=X.Y from CUDA_VERSION for an image without NVIDIA_REQUIRE_CUDA, as the toolkit does', async () => {
    const gpu = await gpuChecks(ref('legacy'));
    expect(gpu['gpu.driver']).toMatchObject({ status: 'fail', measured: { unsatisfied: 'cuda>=12.9' } });
  }, 180_000);

  it("reads the compiled architectures from the image's environment where it has them", async () => {
    const gpu = await gpuChecks(ref('vllm'));
    expect(gpu['gpu.driver']!.status).toBe('pass');
    expect(gpu['gpu.compute-capability']).toMatchObject({ status: 'fail', measured: { imageArchList: ['9.0', '10.0'], imageArchListSource: 'image' } });
    expect(gpu['gpu.compute-capability']!.summary).toContain('no kernel image is available for execution on the device');
  }, 180_000);
});
