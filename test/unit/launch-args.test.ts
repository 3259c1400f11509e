/**
 * The `docker run` command of `up`: the argument array built from the settings, and the
 * printed copy that a user pastes into a shell. The printed copy is checked by a real POSIX
 * shell: pasted with a stand-in `docker` first on PATH, it must hand over exactly the array
 * `up` runs, whatever the paths hold, and no `--env` value may appear in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { resolveSettings } from '../../src/settings.js';
import { buildRunCommand, renderCommand, redactor } from '../../src/launch/run-args.js';
import { shellQuote } from '../../src/report/format.js';
import { runCli } from '../helpers/cli.js';

let tmp: string;
let fakeBin: string;
let modelDir: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'gd-args-'));
  // A folder name a shell would mangle if it were not quoted.
  modelDir = path.join(tmp, `My "Models" it's $(touch pwned) ü`, 'Qwen3Guard-Gen-4B');
  await mkdir(modelDir, { recursive: true });
  fakeBin = path.join(tmp, 'bin');
  await mkdir(fakeBin);
  // Records its arguments (NUL-separated) and what it got for HF_TOKEN, like docker would read it.
  const recorder = `#!/bin/sh\nfor a in "$@"; do printf '%s\\0' "$a"; done > "${tmp}/args"\nprintf '%s' "\${HF_TOKEN-unset}" > "${tmp}/token"\n`;
  await writeFile(path.join(fakeBin, 'docker'), recorder);
  await writeFile(path.join(fakeBin, 'podman'), recorder);
  await chmod(path.join(fakeBin, 'docker'), 0o755);
  await chmod(path.join(fakeBin, 'podman'), 0o755);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const settingsFor = (flags: Record<string, unknown>) => resolveSettings('up', flags, {}, tmp);

/** Pastes the printed command into sh and returns the arguments the CLI received. */
async function paste(rendered: string, env: Record<string, string> = {}): Promise<{ args: string[]; token: string }> {
  await execa('sh', ['-c', rendered], { cwd: tmp, env: { ...env, PATH: `${fakeBin}:${process.env.PATH}` }, timeout: 10_000 });
  const raw = await readFile(path.join(tmp, 'args'), 'utf8');
  return { args: raw.split('\0').slice(0, -1), token: await readFile(path.join(tmp, 'token'), 'utf8') };
}

