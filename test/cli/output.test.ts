/**
 * "Interactive or CI" and "colour or not" are decided once, in settings (OutputMode), from
 * --json, the terminal, CI/GITHUB_ACTIONS and NO_COLOR/FORCE_COLOR; every command reads that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { resolveOutput } from '../../src/settings.js';
import { ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';

const terminal = { isTTY: true, columns: 120 };
const pipe = { isTTY: false };

describe('the one output decision', () => {
  it('is interactive only for a terminal with a width, outside CI', () => {
    expect(resolveOutput(false, {}, terminal, terminal)).toEqual({ json: false, interactive: true, color: true });
    expect(resolveOutput(false, { CI: 'true' }, terminal, terminal).interactive).toBe(false);
    expect(resolveOutput(false, { GITHUB_ACTIONS: 'true' }, terminal, terminal).interactive).toBe(false);
    expect(resolveOutput(false, {}, terminal, pipe).interactive).toBe(false);
    // Some CI pseudo-terminals say TTY but report no width: ora would print cursor moves forever.
    expect(resolveOutput(false, {}, terminal, { isTTY: true, columns: 0 }).interactive).toBe(false);
    // An empty CI variable is not CI (the test helper and some runners set CI='').
    expect(resolveOutput(false, { CI: '' }, terminal, terminal).interactive).toBe(true);
  });

  it('colours stdout only on a terminal, never with NO_COLOR, and always with FORCE_COLOR', () => {
    expect(resolveOutput(false, {}, pipe, terminal).color).toBe(false);
    expect(resolveOutput(false, { NO_COLOR: '1' }, terminal, terminal).color).toBe(false);
    expect(resolveOutput(false, { NO_COLOR: '1', FORCE_COLOR: '1' }, terminal, terminal).color).toBe(false);
    expect(resolveOutput(false, { FORCE_COLOR: '1' }, pipe, pipe).color).toBe(true);
    expect(resolveOutput(false, { FORCE_COLOR: '0' }, terminal, terminal).color).toBe(false);
  });

  it('keeps --json apart from the terminal question', () => {
    expect(resolveOutput(true, {}, terminal, terminal)).toEqual({ json: true, interactive: true, color: true });
  });
});

describe('check reads the decision', () => {
  let forced: CliResult;
  let noColour: CliResult;
  let ci: CliResult;

  beforeAll(async () => {
    const dir = await tempDir('gd-output-');
    await writeModelFolder(path.join(dir, 'Qwen3Guard-Gen-0.6B'), { size: '0.6B' });
    const args = ['check', '--model', 'Qwen3Guard-Gen-0.6B', '--model-dir', path.join(dir, 'Qwen3Guard-Gen-0.6B'), '--port', '18937'];
    const env = { FAKE_NVIDIA_SMI: path.join(ROOT, 'test/fixtures/nvidia-smi/rtx4090') };
    [forced, noColour, ci] = await Promise.all([
      runCli(args, { env: { ...env, NO_COLOR: undefined, FORCE_COLOR: '1' } }),
      runCli(args, { env: { ...env, NO_COLOR: '1', FORCE_COLOR: '1' } }),
      runCli(args, { env: { ...env, CI: 'true' } }),
    ]);
  });

  afterAll(removeTempDirs);

  it('colours the marks with FORCE_COLOR, and not at all when NO_COLOR is set too', () => {
    expect(forced.stdout).toMatch(/\x1b\[32m✓\x1b\[39m gpu\.driver/);
    expect(noColour.stdout).not.toMatch(/\x1b\[/);
    expect(noColour.stdout.replace(/\d+ ?ms/g, '')).toBe(forced.stdout.replace(/\x1b\[[0-9;]*m/g, '').replace(/\d+ ?ms/g, ''));
  });

  it('prints no progress at all under CI (stderr stays empty)', () => {
    expect(ci.stderr).toBe('');
    expect(ci.stdout).toMatch(/^guard-doctor check: Qwen3Guard-Gen-0\.6B/);
  });
});
