/**
 * What a user and a CI system see from `check` on a realistic unhealthy host: an RTX 3090
 * (recorded-format nvidia-smi), an 8B folder spelled in lower case, and this machine's Docker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';

const ORDER = ['gpu.driver', 'gpu.compute-capability', 'gpu.vram', 'docker.daemon', 'docker.gpu', 'model.source', 'model.mount', 'model.files', 'model.permissions', 'host.memory', 'port.free'];
const RTX3090 = path.join(ROOT, 'test/fixtures/nvidia-smi/rtx3090');

let dir: string;
let human: CliResult;
let json: CliResult;
let junitXml: string;
let summaryMd: string;

beforeAll(async () => {
  dir = await tempDir('gd-check-report-');
  await writeModelFolder(path.join(dir, 'models', 'qwen3guard-gen-8b'), { size: '8B' });
  const mount = ['--mount', `${path.join(dir, 'models')}:/models`, '--port', '18931'];
  const env = { FAKE_NVIDIA_SMI: RTX3090 };
  const junit = path.join(dir, 'reports', 'check.xml');
  const summary = path.join(dir, 'summary.md');
  [human, json] = await Promise.all([
    runCli(['check', ...mount], { env }),
    runCli(['check', ...mount, '--json', '--junit', junit], { env: { ...env, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary } }),
  ]);
  junitXml = await readFile(junit, 'utf8');
  summaryMd = await readFile(summary, 'utf8');
});

afterAll(removeTempDirs);

describe('check on an RTX 3090 with the folder in the wrong case', () => {
  it('prints every check once, in the fixed order, with a mark, and exits 1', () => {
    expect(human.exitCode).toBe(1);
    const lines = human.stdout.split('\n');
    const positions = ORDER.map((id) => lines.findIndex((l) => new RegExp(`^  [✓!✗?-] ${id.replace('.', '\\.')} `).test(l)));
    expect(positions.every((p) => p > 0), human.stdout).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('gives failing checks a fix line right under them, with numbers that would work', () => {
    const lines = human.stdout.split('\n');
    const vram = lines.findIndex((l) => l.includes('✗ gpu.vram'));
    expect(lines[vram]).toContain('GPU 0 has 22.1 GiB free of 24 GiB; Qwen3Guard-Gen-8B needs at least 26 GiB');
    expect(lines[vram + 1]).toMatch(/^\s+fix: .*--max-model-len \d+.*Qwen3Guard-Gen-4B/);
    const mount = lines.findIndex((l) => l.includes('✗ model.mount'));
    expect(lines[mount]).toContain('"qwen3guard-gen-8b"');
    expect(lines[mount + 1]).toMatch(/fix: rename it: mv .*qwen3guard-gen-8b .*Qwen3Guard-Gen-8B/);
  });

  it('ends with a footer that counts the results and names the exit code', () => {
    const footer = human.stdout.trim().split('\n').at(-1)!;
    expect(footer).toMatch(/^\d+ failed, .*\d+ passed.* \(11 checks\) exit 1$/);
  });

  it('prints no colour codes under NO_COLOR, and no progress on stdout', () => {
    expect(human.stdout).not.toMatch(/\x1b\[/);
    expect(human.stdout.startsWith('guard-doctor check: Qwen3Guard-Gen-8B served by vllm')).toBe(true);
  });

  it('--json: one document, the same checks in the same order, the same exit code', () => {
    expect(json.exitCode).toBe(1);
    expect(json.json).toMatchObject({ schemaVersion: 1, tool: 'guard-doctor', command: 'check', ok: false, exitCode: 1 });
    expect(json.json.checks.map((c: { id: string }) => c.id)).toEqual(ORDER);
    const vram = json.json.checks.find((c: { id: string }) => c.id === 'gpu.vram');
    expect(vram).toMatchObject({ status: 'fail', measured: { gpu: 0, freeMiB: 22630, requiredMiB: 26624 } });
    const counted = json.json.checks.reduce((n: Record<string, number>, c: { status: string }) => ({ ...n, [c.status]: (n[c.status] ?? 0) + 1 }), {});
    expect(json.json.summary).toMatchObject(counted);
  });

  it('--junit: a testcase per check with classname and name; failures carry the summary and the fix', () => {
    for (const id of ORDER) expect(junitXml).toMatch(new RegExp(`<testcase classname="guard-doctor\\.checks\\.${id.split('.')[0]}" name="${id.replace('.', '\\.')}"`));
    expect(junitXml).toMatch(/<testcase [^>]*name="gpu\.vram"[^>]*>\s*<failure message="GPU 0 has 22\.1 GiB free/);
    expect(junitXml).toMatch(/fix: start with --max-model-len/);
    expect(junitXml).toMatch(/<testsuite name="guard-doctor check: checks" tests="11" failures="[1-9]/);
  });

  it('under GitHub Actions: annotations on stderr (stdout stays JSON) and a Markdown step summary', () => {
    expect(json.stderr).toMatch(/^::error title=guard-doctor gpu\.vram::GPU 0 has 22\.1 GiB free/m);
    // A GeForce card on driver 550: the image's own start gate refuses it (issue 8), so an error, not a warning.
    expect(json.stderr).toMatch(/^::error title=guard-doctor gpu\.driver::.*unsatisfied condition: cuda>=12\.8/m);
    expect(json.stderr).not.toMatch(/::error title=guard-doctor model\.files/);
    expect(summaryMd).toMatch(/^### guard-doctor check: exit 1/);
    expect(summaryMd).toMatch(/\| ❌ \| `gpu\.vram` \| GPU 0 has 22\.1 GiB free/);
  });
});
