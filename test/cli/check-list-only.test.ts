/**
 * `check --list-checks` prints every check id per command (group, id, title), and
 * `check --only GROUP|ID` runs only those checks, gathering only the facts they need.
 * The hosts: recorded nvidia-smi output (H100) replayed by the fake nvidia-smi, a real model
 * folder in a temp dir, and wrappers that log each nvidia-smi / docker call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FAKE_BIN, ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';

const ORDER = ['gpu.driver', 'gpu.compute-capability', 'gpu.vram', 'docker.daemon', 'docker.gpu', 'model.source', 'model.mount', 'model.files', 'model.permissions', 'host.memory', 'port.free'];
const H100 = path.join(ROOT, 'test/fixtures/nvidia-smi/h100');

let dir: string;
let modelArgs: string[];

/**
 * A folder with nvidia-smi and docker that log their arguments to <folder>/<name>.calls: nvidia-smi
 * then replays the fixture; docker answers as a dead daemon (none of these runs needs docker).
 */
async function spyFolder(label: string): Promise<{ bin: string; calls(name: string): Promise<string[]> }> {
  const bin = path.join(dir, label);
  await mkdir(bin, { recursive: true });
  await writeFile(path.join(bin, 'nvidia-smi'), `#!/bin/sh\necho "$*" >> "${bin}/nvidia-smi.calls"\nexec "${FAKE_BIN}/nvidia-smi" "$@"\n`);
  await writeFile(path.join(bin, 'docker'), `#!/bin/sh\necho "$*" >> "${bin}/docker.calls"\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\nexit 1\n`);
  await chmod(path.join(bin, 'nvidia-smi'), 0o755);
  await chmod(path.join(bin, 'docker'), 0o755);
  const calls = async (name: string) => {
    const file = path.join(bin, `${name}.calls`);
    return existsSync(file) ? (await readFile(file, 'utf8')).trim().split('\n') : [];
  };
  return { bin, calls };
}

const ids = (result: CliResult) => (result.json.checks as { id: string }[]).map((c) => c.id);

beforeAll(async () => {
  dir = await tempDir('gd-only-');
  await writeModelFolder(path.join(dir, 'Qwen3Guard-Gen-4B'), { size: '4B' });
  modelArgs = ['--model', 'Qwen3Guard-Gen-4B', '--model-dir', path.join(dir, 'Qwen3Guard-Gen-4B'), '--port', '18941'];
});

afterAll(removeTempDirs);

describe('check --list-checks', () => {
  let human: CliResult;
  let json: CliResult;
  beforeAll(async () => {
    [human, json] = await Promise.all([runCli(['check', '--list-checks']), runCli(['check', '--list-checks', '--json'])]);
  });

  it('prints the check table first, in report order, with group and title, and exits 0 without probing', () => {
    expect(human.exitCode).toBe(0);
    expect(human.stderr).toBe('');
    const lines = human.stdout.split('\n');
    const start = lines.indexOf('check (--only takes a group or an id of this table)');
    expect(start).toBeGreaterThan(0);
    expect(lines.slice(start + 2, start + 2 + ORDER.length).map((l) => l.trim().split(/\s+/)[1])).toEqual(ORDER);
    expect(lines[start + 2]).toMatch(/^  gpu\s+gpu\.driver\s+NVIDIA driver$/);
    expect(lines[start + 2 + ORDER.length - 1]).toMatch(/^  port\s+port\.free\s+Host port$/);
  });

  it('lists the ids of every other command too: up, warm, suite, metrics, watch', () => {
    for (const heading of ['up: the check table, then', 'warm', 'suite', 'metrics', 'fleet (any command with --host; docker.host when DOCKER_HOST points elsewhere)', 'watch']) expect(human.stdout.split('\n')).toContain(heading);
    for (const id of ['container.name', 'server.ready', 'server.warm', 'server.suite', 'metrics.reconcile.requests', 'metrics.scrape', 'metrics.exposure', 'watch.sampling', 'watch.gpu.<index>']) {
      expect(human.stdout).toMatch(new RegExp(`^  \\S+\\s+${id.replace(/[.<>]/g, '\\$&')}\\s+\\S`, 'm'));
    }
    expect(human.stdout.trim().split('\n').at(-1)).toBe('32 check ids in 7 tables exit 0');
  });

  it('--json: one document with a table per command; up begins with the check table', () => {
    expect(json.exitCode).toBe(0);
    expect(json.json).toMatchObject({ schemaVersion: 1, tool: 'guard-doctor', command: 'check', ok: true, exitCode: 0 });
    const tables = json.json.tables as Record<string, { group: string; id: string; title: string }[]>;
    expect(Object.keys(tables)).toEqual(['check', 'up', 'warm', 'suite', 'metrics', 'fleet', 'watch']);
    expect(tables.check!.map((e) => e.id)).toEqual(ORDER);
    expect(tables.up!.slice(0, ORDER.length)).toEqual(tables.check);
    expect(tables.warm).toEqual([
      { group: 'server', id: 'server.ready', title: 'Server answers' },
      { group: 'server', id: 'server.warm', title: 'Warm-up requests' },
    ]);
    for (const e of Object.values(tables).flat()) expect(e.id.startsWith(`${e.group}.`), e.id).toBe(true);
  });
});

