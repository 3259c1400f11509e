/**
 * `up --dry-run` prints the exact command `up` would run. Without --gpu that is the GPU the checks
 * judge (the dry run runs the GPU probe for it, nothing else); with --gpu it asks nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi');
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dryRun(fixture: string | null, ...more: string[]) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-dry-'));
  dirs.push(dir);
  const log = path.join(dir, 'calls.jsonl');
  const result = await runCli(['up', '--dry-run', ...more], { env: { FAKE_NVIDIA_SMI: fixture === null ? undefined : path.join(FIXTURES, fixture), FAKE_NVIDIA_SMI_LOG: log } });
  const calls = existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean).length : 0;
  return { ...result, calls };
}

describe('up --dry-run and the GPU', () => {
  it('two A100s, GPU 0 busy: the command starts the server on GPU 1, as up would; only the GPU probe runs', async () => {
    const r = await dryRun('two-a100-one-busy');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/ --gpus device=1 /);
    expect(r.stdout).not.toContain('--gpus all');
    // The GPU probe's own calls: the query, and -q for NVML's brand (this driver needs it for the start gate).
    expect(r.calls).toBe(2);
  });

  it('--gpu 0 is printed as given and nvidia-smi is not asked', async () => {
    const r = await dryRun('two-a100-one-busy', '--gpu', '0');
    expect(r.stdout).toMatch(/ --gpus device=0 /);
    expect(r.calls).toBe(0);
  });

  it('no usable driver: every GPU, and stderr says why no GPU could be chosen', async () => {
    const r = await dryRun('no-driver');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('--gpus all');
    expect(r.stderr).toMatch(/^guard-doctor: no GPU could be chosen \(.+\); the command hands the container every GPU/);
  });

  it('--cpu asks for no GPU at all', async () => {
    const r = await dryRun('two-a100-one-busy', '--cpu');
    expect(r.stdout).not.toContain('--gpus');
    expect(r.calls).toBe(0);
  });
});
