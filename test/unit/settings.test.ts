import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfigFile, parseMount, resolveSettings } from '../../src/settings.js';
import { usageMessage } from '../helpers/usage.js';
import { runCli } from '../helpers/cli.js';


describe('settings', () => {
  it('takes any case of a model name and gives the canonical one', () => {
    const s = resolveSettings('check', { model: 'qwen3guard-gen-4b' }, {});
    expect(s.model.name).toBe('Qwen3Guard-Gen-4B');
    expect(s.containerModelDir).toBe('/models/Qwen3Guard-Gen-4B');
    expect(s.name).toBe('guard-doctor-qwen3guard-gen-4b');
    expect(resolveSettings('check', { model: 'Qwen/QWEN3GUARD-GEN-0.6B' }, {}).model.name).toBe('Qwen3Guard-Gen-0.6B');
  });

  it('defaults follow CONTRACT.md', () => {
    const s = resolveSettings('check', {}, {});
    expect(s.model.name).toBe('Qwen3Guard-Gen-8B');
    expect(s.server).toBe('vllm');
    expect(s.port).toBe(8000);
    expect(s.maxModelLen).toBe(32768);
    expect(s.gpuMemoryUtilization).toBe(0.9);
    expect(s.requestTimeoutMs).toBe(120_000);
    expect(s.concurrency).toBe(4);
    expect(s.readyTimeoutMs).toBe(900_000);
    expect(s.warmTimeoutMs).toBe(600_000);
    expect(s.publishHost).toBe('127.0.0.1');
    expect(s.image).toMatch(/^vllm\/vllm-openai:v\d/);
    expect(resolveSettings('check', { server: 'web' }, {}).port).toBe(7860);
  });

  it('names the option and lists the valid models for an unknown model', () => {
    const message = usageMessage(() => resolveSettings('check', { model: 'Qwen3Guard-Gen-7B' }, {}));
    expect(message).toContain('--model');
    expect(message).toContain('Qwen3Guard-Gen-7B');
    expect(message).toContain('Qwen3Guard-Gen-0.6B, Qwen3Guard-Gen-4B, Qwen3Guard-Gen-8B');
  });

  it('takes a MIG device for --gpu: N:M or a MIG UUID', () => {
    expect(resolveSettings('check', { gpu: '0:2' }, {})).toMatchObject({ gpu: 0, migDevice: '2' });
    expect(resolveSettings('check', { gpu: 'MIG-55d07ceb-1a2b-5c3d-9e4f-0123456789ab' }, {})).toMatchObject({ gpu: null, migDevice: 'MIG-55d07ceb-1a2b-5c3d-9e4f-0123456789ab' });
    expect(resolveSettings('check', { gpu: '1' }, {})).toMatchObject({ gpu: 1, migDevice: null });
    expect(usageMessage(() => resolveSettings('check', { gpu: '0:x' }, {}))).toMatch(/--gpu: "0:x" is not valid.*MIG device \(--gpu 0:1\)/);
  });

  it('rejects a non-numeric --gpu and an out-of-range utilization', () => {
    expect(usageMessage(() => resolveSettings('check', { gpu: 'first' }, {}))).toMatch(/--gpu: "first" is not valid/);
    expect(usageMessage(() => resolveSettings('check', { gpuMemoryUtilization: '1.5' }, {}))).toMatch(/--gpu-memory-utilization: 1.5 is out of range/);
    expect(usageMessage(() => resolveSettings('check', { port: '70000' }, {}))).toMatch(/--port/);
  });

  it('says which config field is wrong', () => {
    expect(usageMessage(() => resolveSettings('check', {}, { model: 'nope' }))).toMatch(/config field "model"/);
    expect(usageMessage(() => resolveSettings('check', {}, { maxModelLen: 'long' }))).toMatch(/config field "maxModelLen"/);
  });

  it('lets flags win over the config file', () => {
    const s = resolveSettings('check', { model: 'qwen3guard-gen-4b' }, { model: 'Qwen3Guard-Gen-0.6B', maxModelLen: 8192 });
    expect(s.model.name).toBe('Qwen3Guard-Gen-4B');
    expect(s.maxModelLen).toBe(8192);
  });

  it('parses mounts the way docker run -v does, keeping odd characters as data', () => {
    const m = parseMount('/srv/my models/$(touch x)/Qwen3Guard-Gen-8B:/models/Qwen3Guard-Gen-8B:ro', '--mount', '/');
    expect(m.hostPath).toBe('/srv/my models/$(touch x)/Qwen3Guard-Gen-8B');
    expect(m.containerPath).toBe('/models/Qwen3Guard-Gen-8B');
    expect(m.mode).toBe('ro');
    expect(parseMount('./models:/models/', '--mount', '/work').hostPath).toBe('/work/models');
    expect(parseMount('./models:/models/', '--mount', '/work').containerPath).toBe('/models');
  });

  it('rejects malformed mounts with an example', () => {
    expect(usageMessage(() => parseMount('/srv/models', '--mount', '/'))).toMatch(/is not HOST_PATH:CONTAINER_PATH/);
    expect(usageMessage(() => parseMount('/srv/models:models', '--mount', '/'))).toMatch(/must be absolute/);
    expect(usageMessage(() => parseMount('hfcache:/models', '--mount', '/'))).toMatch(/named volume/);
    expect(usageMessage(() => parseMount('/a:/b:rx', '--mount', '/'))).toMatch(/unknown mount option "rx"/);
  });

  it('turns --model-dir into a mount at the container model dir', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-settings-'));
    const modelDir = path.join(dir, 'Qwen3Guard Gen 8B');
    await mkdir(modelDir);
    const s = resolveSettings('check', { modelDir }, {});
    expect(s.mount).toMatchObject({ hostPath: modelDir, containerPath: '/models/Qwen3Guard-Gen-8B' });
    expect(usageMessage(() => resolveSettings('check', { modelDir: path.join(dir, 'missing') }, {}))).toMatch(/--model-dir: .*missing does not exist/);
    expect(usageMessage(() => resolveSettings('check', { modelDir, mount: `${modelDir}:/m` }, {}))).toMatch(/both name the model volume/);
  });

  it('never echoes an --env value in its error', () => {
    const message = usageMessage(() => resolveSettings('up', { env: ['hf_secret_token_value'] }, {}));
    expect(message).not.toContain('secret_token_value');
    expect(resolveSettings('up', { env: ['HF_TOKEN=a=b'] }, {}).env).toEqual([{ key: 'HF_TOKEN', value: 'a=b' }]);
  });
});

