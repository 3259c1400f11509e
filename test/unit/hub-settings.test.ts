/**
 * The hub facts of src/data/hub.ts and how the settings find the user's cache, endpoint and
 * token the way huggingface_hub and modelscope find them inside the server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { HF, MODELSCOPE, envTrue, hubRepoId, publishedDownloadBytes } from '../../src/data/hub.js';
import { findModel } from '../../src/data/models.js';
import { containerPathOf, hostHubSettings, resolveHubSettings } from '../../src/hub-settings.js';
import { localHost, run, type Host } from '../../src/exec.js';
import { parseCurlOutput } from '../../src/probes/hub.js';
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

describe('hostHubSettings: the cache of a fleet host', () => {
  /** A "host" whose login environment is `env`: the real sh runs the real script, as sshd's shell would. */
  const hostWith = (env: Record<string, string>): Host => ({ ...localHost, label: 'gpu-a', remote: true, run: (command, args, options) => run(command, args, { ...options, env: { ...process.env, HF_HOME: '', HF_HUB_CACHE: '', HUGGINGFACE_HUB_CACHE: '', XDG_CACHE_HOME: '', MODELSCOPE_CACHE: '', ...env } }) });

  it('resolves the place from the host\'s HOME and HF_HOME; the token, endpoint and repo stay the doctor\'s', async () => {
    const settings = resolveSettings('check', { source: 'hf', model: 'Qwen3Guard-Gen-8B' }, {}, '/tmp', { HOME: '/home/doctor', HF_TOKEN: 'hf_doctorsOwnToken42', HF_ENDPOINT: 'http://127.0.0.1:9' });
    const onHost = await hostHubSettings(settings, hostWith({ HOME: '/home/gpu', HF_HOME: '' }));
    expect(onHost.hub).toMatchObject({ cacheDir: '/home/gpu/.cache/huggingface/hub', cacheDirFrom: 'the default ~/.cache/huggingface on gpu-a', repoDirs: ['/home/gpu/.cache/huggingface/hub/models--Qwen--Qwen3Guard-Gen-8B'], mounts: [{ hostPath: '/home/gpu/.cache/huggingface', containerPath: HF.containerHome }], token: 'hf_doctorsOwnToken42', endpoint: 'http://127.0.0.1:9' });
    expect(settings.hub!.cacheDir).toBe('/home/doctor/.cache/huggingface/hub');
    // On this machine nothing changes.
    expect(await hostHubSettings(settings, localHost)).toBe(settings);
  });

  it('spaces, quotes and $(...) in the host\'s HF_HOME are a path, never run; ~ is the host\'s home', async () => {
    const dir = await tempDir('gd-hosthub-');
    const marker = path.join(dir, 'ran');
    const settings = resolveSettings('check', { source: 'hf', model: 'Qwen3Guard-Gen-8B' }, {}, '/tmp', { HOME: '/home/doctor' });
    const onHost = await hostHubSettings(settings, hostWith({ HOME: "/home/gpu user's", HF_HOME: `~/hf $(touch ${marker}) \`touch ${marker}\`` }));
    expect(onHost.hub!.cacheDir).toBe(`/home/gpu user's/hf $(touch ${marker}) \`touch ${marker}\`/hub`);
    expect(onHost.hub!.cacheDirFrom).toBe('HF_HOME on gpu-a');
    expect(existsSync(marker)).toBe(false);
  });

  it('a host whose shell fails says so with its words', async () => {
    const settings = resolveSettings('check', { source: 'hf', model: 'Qwen3Guard-Gen-8B' }, {}, '/tmp', { HOME: '/home/doctor' });
    const broken: Host = { ...localHost, label: 'gpu-z', remote: true, run: (_c, _a, options) => run('sh', ['-c', 'echo "sh: permission denied" >&2; exit 126'], options) };
    await expect(hostHubSettings(settings, broken)).rejects.toThrow('could not read where gpu-z keeps the hub cache (HOME, HF_HOME, ...): sh: permission denied');
  });
});

describe('parseCurlOutput: what `curl --dump-header -` prints', () => {
  it('reads the status, headers and body of a real curl answer, GET and HEAD', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/gated' ? 403 : 200, { 'content-type': 'application/json', 'x-error-code': req.url === '/gated' ? 'GatedRepo' : 'none' });
      res.end(req.method === 'HEAD' ? undefined : '{"sha":"c3f1a9e0"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const get = await run('curl', ['--silent', '--show-error', '--dump-header', '-', '--url', `${url}/api`], { timeoutMs: 10_000 });
      expect(parseCurlOutput(get.stdout)).toEqual({ status: 200, headers: expect.objectContaining({ 'content-type': 'application/json', 'x-error-code': 'none' }), body: '{"sha":"c3f1a9e0"}' });
      const head = await run('curl', ['--silent', '--show-error', '--dump-header', '-', '--head', '--output', '/dev/null', '--url', `${url}/gated`], { timeoutMs: 10_000 });
      expect(parseCurlOutput(head.stdout)).toMatchObject({ status: 403, headers: { 'x-error-code': 'GatedRepo' }, body: '' });
    } finally {
      server.close();
    }
  });

  it('skips a proxy\'s "Connection established" block (hand-written: curl prints it before the answer through an HTTPS proxy)', () => {
    const text = 'HTTP/1.1 200 Connection established\r\n\r\nHTTP/2 401\r\nx-error-code: GatedRepo\r\n\r\n{"error":"Access to model Qwen/X is restricted."}';
    expect(parseCurlOutput(text)).toEqual({ status: 401, headers: { 'x-error-code': 'GatedRepo' }, body: '{"error":"Access to model Qwen/X is restricted."}' });
    expect(parseCurlOutput('curl: (7) Failed to connect')).toBeNull();
  });
});
