/**
 * The hub facts of src/data/hub.ts and how the settings find the user's cache, endpoint and
 * token the way huggingface_hub and modelscope find them inside the server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HF, MODELSCOPE, envTrue, hubRepoId, publishedDownloadBytes } from '../../src/data/hub.js';
import { findModel } from '../../src/data/models.js';
import { containerPathOf, resolveHubSettings } from '../../src/hub-settings.js';
import { resolveSettings } from '../../src/settings.js';
import { removeTempDirs, tempDir } from '../helpers/model-folder.js';

afterAll(removeTempDirs);
const m8 = findModel('Qwen3Guard-Gen-8B')!;
const m06 = findModel('Qwen3Guard-Gen-0.6B')!;

describe('hub facts (src/data/hub.ts)', () => {
  it('names repos, cache folders and API paths as the client libraries do', () => {
    expect(hubRepoId(m8)).toBe('Qwen/Qwen3Guard-Gen-8B');
    expect(HF.repoFolder('Qwen/Qwen3Guard-Gen-8B')).toBe('models--Qwen--Qwen3Guard-Gen-8B');
    expect(HF.modelInfoPath('Qwen/Qwen3Guard-Gen-8B')).toBe('/api/models/Qwen/Qwen3Guard-Gen-8B/revision/main?blobs=true');
    expect(HF.resolvePath('Qwen/Qwen3Guard-Gen-8B', 'config.json')).toBe('/Qwen/Qwen3Guard-Gen-8B/resolve/main/config.json');
    // modelscope writes every "." of a model name as "___" in its cache.
    expect(MODELSCOPE.modelFolder('Qwen/Qwen3Guard-Gen-0.6B')).toEqual({ current: 'models/Qwen/Qwen3Guard-Gen-0___6B', legacy: 'Qwen/Qwen3Guard-Gen-0___6B' });
    expect(MODELSCOPE.filesPath('Qwen/Qwen3Guard-Gen-8B')).toBe('/api/v1/models/Qwen/Qwen3Guard-Gen-8B/repo/files?Revision=master&Recursive=true');
  });

  it('the 8B download is about 16.4 GB; booleans read like huggingface_hub reads them', () => {
    expect(publishedDownloadBytes(m8) / 1e9).toBeCloseTo(16.4, 1);
    for (const yes of ['1', 'true', 'YES', 'on']) expect(envTrue(yes)).toBe(true);
    for (const no of [undefined, '', '0', 'false', 'no']) expect(envTrue(no)).toBe(false);
  });
});

describe('resolveHubSettings', () => {
  it('HF: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub', () => {
    expect(resolveHubSettings('hf', m8, { HOME: '/home/u' }, '/').cacheDir).toBe('/home/u/.cache/huggingface/hub');
    expect(resolveHubSettings('hf', m8, { HOME: '/home/u', XDG_CACHE_HOME: '/xdg' }, '/').cacheDir).toBe('/xdg/huggingface/hub');
    const home = resolveHubSettings('hf', m8, { HOME: '/home/u', HF_HOME: '~/hf' }, '/');
    expect(home).toMatchObject({ cacheDir: '/home/u/hf/hub', cacheDirFrom: 'HF_HOME', repoDirs: ['/home/u/hf/hub/models--Qwen--Qwen3Guard-Gen-8B'], mounts: [{ hostPath: '/home/u/hf', containerPath: '/root/.cache/huggingface' }] });
    const apart = resolveHubSettings('hf', m8, { HOME: '/home/u', HF_HUB_CACHE: '/data/hub' }, '/');
    expect(apart.mounts).toEqual([
      { hostPath: '/home/u/.cache/huggingface', containerPath: '/root/.cache/huggingface' },
      { hostPath: '/data/hub', containerPath: '/root/.cache/huggingface/hub' },
    ]);
    expect(containerPathOf(apart, '/data/hub/models--Qwen--Qwen3Guard-Gen-8B/snapshots/abc')).toBe('/root/.cache/huggingface/hub/models--Qwen--Qwen3Guard-Gen-8B/snapshots/abc');
    expect(containerPathOf(apart, '/elsewhere')).toBeNull();
  });

  it('endpoint, offline, the token from HF_TOKEN or the login file, and what goes to the container by name', async () => {
    const dir = await tempDir('gd-hfset-');
    await writeFile(path.join(dir, 'token'), 'hf_FromLoginFile42\n');
    const fromFile = resolveHubSettings('hf', m8, { HF_HOME: dir, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'https://hf-mirror.com/' }, '/');
    expect(fromFile).toMatchObject({ endpoint: 'https://hf-mirror.com', endpointFrom: 'HF_ENDPOINT', offline: true, token: 'hf_FromLoginFile42', tokenFrom: `${path.join(dir, 'token')} (huggingface-cli login)` });
    expect(fromFile.passEnv).toEqual([{ key: 'HF_ENDPOINT', value: 'https://hf-mirror.com/' }, { key: 'HF_HUB_OFFLINE', value: '1' }]);
    const fromEnv = resolveHubSettings('hf', m8, { HF_HOME: dir, HF_TOKEN: 'hf_Env' }, '/');
    expect(fromEnv).toMatchObject({ token: 'hf_Env', tokenFrom: 'HF_TOKEN', endpoint: 'https://huggingface.co', endpointFrom: null, offline: false });
    expect(fromEnv.passEnv.map((e) => e.key)).toEqual(['HF_TOKEN']);
  });

  it('ModelScope: MODELSCOPE_CACHE (default ~/.cache/modelscope/hub), MODELSCOPE_DOMAIN', () => {
    const ms = resolveHubSettings('modelscope', m06, { HOME: '/home/u' }, '/');
    expect(ms).toMatchObject({
      endpoint: 'https://www.modelscope.cn',
      cacheDir: '/home/u/.cache/modelscope/hub',
      repoDirs: ['/home/u/.cache/modelscope/hub/models/Qwen/Qwen3Guard-Gen-0___6B', '/home/u/.cache/modelscope/hub/Qwen/Qwen3Guard-Gen-0___6B'],
      mounts: [{ hostPath: '/home/u/.cache/modelscope/hub', containerPath: '/root/.cache/modelscope/hub' }],
    });
    expect(resolveHubSettings('modelscope', m06, { MODELSCOPE_DOMAIN: 'modelscope.example.com' }, '/').endpoint).toBe('https://modelscope.example.com');
  });

  it('settings: --source defaults to hf without a folder and dir with one; up --env HF_TOKEN=... is the token the hub is asked with', () => {
    expect(resolveSettings('check', {}, {}, '/', { HOME: '/home/u' })).toMatchObject({ source: 'hf', hub: { repoId: 'Qwen/Qwen3Guard-Gen-8B' } });
    expect(resolveSettings('check', { mount: '/srv/m:/models' }, {}, '/', {})).toMatchObject({ source: 'dir', hub: null });
    const up = resolveSettings('up', { env: ['HF_TOKEN=hf_FromUpEnv'] }, {}, '/', { HOME: '/home/u' });
    expect(up.hub).toMatchObject({ token: 'hf_FromUpEnv', tokenFrom: 'HF_TOKEN' });
    expect(resolveSettings('check', {}, { source: 'modelscope' }, '/', {}).source).toBe('modelscope');
  });
});