describe('config file', () => {
  it('reads ./guard-doctor.config.json when present and accepts kebab-case', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-config-'));
    expect(loadConfigFile(undefined, dir)).toEqual({ path: null, values: {} });
    await writeFile(path.join(dir, 'guard-doctor.config.json'), JSON.stringify({ model: 'Qwen3Guard-Gen-4B', 'max-model-len': 4096 }));
    expect(loadConfigFile(undefined, dir).values).toEqual({ model: 'Qwen3Guard-Gen-4B', maxModelLen: 4096 });
  });

  it('names an unknown field, invalid JSON and a missing file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-config-'));
    await writeFile(path.join(dir, 'bad.json'), '{"modle": "x"}');
    expect(usageMessage(() => loadConfigFile('bad.json', dir))).toMatch(/unknown field "modle"/);
    await writeFile(path.join(dir, 'broken.json'), '{"model": ');
    expect(usageMessage(() => loadConfigFile('broken.json', dir))).toMatch(/is not valid JSON/);
    expect(usageMessage(() => loadConfigFile('nope.json', dir))).toMatch(/--config: cannot read .*nope.json: it does not exist/);
    await writeFile(path.join(dir, 'array.json'), '[1]');
    expect(usageMessage(() => loadConfigFile('array.json', dir))).toMatch(/must hold a JSON object/);
  });
});

describe('the vLLM floor for Qwen3Guard', () => {
  it('is 0.9.0, from the Qwen3Guard README, and the doctor says so where it names a version', async () => {
    const { SERVING_FLOORS, VLLM_FLOOR_TEXT } = await import('../../src/data/serving.js');
    expect(SERVING_FLOORS.vllm.minimum).toBe('0.9.0');
    expect(SERVING_FLOORS.vllm.source).toContain('github.com/QwenLM/Qwen3Guard');
    expect(SERVING_FLOORS.vllm.source).toContain('`vllm>=0.9.0`');
    expect(VLLM_FLOOR_TEXT).toBe('vLLM 0.9.0 or later (the minimum for Qwen3Guard)');
    const { SIGNATURES } = await import('../../src/data/signatures.js');
    expect(SIGNATURES.find((s) => s.id === 'transformers-too-old')!.fix).toContain('vLLM 0.9.0 or later (the minimum for Qwen3Guard)');
    const help = await runCli(['up', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('vLLM 0.9.0 or later (the minimum for Qwen3Guard)');
  });

  it('default ports are data with their sources, and the settings use them', async () => {
    const { DEFAULT_PORT, DEFAULT_PORT_SOURCES } = await import('../../src/data/serving.js');
    expect(DEFAULT_PORT).toEqual({ vllm: 8000, web: 7860 });
    expect(DEFAULT_PORT_SOURCES.vllm).toContain('default:"8000"');
    expect(DEFAULT_PORT_SOURCES.web).toContain('port 7860');
    expect(resolveSettings('check', { server: 'web' }, {}).port).toBe(7860);
    expect(resolveSettings('check', {}, {}).port).toBe(8000);
  });
});
