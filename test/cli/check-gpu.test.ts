/**
 * `guard-doctor check` as a user runs it (the built program), on recorded GPU hosts replayed
 * by the fake nvidia-smi. Other checks (docker, model, host, port) judge this machine, so the
 * assertions are on the gpu.* entries, and on the exit code only where it follows from them.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { ROOT, runCli, type CliResult } from '../helpers/cli.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi');
const FAKE_DOCKER = path.join(ROOT, 'test', 'helpers', 'fake-docker');
const hostEnv = (name: string) => ({ FAKE_NVIDIA_SMI: path.join(FIXTURES, name) });

interface CheckEntry {
  id: string;
  status: string;
  summary: string;
  fix?: string;
  measured?: Record<string, unknown>;
}

function gpuChecks(result: CliResult): Record<string, CheckEntry> {
  expect(result.json, `stdout is one JSON document; stderr: ${result.stderr}`).toBeDefined();
  const entries = (result.json.checks as CheckEntry[]).filter((c) => c.id.startsWith('gpu.'));
  return Object.fromEntries(entries.map((c) => [c.id, c]));
}

/** The exit code CONTRACT.md prescribes for these check results. */
function expectedExit(checks: CheckEntry[]): number {
  if (checks.some((c) => c.status === 'fail')) return 1;
  if (checks.some((c) => c.status === 'error')) return 3;
  return 0;
}

