/**
 * `guard-doctor check` on real hosts: every folder of test/fixtures/nvidia-smi/real/ (real
 * nvidia-smi output from public issues and repositories, each with its source and the verdicts
 * the real container runtime and vLLM would give, in host.json "expect") and the six real hosts
 * of ../shared/conformance/nvidia-smi/. Each folder's `nvidia-smi` replay goes first on PATH; the
 * built CLI runs `check --json` as a user would; the GPU verdicts must be the expected ones.
 *
 * GD_REAL_NVIDIA_SMI=<folder> points the corpus part at another copy of the real/ folder.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';

type Status = 'pass' | 'warn' | 'fail' | 'error' | 'skip';
const GPU_CHECKS = ['gpu.driver', 'gpu.compute-capability', 'gpu.vram'] as const;

const CORPUS = process.env.GD_REAL_NVIDIA_SMI ?? path.join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'real');
const CONFORMANCE = path.join(ROOT, '..', 'shared', 'conformance', 'nvidia-smi');

function hostFolders(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => statSync(path.join(root, name)).isDirectory() && existsSync(path.join(root, name, 'host.json')) && existsSync(path.join(root, name, 'nvidia-smi')))
    .sort()
    .map((name) => path.join(root, name));
}

/**
 * What starting the real container and vLLM would do on the six conformance hosts with the pinned
 * default image (vllm/vllm-openai:v0.11.0: CUDA 12.8.1, gate `cuda>=12.8` or a non-GeForce brand on
 * the 470/535/550/560/565 branches) and Qwen3Guard-Gen-8B (26 GiB).
 */
const CONFORMANCE_EXPECT: Record<string, Partial<Record<(typeof GPU_CHECKS)[number], Status>> & { why: string }> = {
  '01-a100-sxm4-80gb-x4-r555': {
    'gpu.driver': 'fail',
    'gpu.compute-capability': 'pass',
    'gpu.vram': 'pass',
    why: '555 (CUDA 12.5) is below cuda>=12.8 and 555 is no branch of the brand rules: the image refuses to start',
  },
  '02-h100-sxm-80gb-x8-r565': {
    'gpu.driver': 'warn',
    'gpu.compute-capability': 'pass',
    'gpu.vram': 'pass',
    why: 'CUDA 12.7 < 12.8, but brand=unknown,driver>=565,driver<566 admits the H100 through forward compatibility',
  },
  '03-l40s-r550': { 'gpu.driver': 'warn', 'gpu.compute-capability': 'pass', 'gpu.vram': 'pass', why: 'forward compatibility on 550 (datacenter brand); 44.5 GiB free' },
  '04-l4-r550': { 'gpu.driver': 'warn', 'gpu.compute-capability': 'pass', 'gpu.vram': 'fail', why: 'forward compatibility on 550; 22 GiB free < 26 GiB' },
  '05-rtx3090-x2-r560': { 'gpu.driver': 'fail', 'gpu.compute-capability': 'pass', 'gpu.vram': 'fail', why: 'GeForce on 560: no brand rule, cuda>=12.8 unsatisfied' },
  '06-rtx4090-x8-r550': { 'gpu.driver': 'fail', 'gpu.compute-capability': 'pass', 'gpu.vram': 'fail', why: 'GeForce on 550: no brand rule, cuda>=12.8 unsatisfied' },
};

interface Verdicts {
  statuses: Record<string, string>;
  checks: Record<string, { status: string; summary: string; fix?: string; measured?: Record<string, unknown> }>;
  calls: string[][];
  exitCode: number;
  output: string;
}