describe('the run arguments', () => {
  it('vllm on a chosen GPU: detached, named, labelled, GPU, ipc=host, loopback port, read-only mount, server args, extra args last', () => {
    const s = settingsFor({ model: 'qwen3guard-gen-4b', modelDir, gpu: '1', port: '8011', maxModelLen: '8192', gpuMemoryUtilization: '0.85', env: ['HF_TOKEN=hf_abcdefgh123'], serverArgs: ['--enforce-eager'] });
    const cmd = buildRunCommand(s);
    expect(cmd.cli).toBe('docker');
    expect(cmd.args).toEqual([
      'run', '-d', '--name', 'guard-doctor-qwen3guard-gen-4b',
      '--label', 'guard-doctor.managed=true', '--label', 'guard-doctor.model=Qwen3Guard-Gen-4B', '--label', 'guard-doctor.server=vllm',
      '--label', `guard-doctor.mount=${modelDir}:/models/Qwen3Guard-Gen-4B`,
      '--gpus', 'device=1',
      '--ipc=host',
      '-p', '127.0.0.1:8011:8000',
      '-v', `${modelDir}:/models/Qwen3Guard-Gen-4B:ro`,
      '--env', 'HF_TOKEN',
      'vllm/vllm-openai:v0.11.0',
      // `vllm serve MODEL`: positional, as vLLM 0.11 asks (--model is deprecated there).
      '/models/Qwen3Guard-Gen-4B', '--served-model-name', 'Qwen3Guard-Gen-4B', '--max-model-len', '8192', '--gpu-memory-utilization', '0.85',
      '--enforce-eager',
    ]);
    // The value travels in the CLI's environment, never on its command line.
    expect(cmd.env).toEqual({ HF_TOKEN: 'hf_abcdefgh123' });
    expect(cmd.args.join(' ')).not.toContain('hf_abcdefgh123');
  });

  it('web: port 7860 inside, no vLLM arguments, no --ipc; --cpu: no GPU request', () => {
    const cmd = buildRunCommand(settingsFor({ server: 'web', image: 'registry.local/qwen3guard-web:1.0', modelDir, cpu: true, model: 'Qwen3Guard-Gen-4B' }));
    expect(cmd.args).not.toContain('--gpus');
    expect(cmd.args).not.toContain('--ipc=host');
    expect(cmd.args).toContain('127.0.0.1:7860:7860');
    expect(cmd.args[cmd.args.length - 1]).toBe('registry.local/qwen3guard-web:1.0');
  });

  it('podman asks for the GPU with its CDI device syntax', () => {
    expect(buildRunCommand(settingsFor({ runtime: 'podman' })).groups).toContainEqual(['--device', 'nvidia.com/gpu=all']);
    expect(buildRunCommand(settingsFor({ runtime: 'podman', gpu: '2' })).groups).toContainEqual(['--device', 'nvidia.com/gpu=2']);
    expect(buildRunCommand(settingsFor({})).groups).toContainEqual(['--gpus', 'all']);
  });

  it('hands over a MIG device as the NVIDIA runtime and CDI name it (GPU:MIG, or its UUID)', () => {
    expect(buildRunCommand(settingsFor({ gpu: '0:1' })).groups).toContainEqual(['--gpus', 'device=0:1']);
    expect(buildRunCommand(settingsFor({ runtime: 'podman', gpu: '0:1' })).groups).toContainEqual(['--device', 'nvidia.com/gpu=0:1']);
    const uuid = 'MIG-9f0c3e1a-1b2c-5d3e-8f4a-0123456789ab';
    expect(buildRunCommand(settingsFor({ gpu: uuid })).groups).toContainEqual(['--gpus', `device=${uuid}`]);
  });

  it('the mount keeps the user options and stays read-only; --publish-host widens the port', () => {
    const s = settingsFor({ mount: `${modelDir}:/srv/model:z`, containerModelDir: '/srv/model', publishHost: '0.0.0.0' });
    const cmd = buildRunCommand(s);
    expect(cmd.args).toContain(`${modelDir}:/srv/model:z,ro`);
    expect(cmd.args).toContain('0.0.0.0:8000:8000');
    expect(cmd.args).toContain('/srv/model');
    expect(buildRunCommand(settingsFor({ publishHost: '::1' })).args).toContain('[::1]:8000:8000');
  });

  it('a host path with a colon uses --mount, which -v cannot express', async () => {
    const colon = path.join(tmp, 'a:b');
    await mkdir(colon, { recursive: true });
    const cmd = buildRunCommand(settingsFor({ modelDir: colon }));
    expect(cmd.args).toContain(`type=bind,"source=${colon}","target=/models/Qwen3Guard-Gen-8B",readonly`);
  });
});