describe('guard-doctor check on GPU hosts', () => {
  it('RTX 3090 + Qwen3Guard-Gen-8B: gpu.vram fails with the numbers and a way out, exit 1', async () => {
    const result = await runCli(['check', '--json'], { env: hostEnv('rtx3090') });
    const gpu = gpuChecks(result);
    expect(gpu['gpu.vram']).toMatchObject({
      status: 'fail',
      summary: 'GPU 0 has 22.1 GiB free of 24 GiB; Qwen3Guard-Gen-8B needs at least 26 GiB at --max-model-len 32768',
      fix: 'start with --max-model-len 16384; or use --model Qwen3Guard-Gen-4B (needs 16 GiB, not 26 GiB)',
      measured: { gpu: 0, freeMiB: 22630, requiredMiB: 26624 },
    });
    expect(gpu['gpu.compute-capability']!.status).toBe('pass');
    expect(result.exitCode).toBe(1);
    expect(result.json).toMatchObject({ schemaVersion: 1, tool: 'guard-doctor', command: 'check', ok: false, exitCode: 1 });
    expect(result.json.summary.fail).toBeGreaterThanOrEqual(1);
  });

  it('prints the same verdict for people: a mark, the found values and a fix line', async () => {
    const result = await runCli(['check'], { env: hostEnv('rtx3090') });
    expect(result.exitCode).toBe(1);
    const lines = result.stdout.split('\n').concat(result.stderr.split('\n'));
    const at = lines.findIndex((l) => /gpu\.vram/.test(l));
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines[at]).toContain('GPU 0 has 22.1 GiB free of 24 GiB; Qwen3Guard-Gen-8B needs at least 26 GiB');
    expect(lines[at + 1]).toContain('fix: start with --max-model-len 16384');
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/at .+\.js:\d+/);
  });

  it('H100: the three GPU checks pass', async () => {
    const result = await runCli(['check', '--json'], { env: hostEnv('h100') });
    const gpu = gpuChecks(result);
    expect(Object.keys(gpu).sort()).toEqual(['gpu.compute-capability', 'gpu.driver', 'gpu.vram']);
    for (const check of Object.values(gpu)) expect(check.status, check.summary).toBe('pass');
    expect(gpu['gpu.driver']!.summary).toContain('driver 570.124.06');
    expect(result.exitCode).toBe(expectedExit(result.json.checks));
  });

  it('no driver: gpu.driver fails with the NVIDIA-SMI message and what to install', async () => {
    const result = await runCli(['check', '--json'], { env: hostEnv('no-driver') });
    const gpu = gpuChecks(result);
    expect(gpu['gpu.driver']!.status).toBe('fail');
    expect(gpu['gpu.driver']!.summary).toContain("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver");
    expect(gpu['gpu.driver']!.fix).toContain('the NVIDIA driver (>= 570.124.06 for CUDA 12.8.1)');
    // One cause, one failure: the checks that need a GPU inventory say so instead of failing too.
    for (const id of ['gpu.compute-capability', 'gpu.vram']) expect(gpu[id]).toMatchObject({ status: 'skip', summary: 'needs gpu.driver', measured: { blockedBy: 'gpu.driver' } });
    expect(result.exitCode).toBe(1);
  });

  it('470 driver: capability from the name table; a datacenter A100 starts the CUDA 12.8 image only through the 470 brand rule (warn)', async () => {
    const result = await runCli(['check', '--json'], { env: hostEnv('driver-470') });
    const gpu = gpuChecks(result);
    expect(gpu['gpu.driver']).toMatchObject({
      status: 'warn',
      measured: { driverVersion: '470.239.06', driverCuda: '11.4', driverCudaSource: 'nvidia-smi', admittedBy: 'brand=unknown,driver>=470,driver<471', nvidiaSmiCalls: 3 },
    });
    expect(gpu['gpu.driver']!.summary).toContain('through CUDA forward compatibility');
    expect(gpu['gpu.compute-capability']).toMatchObject({ status: 'pass', measured: { computeCapability: '8.0', source: 'name-table' } });
  });

  it('470 driver with the web image (no gate known): below even the minor-version floor of CUDA 12.1', async () => {
    const result = await runCli(['check', '--json', '--server', 'web', '--image', 'example/qwen3guard-web:1'], { env: hostEnv('driver-470') });
    const gpu = gpuChecks(result);
    expect(gpu['gpu.driver']).toMatchObject({ status: 'fail', measured: { driverVersion: '470.239.06', requiredDriver: '530.30.02', compatibilityFloor: '525.60.13', gate: 'unknown' } });
  });

  it('nvidia-smi missing: gpu.driver says so', async () => {
    const result = await runCli(['check', '--json'], { env: { FAKE_NVIDIA_SMI: undefined } });
    const gpu = gpuChecks(result);
    expect(gpu['gpu.driver']).toMatchObject({ status: 'fail', summary: expect.stringContaining('no NVIDIA driver: nvidia-smi is not on PATH') });
    for (const id of ['gpu.compute-capability', 'gpu.vram']) expect(gpu[id]).toMatchObject({ status: 'skip', summary: 'needs gpu.driver' });
  });

  it('--gpu names a GPU that is not there: the indexes that are', async () => {
    const result = await runCli(['check', '--json', '--gpu', '5'], { env: hostEnv('two-a100-one-busy') });
    const gpu = gpuChecks(result);
    expect(gpu['gpu.vram']).toMatchObject({ status: 'fail', summary: '--gpu 5: there is no GPU 5; this host has GPUs 0, 1' });
    expect(result.exitCode).toBe(1);
  });

  it('two GPUs, one busy: the idle one is chosen; --gpu 0 fails and names --gpu 1', async () => {
    const chosen = gpuChecks(await runCli(['check', '--json'], { env: hostEnv('two-a100-one-busy') }));
    expect(chosen['gpu.vram']).toMatchObject({ status: 'pass', measured: { gpu: 1 } });
    const pinned = gpuChecks(await runCli(['check', '--json', '--gpu', '0'], { env: hostEnv('two-a100-one-busy') }));
    expect(pinned['gpu.vram']!.status).toBe('fail');
    expect(pinned['gpu.vram']!.fix).toMatch(/^use --gpu 1 \(NVIDIA A100-SXM4-40GB, 39\.5 GiB free\)/);
  });

  it('--cpu: the GPU checks are skipped, not passed', async () => {
    const result = await runCli(['check', '--json', '--cpu'], { env: hostEnv('no-driver') });
    const gpu = gpuChecks(result);
    for (const check of Object.values(gpu)) expect(check).toMatchObject({ status: 'skip', summary: 'serving on CPU (--cpu): no GPU is used' });
  });

  it('a hung nvidia-smi under --probe-timeout 1: gpu.driver could not tell, the others need it, exit 3 when nothing else failed', async () => {
    // docker hangs too, so no check on this machine can fail: every problem is a probe that ran over.
    const result = await runCli(['check', '--json', '--probe-timeout', '1', '--port', '47211'], {
      env: { ...hostEnv('h100'), FAKE_NVIDIA_SMI_HANG: '1', FAKE_DOCKER_SLEEP: '30' },
      pathPrepend: [FAKE_DOCKER],
    });
    const gpu = gpuChecks(result);
    expect(gpu['gpu.driver']!.status).toBe('error');
    expect(gpu['gpu.driver']!.summary).toContain('nvidia-smi did not answer within 1 s');
    // The same time-out is one cause: the checks that needed the same facts name gpu.driver, and
    // -v shows what they would have said.
    for (const id of ['gpu.compute-capability', 'gpu.vram']) {
      expect(gpu[id]).toMatchObject({ status: 'skip', summary: 'needs gpu.driver' });
      expect((gpu[id] as CheckEntry & { details: string[] }).details[0]).toContain('nvidia-smi did not answer within 1 s');
    }
    const failed = (result.json.checks as CheckEntry[]).filter((c) => c.status === 'fail');
    expect(result.exitCode, `failed: ${failed.map((c) => `${c.id}: ${c.summary}`).join('; ')}`).toBe(failed.length ? 1 : 3);
    expect(result.exitCode).toBe(expectedExit(result.json.checks));
  });
});
