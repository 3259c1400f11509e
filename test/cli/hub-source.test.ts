/**
 * `check` and `up --dry-run` with the model coming from a hub (`--source hf|modelscope`, the
 * default without --model-dir): a stand-in Hub on 127.0.0.1 reached through HF_ENDPOINT, as a
 * user reaches a mirror, and user caches built in temp dirs with the real layouts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { COMMIT, startHubServer, writeHfCache, writeModelScopeCache, type HubServer } from '../helpers/hub.js';
import { removeTempDirs, tempDir } from '../helpers/model-folder.js';
import { fleetUnavailable, startFleet, type Fleet } from '../helpers/sshd.js';

const GOOD = 'hf_GoodTokenForTests1234';
const BAD = 'hf_WrongTokenForTests5678';

type Entry = { id: string; status: string; summary: string; fix?: string; measured?: Record<string, unknown>; details?: string[] };
const entry = (r: CliResult, id: string): Entry => (r.json.checks as Entry[]).find((c) => c.id === id)!;

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const check = (args: string[], env: Record<string, string | undefined>) => runCli(['check', '--cpu', '--json', ...args], { env: { HF_HUB_OFFLINE: undefined, ...env } });

describe('check with the model from the Hugging Face Hub', () => {
  let hub: HubServer;
  let gated: HubServer;
  let privateHub: HubServer;
  let empty: string;
  beforeAll(async () => {
    [hub, gated, privateHub] = await Promise.all([startHubServer(), startHubServer({ gated: 'manual', grantedTokens: [GOOD] }), startHubServer({ private: true, grantedTokens: [GOOD] })]);
    empty = await tempDir('gd-hf-empty-');
  });
  afterAll(async () => {
    await Promise.all([hub.close(), gated.close(), privateHub.close()]);
    await removeTempDirs();
  });

  it('without --model-dir the source is hf: a complete cached snapshot is judged like a model folder, offline, with no request', async () => {
    const home = await tempDir('gd-hf-');
    const cache = await writeHfCache(home, { size: '4B' });
    const r = await check(['--model', 'Qwen3Guard-Gen-4B'], { HF_HOME: home, HF_HUB_OFFLINE: '1', HF_ENDPOINT: hub.url });
    const source = entry(r, 'model.source');
    expect(source.status, source.summary).toBe('pass');
    expect(source.summary).toBe(`Qwen/Qwen3Guard-Gen-4B is complete in the cache (${cache.snapshotDir}: 3 shards, ${source.summary.match(/shards, ([^)]+)\)/)![1]}); HF_HUB_OFFLINE is on, so the server loads it without contacting the hub`);
    expect(source.measured).toMatchObject({ source: 'hf', cached: 'complete', cachedRevision: COMMIT, offline: true, hubState: 'offline' });
    // The links into blobs/ are inside the mounted cache: the same folder checks pass.
    expect(entry(r, 'model.mount')).toMatchObject({ status: 'pass', summary: `/root/.cache/huggingface/hub/models--Qwen--Qwen3Guard-Gen-4B/snapshots/${COMMIT} -> ${cache.snapshotDir} (exact case; config.json and 3 weight files there)` });
    expect(entry(r, 'model.files').status).toBe('pass');
    expect(entry(r, 'model.permissions').status).toBe('pass');
    expect(hub.requests.length).toBe(0);
  });

  it('HF_HUB_OFFLINE=1 with nothing cached fails with the fix, and the folder checks say why they skip', async () => {
    const r = await check([], { HF_HOME: empty, HF_HUB_OFFLINE: '1' });
    expect(r.exitCode).toBe(1);
    const source = entry(r, 'model.source');
    expect(source.status).toBe('fail');
    expect(source.summary).toBe(`HF_HUB_OFFLINE is on and Qwen/Qwen3Guard-Gen-8B is not in the cache (${path.join(empty, 'hub')}): the server may not download it, so it cannot start`);
    expect(source.fix).toBe('unset HF_HUB_OFFLINE to let the server download it, or fill the cache first where the hub can be reached: huggingface-cli download Qwen/Qwen3Guard-Gen-8B');
    for (const id of ['model.mount', 'model.files', 'model.permissions']) {
      expect(entry(r, id)).toMatchObject({ status: 'skip', summary: `Qwen/Qwen3Guard-Gen-8B is not in the cache (${path.join(empty, 'hub')}) yet; the server downloads it at start (see model.source)` });
    }
    const human = await runCli(['check', '--cpu'], { env: { HF_HOME: empty, HF_HUB_OFFLINE: '1' } });
    expect(human.stdout).toMatch(/✗ model\.source +HF_HUB_OFFLINE is on and Qwen\/Qwen3Guard-Gen-8B is not in the cache/);
  });

  it('not cached, hub reachable through HF_ENDPOINT: passes with the download size and the disk room, asking what huggingface_hub asks', async () => {
    const r = await check([], { HF_HOME: empty, HF_ENDPOINT: hub.url });
    const source = entry(r, 'model.source');
    expect(source.status).toBe('pass');
    expect(source.summary).toMatch(new RegExp(`^Qwen/Qwen3Guard-Gen-8B is not in the cache \\(${empty}/hub\\); the server downloads about 15\\.3 GiB from ${hub.url} \\(HF_ENDPOINT\\) at start \\(answers in \\d+ ms; public\\); [\\d.]+ GiB free at /`));
    expect(source.measured).toMatchObject({ downloadBytes: 16_381_516_776 + 1570 + 11_343 + 9_875 + 728 + 239 + 1_671_853 + 32_887 + 11_422_654 + 9_732 + 2_776_833, downloadBytesFrom: 'hub listing', access: 'open', hubRevision: COMMIT });
    expect(hub.requests).toContainEqual({ method: 'GET', url: '/api/models/Qwen/Qwen3Guard-Gen-8B/revision/main?blobs=true', authorization: null });
  });

  it('a gated repo without a token fails with the Hub\'s own words and the fix', async () => {
    const r = await check([], { HF_HOME: empty, HF_ENDPOINT: gated.url });
    expect(r.exitCode).toBe(1);
    const source = entry(r, 'model.source');
    expect(source.status).toBe('fail');
    expect(source.summary).toBe(
      `Qwen/Qwen3Guard-Gen-8B is not in the cache (${empty}/hub), and Qwen/Qwen3Guard-Gen-8B is gated: the Hugging Face Hub answers 401 GatedRepo without a token: "Access to model Qwen/Qwen3Guard-Gen-8B is restricted. You must have access to it and be authenticated to access it. Please log in."`,
    );
    expect(source.fix).toContain(`accept the conditions at ${gated.url}/Qwen/Qwen3Guard-Gen-8B and give the server a read token: export HF_TOKEN=...`);
    expect(gated.requests.map((q) => `${q.method} ${q.url}`)).toContain('HEAD /Qwen/Qwen3Guard-Gen-8B/resolve/main/config.json');
  });

  it('a token not on the authorized list is a 403; the token is sent only as a header and never printed', async () => {
    const env = { HF_HOME: empty, HF_ENDPOINT: gated.url, HF_TOKEN: BAD };
    const [json, human] = await Promise.all([check([], env), runCli(['check', '--cpu', '-v'], { env: { ...env, HF_HUB_OFFLINE: undefined } })]);
    const source = entry(json, 'model.source');
    expect(source.status).toBe('fail');
    expect(source.summary).toContain('the token (from HF_TOKEN) may not fetch Qwen/Qwen3Guard-Gen-8B: the Hugging Face Hub answers 403 GatedRepo: "Access to model Qwen/Qwen3Guard-Gen-8B is restricted and you are not in the authorized list.');
    expect(source.details).toContain('token from HF_TOKEN (not shown)');
    for (const text of [json.stdout, json.stderr, human.stdout, human.stderr]) expect(text).not.toContain(BAD);
    expect(gated.requests.filter((q) => q.authorization === `Bearer ${BAD}`).length).toBeGreaterThanOrEqual(2);
    expect(gated.requests.every((q) => !q.url.includes(BAD))).toBe(true);
  });

  it('a token with access passes; a token from huggingface-cli login (HF_HOME/token) counts too', async () => {
    const viaEnv = entry(await check([], { HF_HOME: empty, HF_ENDPOINT: gated.url, HF_TOKEN: GOOD }), 'model.source');
    expect(viaEnv.status).toBe('pass');
    expect(viaEnv.summary).toContain('gated, access granted to the token from HF_TOKEN');
    const home = await tempDir('gd-hf-login-');
    await writeFile(path.join(home, 'token'), `${GOOD}\n`);
    const viaFile = await check([], { HF_HOME: home, HF_ENDPOINT: gated.url });
    expect(entry(viaFile, 'model.source').summary).toContain(`gated, access granted to the token from ${path.join(home, 'token')} (huggingface-cli login)`);
    expect(viaFile.stdout).not.toContain(GOOD);
  });

  it('a revoked HF_TOKEN breaks even a public repo: the Hub\'s 401 is quoted', async () => {
    const revoked = await startHubServer({ invalidTokens: [BAD] });
    try {
      const r = await check([], { HF_HOME: empty, HF_ENDPOINT: revoked.url, HF_TOKEN: BAD });
      const source = entry(r, 'model.source');
      expect(source.status).toBe('fail');
      expect(source.summary).toContain('the token (from HF_TOKEN) may not fetch Qwen/Qwen3Guard-Gen-8B: the Hugging Face Hub answers 401: "Invalid credentials in Authorization header"');
      expect(r.stdout).not.toContain(BAD);
    } finally {
      await revoked.close();
    }
  });

  it('a private repo answers 401 RepoNotFound without a token', async () => {
    const source = entry(await check([], { HF_HOME: empty, HF_ENDPOINT: privateHub.url }), 'model.source');
    expect(source.status).toBe('fail');
    expect(source.summary).toContain('Qwen/Qwen3Guard-Gen-8B is private (or hidden): the Hugging Face Hub answers 401 RepoNotFound without a token: "Repository not found"');
  });

  it('a hub that cannot be reached fails (not cached) naming the endpoint and a mirror; with a complete cache it only notes it', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const r = await check([], { HF_HOME: empty, HF_ENDPOINT: endpoint });
    const source = entry(r, 'model.source');
    expect(source.status).toBe('fail');
    expect(source.summary).toBe(`Qwen/Qwen3Guard-Gen-8B is not in the cache (${empty}/hub), and the Hugging Face Hub at ${endpoint} (HF_ENDPOINT) cannot be reached from this host: connection refused by ${endpoint}/api/models/Qwen/Qwen3Guard-Gen-8B/revision/main?blobs=true`);
    expect(source.fix).toContain('export HF_ENDPOINT=https://hf-mirror.com');

    // Behind a proxy the doctor's direct try proves nothing: a warning that says so, not a failure.
    const proxied = entry(await check([], { HF_HOME: empty, HF_ENDPOINT: endpoint, HTTPS_PROXY: 'http://127.0.0.1:3128' }), 'model.source');
    expect(proxied.status).toBe('warn');
    expect(proxied.summary).toContain('HTTPS_PROXY is set, and the doctor does not go through proxies, so the download could not be confirmed');
    expect(proxied.fix).toContain('--env HTTPS_PROXY=...');

    const home = await tempDir('gd-hf-');
    await writeHfCache(home, { size: '8B' });
    const cached = entry(await check([], { HF_HOME: home, HF_ENDPOINT: endpoint }), 'model.source');
    expect(cached.status).toBe('pass');
    expect(cached.details!.join('\n')).toContain(`the Hugging Face Hub at ${endpoint} (HF_ENDPOINT) cannot be reached (connection refused`);
  });

  it('a partial cache (an interrupted download): the server fetches the rest; model.files waits for it', async () => {
    const home = await tempDir('gd-hf-');
    await writeHfCache(home, { size: '8B', state: 'partial' });
    const r = await check([], { HF_HOME: home, HF_ENDPOINT: hub.url });
    const source = entry(r, 'model.source');
    expect(source.status).toBe('pass');
    expect(source.summary).toMatch(/^the cache holds part of Qwen\/Qwen3Guard-Gen-8B \(2 files missing, e\.g\. model-00002-of-00003\.safetensors\); the server downloads about 15\.3 GiB/);
    expect(entry(r, 'model.files')).toMatchObject({ status: 'skip', summary: 'the cache holds part of Qwen/Qwen3Guard-Gen-8B (2 files to fetch, e.g. model-00002-of-00003.safetensors); the server downloads the rest at start (see model.source)' });
  });

  it('an LFS pointer in the cache is damage the server would load: fail, with the cache entry to remove', async () => {
    const home = await tempDir('gd-hf-');
    const cache = await writeHfCache(home, { size: '8B', state: 'pointer' });
    const r = await check([], { HF_HOME: home, HF_ENDPOINT: hub.url });
    expect(r.exitCode).toBe(1);
    const source = entry(r, 'model.source');
    expect(source.summary).toBe(`the cached copy of Qwen/Qwen3Guard-Gen-8B in ${cache.snapshotDir} is damaged: model-00001-of-00003.safetensors is a Git LFS pointer; the server would load it as it is`);
    expect(source.fix).toBe(`remove the cached copy so the server downloads it again: rm -rf ${cache.repoDir} (or huggingface-cli delete-cache)`);
    const files = entry(r, 'model.files');
    expect(files.status).toBe('fail');
    expect(files.fix).toBe(source.fix);
  });

  it('no room on the cache\'s disk for the download fails with the sizes', async () => {
    const huge = await startHubServer({ files: [{ name: 'config.json', size: 728 }, { name: 'model-00001-of-00001.safetensors', size: 2 ** 52 }] });
    try {
      const source = entry(await check([], { HF_HOME: empty, HF_ENDPOINT: huge.url }), 'model.source');
      expect(source.status).toBe('fail');
      expect(source.summary).toMatch(/^Qwen\/Qwen3Guard-Gen-8B is not in the cache .*; downloading it needs about 4194304\.0 GiB plus a 2\.0 GiB margin, but \/\S* has [\d.]+ [GMK]iB free$/);
      expect(source.fix).toContain('export HF_HOME=/path/on/a/bigger/disk');
    } finally {
      await huge.close();
    }
  });

  it('a broken mirror (HTTP 503) is a failure that quotes it, never a pass', async () => {
    const broken = await startHubServer({ failWith: { status: 503, body: 'upstream connect error' } });
    try {
      const source = entry(await check([], { HF_HOME: empty, HF_ENDPOINT: broken.url }), 'model.source');
      expect(source.status).toBe('fail');
      expect(source.summary).toContain(`answered 503: "upstream connect error": the download cannot be confirmed`);
    } finally {
      await broken.close();
    }
  });

  it('--source modelscope reads the ModelScope cache and asks its API', async () => {
    const cache = await tempDir('gd-ms-');
    const dir = await writeModelScopeCache(cache, '0.6B');
    const cached = await check(['--source', 'modelscope', '--model', 'Qwen3Guard-Gen-0.6B'], { MODELSCOPE_CACHE: cache, HF_HUB_OFFLINE: '1' });
    expect(entry(cached, 'model.source')).toMatchObject({ status: 'pass' });
    expect(entry(cached, 'model.source').summary).toContain(`Qwen/Qwen3Guard-Gen-0.6B is complete in the cache (${dir}: 1 weight file`);
    expect(entry(cached, 'model.mount').summary).toBe(`/root/.cache/modelscope/hub/models/Qwen/Qwen3Guard-Gen-0___6B -> ${dir} (exact case; config.json and 1 weight file there)`);

    const none = await check(['--source', 'modelscope'], { MODELSCOPE_CACHE: empty, MODELSCOPE_DOMAIN: hub.url });
    expect(entry(none, 'model.source').summary).toContain(`from ${hub.url} (MODELSCOPE_DOMAIN) at start`);
    expect(hub.requests.map((q) => q.url)).toContain('/api/v1/models/Qwen/Qwen3Guard-Gen-8B/repo/files?Revision=master&Recursive=true');
  });

  it('--source dir skips model.source; the web image cannot download; bad --source values are usage errors', async () => {
    const home = await tempDir('gd-hf-');
    const cache = await writeHfCache(home, { size: '8B' });
    const dir = await check(['--model-dir', cache.snapshotDir], {});
    expect(entry(dir, 'model.source')).toMatchObject({ status: 'skip' });
    const web = await check(['--server', 'web', '--image', 'example/web:1'], { HF_HOME: home, HF_HUB_OFFLINE: '1' });
    expect(entry(web, 'model.source')).toMatchObject({ status: 'fail', summary: 'the web image loads a model folder and does not download from a hub, so --source hf cannot serve it' });
    for (const [args, message] of [
      [['--source', 'git'], /--source: unknown source "git". Valid: dir/],
      [['--source', 'dir'], /--source dir needs the folder: give --model-dir PATH/],
      [['--source', 'hf', '--model-dir', cache.snapshotDir], /--source hf and --model-dir\/--mount both say where the model comes from/],
      [['--container-model-dir', '/models/x'], /--container-model-dir names a folder inside the container, but with --source hf the server downloads Qwen\/Qwen3Guard-Gen-8B/],
    ] as const) {
      const r = await runCli(['check', ...args]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('up --dry-run with a hub source', () => {
  afterAll(removeTempDirs);

  it('serves the hub id positionally, mounts the cache read-write, and passes HF_TOKEN/HF_ENDPOINT/HF_HUB_OFFLINE by name only', async () => {
    const home = await tempDir('gd-hf-');
    const r = await runCli(['up', '--dry-run', '--model', 'Qwen3Guard-Gen-4B'], { env: { HF_HOME: home, HF_TOKEN: GOOD, HF_ENDPOINT: 'https://hf-mirror.com', HF_HUB_OFFLINE: '0' } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain(GOOD);
    expect(r.stdout).toContain('# --env values are not shown: docker reads them from the environment, so export HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE first');
    const lines = r.stdout.split('\n').map((l) => l.trim().replace(/ \\$/, ''));
    expect(lines).toContain(`-v ${home}:/root/.cache/huggingface:rw`);
    expect(lines).toEqual(expect.arrayContaining(['--env HF_TOKEN', '--env HF_ENDPOINT', '--env HF_HUB_OFFLINE']));
    expect(r.stdout).toMatch(/vllm\/vllm-openai:v0\.11\.0 Qwen\/Qwen3Guard-Gen-4B --served-model-name Qwen3Guard-Gen-4B --max-model-len 32768/);
    expect(r.stdout).not.toContain('--model /models');
  });

  it('a hub cache kept apart (HF_HUB_CACHE) is mounted at its place; ModelScope sets VLLM_USE_MODELSCOPE', async () => {
    const home = await tempDir('gd-hf-');
    const hubCache = await tempDir('gd-hub-cache-');
    const hf = await runCli(['up', '--dry-run'], { env: { HF_HOME: home, HF_HUB_CACHE: hubCache } });
    const lines = hf.stdout.split('\n').map((l) => l.trim().replace(/ \\$/, ''));
    expect(lines).toEqual(expect.arrayContaining([`-v ${home}:/root/.cache/huggingface:rw`, `-v ${hubCache}:/root/.cache/huggingface/hub:rw`]));
    const ms = await runCli(['up', '--dry-run', '--source', 'modelscope', '--json'], { env: { MODELSCOPE_CACHE: hubCache } });
    expect(ms.exitCode).toBe(0);
    expect(ms.json.launch.command).toContain(`-v ${hubCache}:/root/.cache/modelscope/hub:rw`);
    expect(ms.json.launch.command).toContain('--env VLLM_USE_MODELSCOPE=true');
    expect(ms.json.launch.command).toContain('Qwen/Qwen3Guard-Gen-8B --served-model-name Qwen3Guard-Gen-8B');
  });
});

describe.skipIf(fleetUnavailable() !== null)('check --host with --source hf: the host\'s cache, and the hub as the host reaches it', () => {
  let fleet: Fleet;
  let gated: HubServer;
  let localHome: string;
  let cache: Awaited<ReturnType<typeof writeHfCache>>;
  const hostA = () => fleet.hosts['gpu-a']!;
  beforeAll(async () => {
    // Each host keeps its cache where its own HF_HOME says; this machine's cache is empty.
    fleet = await startFleet([
      { alias: 'gpu-a', smi: 'h100', env: { HF_HOME: '/srv/models/hf' } },
      { alias: 'gpu-b', smi: 'h100', env: { HF_HOME: '/srv/models/hf' } },
    ]);
    gated = await startHubServer({ gated: 'manual', grantedTokens: [GOOD] });
    localHome = await tempDir('gd-hf-local-');
    const home = path.join(hostA().modelsDir, 'hf');
    await mkdir(home);
    cache = await writeHfCache(home, { size: '4B' });
    // gpu-a's curl is the real one, behind a wrapper that records what `ps` shows on the machine while it runs.
    const bin = path.join(hostA().dir, 'bin');
    await writeFile(path.join(bin, 'curl'), ['#!/bin/sh', `ps -eo args >> ${path.join(hostA().dir, 'ps.txt')}`, `printf '%s\\n' "$@" >> ${path.join(hostA().dir, 'curl-args.txt')}`, 'exec /usr/bin/curl "$@"', ''].join('\n'));
    await chmod(path.join(bin, 'curl'), 0o755);
    // gpu-b has no curl (hand-written: the shell's answer for a command it cannot find, exit 127).
    const binB = path.join(fleet.hosts['gpu-b']!.dir, 'bin');
    await writeFile(path.join(binB, 'curl'), ['#!/bin/sh', 'echo "sh: 1: curl: not found" >&2', 'exit 127', ''].join('\n'));
    await chmod(path.join(binB, 'curl'), 0o755);
  }, 120_000);
  afterAll(async () => {
    await gated?.close();
    await fleet?.stop();
    await removeTempDirs();
  });

  it('gpu-a: its own HF_HOME and snapshot are judged, the hub is asked from gpu-a with the token on stdin, never on a command line', async () => {
    const r = await runCli(['check', '--host', 'gpu-a', '--host', 'gpu-b', '--cpu', '--json', '--model', 'Qwen3Guard-Gen-4B', '--probe-timeout', '30'], {
      fakeBin: false,
      env: { ...fleet.env, HF_HOME: localHome, HF_HUB_OFFLINE: undefined, HF_ENDPOINT: gated.url, HF_TOKEN: GOOD },
    });
    expect(r.json, r.stderr).toBeDefined();
    expect(r.stdout + r.stderr).not.toContain(GOOD);
    const [a, b] = r.json.hosts as { host: string; checks: Entry[] }[];
    const source = a!.checks.find((c) => c.id === 'model.source')!;
    expect(source.measured).toMatchObject({ cacheDir: '/srv/models/hf/hub', snapshot: `/srv/models/hf/hub/models--Qwen--Qwen3Guard-Gen-4B/snapshots/${COMMIT}`, cached: 'complete', hubState: 'answered', gated: 'manual', access: 'granted' });
    expect(source.status, source.summary).toBe('pass');
    expect(source.summary).not.toContain('asked from this machine');
    expect(a!.checks.find((c) => c.id === 'model.files')?.status).toBe('pass');
    // The gated repo's access check reached the hub with the token: it was sent from gpu-a's curl.
    expect(gated.requests.filter((q) => q.authorization === `Bearer ${GOOD}`).length).toBeGreaterThanOrEqual(2);
    const args = await readFile(path.join(hostA().dir, 'curl-args.txt'), 'utf8');
    expect(args).toContain(`${gated.url}/api/models/Qwen/Qwen3Guard-Gen-4B/revision/main?blobs=true`);
    expect(args).not.toContain(GOOD);
    const ps = await readFile(path.join(hostA().dir, 'ps.txt'), 'utf8');
    expect(ps).toContain('curl');
    expect(ps).not.toContain(GOOD);
    // The local machine's empty cache played no part.
    expect(cache.snapshotDir.startsWith(hostA().modelsDir)).toBe(true);

    // gpu-b has no curl: the hub was asked from this machine, and the summary says so.
    const bSource = b!.checks.find((c) => c.id === 'model.source')!;
    expect(bSource.summary).toContain('the hub was asked from this machine, not from gpu-b (curl is not installed on gpu-b): whether gpu-b reaches it is not known');
    expect(bSource.measured).toMatchObject({ cacheDir: '/srv/models/hf/hub', cached: 'absent' });
  }, 180_000);
});