describe('check --only', () => {
  it('a group: only its checks, in table order, and the footer counts only them', async () => {
    const [json, human] = await Promise.all([
      runCli(['check', ...modelArgs, '--only', 'model', '--json']),
      runCli(['check', ...modelArgs, '--only', 'model']),
    ]);
    expect(ids(json)).toEqual(['model.source', 'model.mount', 'model.files', 'model.permissions']);
    // With a folder the source is `dir`: model.source has nothing to judge and says so.
    expect(json.json.checks.map((c: { status: string }) => c.status)).toEqual(['skip', 'pass', 'pass', 'pass']);
    expect(json.exitCode).toBe(0);
    expect(human.exitCode).toBe(0);
    expect(human.stdout.trim().split('\n').at(-1)).toBe('3 passed, 1 skipped (4 checks) exit 0');
  });

  it('ids and groups, repeatable or comma-separated, in table order whatever order they are given', async () => {
    const [commas, repeated] = await Promise.all([
      runCli(['check', ...modelArgs, '--json', '--only', 'port.free,gpu.vram'], { env: { FAKE_NVIDIA_SMI: H100 } }),
      runCli(['check', ...modelArgs, '--json', '--only', 'port.free', '--only', 'gpu.vram'], { env: { FAKE_NVIDIA_SMI: H100 } }),
    ]);
    expect(ids(commas)).toEqual(['gpu.vram', 'port.free']);
    expect(ids(repeated)).toEqual(['gpu.vram', 'port.free']);
    expect(commas.json.checks[0]).toMatchObject({ id: 'gpu.vram', status: 'pass', measured: { name: 'NVIDIA H100 80GB HBM3' } });
  });

  it('gathers only the facts the chosen checks need: no nvidia-smi for --only model, no docker for --only gpu.vram', async () => {
    const [forModel, forVram] = await Promise.all([spyFolder('spy-model'), spyFolder('spy-vram')]);
    const [model, vram] = await Promise.all([
      runCli(['check', ...modelArgs, '--json', '--only', 'model'], { env: { FAKE_NVIDIA_SMI: H100 }, pathPrepend: [forModel.bin] }),
      runCli(['check', ...modelArgs, '--json', '--only', 'gpu.vram'], { env: { FAKE_NVIDIA_SMI: H100 }, pathPrepend: [forVram.bin] }),
    ]);
    expect(model.exitCode).toBe(0);
    expect(await forModel.calls('nvidia-smi')).toEqual([]);
    expect(await forModel.calls('docker')).toEqual([]);

    expect(ids(vram)).toEqual(['gpu.vram']);
    expect(vram.exitCode).toBe(0);
    expect((await forVram.calls('nvidia-smi'))[0]).toMatch(/^--query-gpu=/);
    expect(await forVram.calls('docker')).toEqual([]);
  });

  it('an unknown group or id: exit 2 before any probe, naming --only and listing the valid groups and ids', async () => {
    const spy = await spyFolder('spy-unknown');
    const result = await runCli(['check', ...modelArgs, '--only', 'gpu,gpu.ram'], { pathPrepend: [spy.bin] });
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('guard-doctor: --only: unknown group or check id "gpu.ram". Valid groups: gpu, docker, model, host, port; valid ids: gpu.driver, gpu.compute-capability, gpu.vram,');
    expect(result.stderr).toContain('port.free (guard-doctor check --list-checks shows them with titles)');
    expect(await spy.calls('nvidia-smi')).toEqual([]);
    expect(await spy.calls('docker')).toEqual([]);
  });

  it('an id of another command: says which commands report it', async () => {
    const result = await runCli(['check', '--only', 'server.ready', '--json']);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('"server.ready" (server.ready is reported by up, warm, not by check)');
  });

  it('an empty name: exit 2 with an example', async () => {
    const result = await runCli(['check', '--only', 'gpu,']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--only: an empty name; give a group or a check id, e.g. --only gpu or --only gpu.vram,port.free');
  });
});
