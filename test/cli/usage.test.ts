/** The command line as a user meets it: help, version, and bad input (exit 2, no stack trace). */
import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import pkg from '../../package.json' with { type: 'json' };

function expectCleanUsageError(result: { exitCode: number; stdout: string; stderr: string }, ...fragments: RegExp[]) {
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe('');
  for (const fragment of fragments) expect(result.stderr).toMatch(fragment);
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
}

describe('guard-doctor command line', () => {
  it('prints the version', async () => {
    const result = await runCli(['--version']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toBe(pkg.version);
  });

  it('reports the same version in its JSON document (the bundle reads package.json from its lazy chunks too)', async () => {
    const result = await runCli(['diagnose', '--json'], { input: 'nothing to see here\n' });
    expect(result.json).toMatchObject({ tool: 'guard-doctor', version: pkg.version });
  });

  it('has --help for every command of the contract', async () => {
    for (const command of ['check', 'up', 'warm', 'suite', 'diagnose', 'down', 'metrics', 'watch']) {
      const result = await runCli([command, '--help']);
      expect(result.exitCode, command).toBe(0);
      expect(result.stdout, command).toContain(`Usage: guard-doctor ${command}`);
    }
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/Exit codes: 0 nothing failed/);
  });

  it('rejects an unknown model, naming the option and the valid names', async () => {
    const result = await runCli(['check', '--model', 'Qwen3Guard-Gen-7B', '--json']);
    expectCleanUsageError(result, /--model: unknown model "Qwen3Guard-Gen-7B"/, /Qwen3Guard-Gen-0\.6B, Qwen3Guard-Gen-4B, Qwen3Guard-Gen-8B/);
  });

  it('rejects a malformed --mount, a non-numeric --gpu and a missing --model-dir', async () => {
    expectCleanUsageError(await runCli(['check', '--mount', '/srv/models']), /--mount: "\/srv\/models" is not HOST_PATH:CONTAINER_PATH/);
    expectCleanUsageError(await runCli(['check', '--gpu', 'first']), /--gpu: "first" is not valid/);
    expectCleanUsageError(await runCli(['check', '--model-dir', '/nonexistent/Qwen3Guard-Gen-8B']), /--model-dir: \/nonexistent\/Qwen3Guard-Gen-8B does not exist/);
  });

  it('rejects unknown options and commands with exit 2', async () => {
    const unknownOption = await runCli(['check', '--modle', 'x']);
    expect(unknownOption.exitCode).toBe(2);
    expect(unknownOption.stderr).toMatch(/unknown option '--modle'/);
    const unknownCommand = await runCli(['chekc']);
    expect(unknownCommand.exitCode).toBe(2);
    expect(unknownCommand.stderr).toMatch(/unknown command 'chekc'/);
  });

  it('reads guard-doctor.config.json from the working folder and names a bad field', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-cli-config-'));
    await writeFile(path.join(dir, 'guard-doctor.config.json'), JSON.stringify({ model: 'Qwen3Guard-Gen-9B' }));
    expectCleanUsageError(await runCli(['check', '--json'], { cwd: dir }), /config field "model": unknown model "Qwen3Guard-Gen-9B"/);
    await writeFile(path.join(dir, 'other.json'), '{"gpu": "zero"}');
    expectCleanUsageError(await runCli(['check', '--config', 'other.json'], { cwd: dir }), /config field "gpu": "zero" is not valid/);
    await writeFile(path.join(dir, 'broken.json'), '{');
    expectCleanUsageError(await runCli(['check', '--config', 'broken.json'], { cwd: dir }), /broken\.json is not valid JSON/);
  });
});
