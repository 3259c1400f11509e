/**
 * One cause, one failure: on a host whose driver does not answer (the recorded "NVIDIA-SMI has
 * failed" output), or without nvidia-smi at all, `check` prints one ✗ (gpu.driver) and the GPU
 * checks that need its facts say "needs gpu.driver"; the footer counts one failure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { ROOT, runCli, type CliResult } from '../helpers/cli.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi');

describe('check --only gpu when the driver does not answer', () => {
  let human: CliResult;
  let verbose: CliResult;
  let missing: CliResult;
  let tooOld: CliResult;

  beforeAll(async () => {
    const noDriver = { FAKE_NVIDIA_SMI: path.join(FIXTURES, 'no-driver') };
    [human, verbose, missing, tooOld] = await Promise.all([
      runCli(['check', '--only', 'gpu'], { env: noDriver }),
      runCli(['check', '--only', 'gpu', '-v'], { env: noDriver }),
      runCli(['check', '--only', 'gpu', '--json'], { env: { FAKE_NVIDIA_SMI: undefined } }),
      runCli(['check', '--only', 'gpu', '--json'], { env: { FAKE_NVIDIA_SMI: path.join(FIXTURES, 'driver-470') } }),
    ]);
  });

  it('prints one ✗ with its fix, and the other GPU checks as skipped: needs gpu.driver', () => {
    expect(human.exitCode).toBe(1);
    const lines = human.stdout.split('\n');
    expect(lines.filter((l) => l.includes('✗'))).toHaveLength(1);
    expect(lines.find((l) => l.includes('✗'))).toMatch(/^  ✗ gpu\.driver\s+no NVIDIA driver answers: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
    expect(lines).toContainEqual(expect.stringMatching(/^  - gpu\.compute-capability\s+skipped: needs gpu\.driver$/));
    expect(lines).toContainEqual(expect.stringMatching(/^  - gpu\.vram\s+skipped: needs gpu\.driver$/));
    expect(human.stdout).not.toContain('no GPU to check');
  });

  it('counts the cause, not its echoes, in the footer', () => {
    expect(human.stdout.trim().split('\n').at(-1)).toBe('1 failed, 0 passed, 2 skipped (3 checks) exit 1');
  });

  it('-v shows what the skipped checks would have said', () => {
    expect(verbose.stdout).toContain('gpu.driver did not pass, so this was not judged: no GPU to check: nvidia-smi cannot reach the driver');
  });

  it('without nvidia-smi: the same in --json, with blockedBy in measured', () => {
    expect(missing.exitCode).toBe(1);
    const checks = missing.json.checks as { id: string; status: string; summary: string; measured?: Record<string, unknown> }[];
    expect(checks.map((c) => [c.id, c.status])).toEqual([['gpu.driver', 'fail'], ['gpu.compute-capability', 'skip'], ['gpu.vram', 'skip']]);
    expect(checks[2]).toMatchObject({ summary: 'needs gpu.driver', measured: { blockedBy: 'gpu.driver' } });
    expect(missing.json.summary).toMatchObject({ fail: 1, skip: 2, pass: 0 });
  });

  it('a driver that answers but does not pass blocks nothing: the GPU is still judged', () => {
    const checks = tooOld.json.checks as { id: string; status: string; measured?: Record<string, unknown> }[];
    // The 470 A100 starts the CUDA 12.8 image only through its brand rule (forward compatibility): a warning.
    expect(checks[0]).toMatchObject({ id: 'gpu.driver', status: 'warn' });
    expect(checks[1]).toMatchObject({ id: 'gpu.compute-capability', status: 'pass', measured: { computeCapability: '8.0' } });
    expect(checks[2]!.status).not.toBe('skip');
  });
});