async function checkOn(folder: string, extraArgs: string[] = []): Promise<Verdicts> {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'gd-real-'));
  const log = path.join(logDir, 'calls.jsonl');
  try {
    // A generous probe limit: the replays are node scripts, slow to start on a loaded machine.
    const result = await runCli(['check', '--json', '--probe-timeout', '60', ...extraArgs], { pathPrepend: [folder], env: { REPLAY_LOG: log, FAKE_NVIDIA_SMI_LOG: log }, timeoutMs: 120_000 });
    expect(result.json, `check --json printed one JSON document; stderr: ${result.stderr}`).toBeDefined();
    const checks = Object.fromEntries((result.json.checks as { id: string }[]).filter((c) => c.id.startsWith('gpu.')).map((c) => [c.id, c])) as unknown as Verdicts['checks'];
    const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : [];
    return {
      statuses: Object.fromEntries(Object.entries(checks).map(([id, c]) => [id, c.status])),
      checks,
      calls,
      exitCode: result.exitCode,
      output: `${result.stdout}${result.stderr}`,
    };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

function expectVerdicts(got: Verdicts, expected: Record<string, unknown>, label: string): void {
  const wanted = Object.fromEntries(GPU_CHECKS.filter((id) => typeof expected[id] === 'string').map((id) => [id, expected[id]]));
  const seen = Object.fromEntries(Object.keys(wanted).map((id) => [id, got.statuses[id]]));
  const why = typeof expected.why === 'string' ? expected.why : '';
  expect(seen, `${label}: ${why}\n${GPU_CHECKS.map((id) => `${id}: ${got.checks[id]?.status} ${got.checks[id]?.summary}`).join('\n')}`).toEqual(wanted);
  // Whatever the host printed, the user never sees a stack trace.
  expect(got.output).not.toMatch(/\n\s+at .+\.(js|ts):\d+/);
  // A host whose GPU verdicts fail never exits 0.
  if (Object.values(got.statuses).includes('fail')) expect(got.exitCode).toBe(1);
}

const corpus = hostFolders(CORPUS);
const conformance = hostFolders(CONFORMANCE);

// The corpora are part of the repository (and ../shared beside it, as CI lays it): a missing one fails, never skips.
describe(`real hosts of ${path.relative(ROOT, CORPUS) || CORPUS}`, () => {
  it('holds the 20+ real hosts issue 8 asks for, and the six conformance hosts are beside the repository', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(20);
    expect(conformance.length).toBe(6);
  });

  it.each(corpus.map((folder) => [path.basename(folder), folder]))('%s', async (_name, folder) => {
    const host = JSON.parse(readFileSync(path.join(folder, 'host.json'), 'utf8')) as { expect?: Record<string, unknown>; source?: string };
    expect(host.source, 'every real host names its source').toMatch(/\S/);
    expect(host.expect, 'every real host states the verdicts it must get').toBeDefined();
    const got = await checkOn(folder);
    expectVerdicts(got, host.expect!, path.basename(folder));
  });
});

const corpusHost = (prefix: string) => corpus.find((f) => path.basename(f).startsWith(prefix));

describe('what the key real hosts tell the user', () => {
  it('a GPU fallen off the bus is reported even when the user picks another GPU', async () => {
    const got = await checkOn(corpusHost('01-')!, ['--gpu', '3']);
    expect(got.checks['gpu.driver']).toMatchObject({ status: 'fail', summary: expect.stringContaining('Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error') });
    expect(got.exitCode).toBe(1);
  });

  it('a MIG slice too small for the model fails and names the MIG profile that fits', async () => {
    const got = await checkOn(corpusHost('14-')!, ['--gpu', '0']);
    expect(got.checks['gpu.vram']!.status).toBe('fail');
    expect(got.checks['gpu.vram']!.summary).toMatch(/^GPU 0 MIG (1g\.10gb )?device \d+ has/);
    expect(got.checks['gpu.vram']!.fix).toMatch(/create a (3g\.20gb|4g\.20gb|7g\.40gb) MIG instance|disable MIG on GPU 0/);
  });

  it('an NVML driver/library mismatch says reboot, not "install a driver"', async () => {
    const got = await checkOn(corpusHost('07-')!);
    expect(got.checks['gpu.driver']!.summary).toContain('NVIDIA driver/library version mismatch');
    expect(got.checks['gpu.driver']!.fix).toMatch(/^reboot, or reload the nvidia kernel modules/);
  });
});

describe('the six conformance hosts (../shared/conformance/nvidia-smi)', () => {
  it.each(Object.keys(CONFORMANCE_EXPECT))('%s', async (name) => {
    const folder = conformance.find((f) => path.basename(f) === name);
    expect(folder, `${name} is in ${CONFORMANCE}`).toBeDefined();
    const got = await checkOn(folder!);
    expectVerdicts(got, CONFORMANCE_EXPECT[name]!, name);
    if (got.statuses['gpu.driver'] === 'fail') {
      expect(got.checks['gpu.driver']!.summary).toContain('nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8');
      expect(got.checks['gpu.driver']!.fix).toContain('update the NVIDIA driver to 570.124.06 or newer');
    }
    // One --query-gpu, and -q only because these drivers are older than the image's CUDA (the brand decides).
    expect(got.calls.map((c) => c[0])).toEqual([expect.stringMatching(/^--query-gpu=/), '-q']);
  });

  it('asks nvidia-smi once on a healthy host whose driver the image needs no brand for', async () => {
    const folder = conformance.find((f) => path.basename(f) === '02-h100-sxm-80gb-x8-r565')!;
    const got = await checkOn(folder, ['--image', 'example/custom:1', '--cuda', '12.4']);
    expect(got.calls).toHaveLength(1);
    expect(got.checks['gpu.driver']!.measured).toMatchObject({ driverCudaSource: 'derived', nvidiaSmiCalls: 1 });
  });
});