describe('the printed command', () => {
  it('pasted into sh, hands docker exactly the arguments up runs; the --env value comes from the shell', async () => {
    const s = settingsFor({ model: 'qwen3guard-gen-4b', modelDir, env: ['HF_TOKEN=hf_abcdefgh123', 'VLLM_LOGGING_LEVEL=DEBUG'], serverArgs: ['--chat-template', "{{ 'it''s' }} $(id)"] });
    const cmd = buildRunCommand(s);
    const rendered = renderCommand(cmd);
    expect(rendered).not.toContain('hf_abcdefgh123');
    expect(rendered).not.toContain('DEBUG');
    expect(rendered.split('\n')[0]).toBe('# --env values are not shown: docker reads them from the environment, so export HF_TOKEN, VLLM_LOGGING_LEVEL first');
    const pasted = await paste(rendered, { HF_TOKEN: 'from-the-shell' });
    expect(pasted.args).toEqual(cmd.args);
    expect(pasted.token).toBe('from-the-shell');
    // Nothing in the folder name or the arguments was run.
    await expect(readFile(path.join(tmp, 'pwned'))).rejects.toThrow();
  });

  it('quotes any word so that sh reads it back unchanged', async () => {
    const words = fc.sample(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 24 }).filter((w) => !w.includes('\0')), 300);
    words.push('', "'", '"', '$(touch pwned)', '`id`', '$HOME', 'a b', '~', '*', 'x;y', 'line\nbreak', '\\', '!');
    await execa('sh', ['-c', `printf '%s\\0' ${words.map(shellQuote).join(' ')} > args`], { cwd: tmp, timeout: 10_000 });
    const back = (await readFile(path.join(tmp, 'args'), 'utf8')).split('\0').slice(0, -1);
    expect(back).toEqual(words);
  });

  it('variables the CLI reads for itself (PATH, DOCKER_HOST) go inline and print as ***', () => {
    const cmd = buildRunCommand(settingsFor({ env: ['PATH=/opt/conda/bin:/usr/bin', 'DOCKER_HOST=tcp://secret-host:2375', 'HF_TOKEN=hf_abcdefgh123'] }));
    expect(cmd.args).toEqual(expect.arrayContaining(['PATH=/opt/conda/bin:/usr/bin', 'DOCKER_HOST=tcp://secret-host:2375', 'HF_TOKEN']));
    expect(cmd.env).toEqual({ HF_TOKEN: 'hf_abcdefgh123' });
    const rendered = renderCommand(cmd);
    expect(rendered).toContain("--env 'PATH=***' \\\n    --env 'DOCKER_HOST=***' \\\n    --env HF_TOKEN");
    expect(rendered).toContain('# replace *** with the values of PATH, DOCKER_HOST');
    expect(rendered).not.toMatch(/secret-host|conda|hf_abcdefgh123/);
  });

  it('redacts every --env value in text the doctor prints, but not trivial ones', () => {
    const redact = redactor(['hf_abcdefgh123', '1']);
    expect(redact('token=hf_abcdefgh123 workers=1')).toBe('token=*** workers=1');
  });
});

describe('up --dry-run', () => {
  it('prints the exact command, secrets hidden, and exits 0 without starting anything', async () => {
    const result = await runCli(['up', '--dry-run', '--model', 'Qwen3Guard-Gen-4B', '--model-dir', modelDir, '--env', 'HF_TOKEN=hf_abcdefgh123', '--name', 'gd-dry', '--', '--enforce-eager'], { cwd: tmp, pathPrepend: [fakeBin] });
    expect(result.exitCode).toBe(0);
    expect(result.stdout + result.stderr).not.toContain('hf_abcdefgh123');
    expect(result.stdout).toContain('docker run -d --name gd-dry');
    expect(result.stdout).toContain(`-v ${shellQuote(`${modelDir}:/models/Qwen3Guard-Gen-4B:ro`)}`);
    expect(result.stdout).toContain('--env HF_TOKEN');
    expect(result.stdout.trimEnd().endsWith('--gpu-memory-utilization 0.9 --enforce-eager')).toBe(true);
    // Nothing ran: the stand-in docker never recorded a call.
    await expect(readFile(path.join(tmp, 'args'), 'utf8')).resolves.not.toContain('gd-dry');
    const pasted = await paste(result.stdout);
    expect(pasted.args.slice(0, 4)).toEqual(['run', '-d', '--name', 'gd-dry']);
    expect(pasted.args).toContain(`${modelDir}:/models/Qwen3Guard-Gen-4B:ro`);
  });

  it('--json carries the redacted command in launch', async () => {
    const result = await runCli(['up', '--dry-run', '--json', '--model-dir', modelDir, '--env', 'HF_TOKEN=hf_abcdefgh123'], { cwd: tmp });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).not.toContain('hf_abcdefgh123');
    expect(result.json).toMatchObject({ command: 'up', ok: true, launch: { dryRun: true, container: 'guard-doctor-qwen3guard-gen-8b', url: 'http://127.0.0.1:8000' } });
    expect(result.json.launch.command).toContain('--env HF_TOKEN');
  });

  it('--server web without --image is a clear usage error', async () => {
    const result = await runCli(['up', '--dry-run', '--server', 'web'], { cwd: tmp });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--image is required with --server web');
  });
});
