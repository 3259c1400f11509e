/**
 * Servers that require an API key (vLLM started with --api-key or VLLM_API_KEY), over real HTTP
 * on loopback: the stand-in behaves like vLLM's AuthenticationMiddleware, and `warm`, `suite` and
 * `watch` send the key from --api-key-env (default VLLM_API_KEY), fail with the cause and the
 * option when they hold none or the wrong one, and never print the key: not in the output, the
 * JSON, JUnit, the Prometheus textfile or the GitHub annotations.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { inspect } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { resolveSettings } from '../../src/settings.js';
// @ts-expect-error plain ESM test server without type declarations
import { startGuardServer } from '../server/guard-server.mjs';

const KEY = 'sk-guard-e2e-7f3a9c1d5b';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'guard-doctor-api-key-'));

type Server = { url: string; port: number; close(): Promise<void>; stats(): { requests: number } };
const servers: Server[] = [];
async function keyed(extra: Record<string, unknown> = {}): Promise<Server> {
  const server = (await startGuardServer({ kind: 'vllm', servedModelName: 'Qwen3Guard-Gen-4B', maxModelLen: 8192, apiKeys: [KEY], ...extra })) as Server;
  servers.push(server);
  return server;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
});

const byId = (json: any, id: string) => (json.checks as any[]).find((c) => c.id === id);

/** Everything the user or CI can see of a run, files included. */
function expectNoKey(result: CliResult, ...files: string[]): void {
  expect(result.stdout).not.toContain(KEY);
  expect(result.stderr).not.toContain(KEY);
  for (const file of files) expect(readFileSync(file, 'utf8'), file).not.toContain(KEY);
}

describe('the stand-in speaks vLLM\'s API-key behaviour', () => {
  it('every /v1 path answers 401 {"error":"Unauthorized"} without the key; /health and /metrics stay open', async () => {
    const server = await keyed();
    for (const [path, init] of [
      ['/v1/models', {}],
      ['/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
      ['/v1/no-such-route', {}],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, init);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.text()).toBe('{"error":"Unauthorized"}');
    }
    const wrong = await fetch(`${server.url}/v1/models`, { headers: { authorization: 'Bearer not-the-key' } });
    expect(wrong.status).toBe(401);
    const basic = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Basic ${KEY}` } });
    expect(basic.status).toBe(401);
    // vLLM compares the scheme case-insensitively.
    const lower = await fetch(`${server.url}/v1/models`, { headers: { authorization: `bearer ${KEY}` } });
    expect(lower.status).toBe(200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE vllm:num_requests_running gauge');
  });

  it('as a script it reads VLLM_API_KEY (and --api-key), and takes the model positionally', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const folder = path.join(tmp, 'Qwen3Guard-Gen-4B');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'config.json'), '{"architectures":["Qwen3ForCausalLM"]}');
    const child = execa(process.execPath, [path.join(ROOT, 'test', 'server', 'guard-server.mjs'), 'serve', folder, '--port', String(port), '--host', '127.0.0.1', '--api-key', 'second-key'], {
      env: { VLLM_API_KEY: KEY },
      reject: false,
    });
    try {
      let models: Response | null = null;
      for (let i = 0; i < 100 && !models; i++) {
        models = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: 'Bearer second-key' } }).catch(() => null);
        if (!models) await new Promise((r) => setTimeout(r, 50));
      }
      expect(models!.status).toBe(200);
      expect(((await models!.json()) as any).data[0].id).toBe(folder);
      // --api-key wins over VLLM_API_KEY, as in vLLM.
      expect((await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
      await child;
    }
    expect((await child).stderr).not.toContain('--model` option will be removed');
  });
});

describe('warm --url against a keyed server', () => {
  it('without a key: not "ready" silently; server.ready fails naming the cause and --api-key-env (exit 1)', async () => {
    const server = await keyed();
    const result = await runCli(['warm', '--url', server.url, '--json'], { env: { VLLM_API_KEY: '' } });
    expect(result.exitCode, result.stderr).toBe(1);
    const ready = byId(result.json, 'server.ready');
    expect(ready.status).toBe('fail');
    expect(ready.summary).toBe('GET /health 200, but GET /v1/models answered 401 Unauthorized: the server requires an API key (it was started with --api-key or VLLM_API_KEY) and guard-doctor has none');
    expect(ready.fix).toContain('--api-key-env NAME');
    expect(result.json.checks.map((c: any) => c.id)).toEqual(['server.ready']);

    const human = await runCli(['warm', '--url', server.url], { env: { VLLM_API_KEY: '' } });
    expect(human.exitCode).toBe(1);
    expect(human.stdout).toMatch(/✗ server\.ready +GET \/health 200, but GET \/v1\/models answered 401 Unauthorized/);
    expect(human.stdout).toContain('export the key as VLLM_API_KEY');
  });

  it('with VLLM_API_KEY in the environment: ready, warmed, and the key is nowhere in the output', async () => {
    const server = await keyed();
    const json = await runCli(['warm', '--url', server.url, '--json'], { env: { VLLM_API_KEY: KEY } });
    expect(json.exitCode, json.stderr).toBe(0);
    expect(json.json.checks.map((c: any) => `${c.id}:${c.status}`)).toEqual(['server.ready:pass', 'server.warm:pass']);
    expectNoKey(json);
    const human = await runCli(['warm', '--url', server.url, '-v'], { env: { VLLM_API_KEY: KEY } });
    expect(human.exitCode).toBe(0);
    expectNoKey(human);
  });

  it('with the wrong key: the server rejected the key from $VLLM_API_KEY (exit 1)', async () => {
    const server = await keyed();
    const result = await runCli(['warm', '--url', server.url, '--json'], { env: { VLLM_API_KEY: 'wrong-key-123456' } });
    expect(result.exitCode).toBe(1);
    expect(byId(result.json, 'server.ready').summary).toBe('GET /health 200, but GET /v1/models answered 401 Unauthorized: the server rejected the API key from $VLLM_API_KEY');
    expect(result.stdout).not.toContain('wrong-key-123456');
  });

  it('--api-key-env names another variable; an unset one is a usage error (exit 2); a key value given by mistake is not echoed', async () => {
    const server = await keyed();
    const ok = await runCli(['warm', '--url', server.url, '--api-key-env', 'GUARD_KEY', '--json'], { env: { GUARD_KEY: KEY, VLLM_API_KEY: '' } });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expectNoKey(ok);
    const unset = await runCli(['warm', '--url', server.url, '--api-key-env', 'NOT_SET_ANYWHERE'], { env: { VLLM_API_KEY: KEY } });
    expect(unset.exitCode).toBe(2);
    expect(unset.stderr).toContain('--api-key-env: the variable NOT_SET_ANYWHERE is not set (or empty)');
    const pasted = await runCli(['warm', '--url', server.url, '--api-key-env', `${KEY}!`]);
    expect(pasted.exitCode).toBe(2);
    expect(pasted.stderr).toContain('is not an environment variable name');
    expectNoKey(pasted);
  });
});

describe('suite --url against a keyed server', () => {
  it('with the key: every case runs and passes; JSON, JUnit and the Prometheus textfile hold no key', async () => {
    const server = await keyed();
    const junit = path.join(tmp, 'suite.xml');
    const prom = path.join(tmp, 'suite.prom');
    const result = await runCli(['suite', '--url', server.url, '--max-model-len', '8192', '--api-key-env', 'GUARD_KEY', '--json', '--junit', junit, '--prom-file', prom], {
      env: { GUARD_KEY: KEY, GITHUB_ACTIONS: 'true' },
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.cases.length).toBeGreaterThan(10);
    expect(result.json.cases.every((c: any) => c.status === 'pass' || c.status === 'skip')).toBe(true);
    expect(result.json.checks ?? []).toEqual([]);
    expectNoKey(result, junit, prom);
  });

  it('without a key: server.auth fails with the cause and the option, the cases are unanswered, exit 1', async () => {
    const server = await keyed();
    const junit = path.join(tmp, 'unauth.xml');
    const result = await runCli(['suite', '--url', server.url, '--json', '--junit', junit], { env: { VLLM_API_KEY: '' } });
    expect(result.exitCode).toBe(1);
    const auth = byId(result.json, 'server.auth');
    expect(auth).toMatchObject({ status: 'fail', title: 'API key' });
    expect(auth.summary).toBe('GET /v1/models answered 401 Unauthorized: the server requires an API key (it was started with --api-key or VLLM_API_KEY) and guard-doctor has none');
    expect(auth.fix).toContain('--api-key-env NAME');
    expect(result.json.cases.filter((c: any) => c.status === 'pass')).toEqual([]);
    expect(readFileSync(junit, 'utf8')).toContain('server.auth');

    const human = await runCli(['suite', '--url', server.url], { env: { VLLM_API_KEY: '' } });
    expect(human.exitCode).toBe(1);
    expect(human.stdout).toMatch(/✗ server\.auth +GET \/v1\/models answered 401 Unauthorized/);
    expect(human.stdout).not.toContain('no case got a readable answer');
  });
});

describe('watch --url against a keyed server', () => {
  it('without a key the load cannot run: watch.load fails with the cause and the option', async () => {
    const server = await keyed();
    const result = await runCli(['watch', '--interval', '0.25', '--duration', '1.5', '--url', server.url, '--json'], {
      env: { FAKE_NVIDIA_SMI: path.join(ROOT, 'test', 'fixtures', 'watch', 'flat'), FAKE_NVIDIA_SMI_STATE: mkdtempSync(path.join(tmp, 'smi-')), VLLM_API_KEY: '' },
    });
    const load = byId(result.json, 'watch.load');
    expect(load.status).toBe('fail');
    expect(load.summary).toContain('answered 401 Unauthorized: the server requires an API key');
    expect(load.fix).toContain('--api-key-env NAME');
    expect(result.exitCode).toBe(1);
  });

  it('with the key it drives the suite; the key is never printed', async () => {
    const server = await keyed();
    const result = await runCli(['watch', '--interval', '0.25', '--duration', '2', '--url', server.url, '--json'], {
      env: { FAKE_NVIDIA_SMI: path.join(ROOT, 'test', 'fixtures', 'watch', 'flat'), FAKE_NVIDIA_SMI_STATE: mkdtempSync(path.join(tmp, 'smi-')), VLLM_API_KEY: KEY },
    });
    expect(byId(result.json, 'watch.load').status).not.toBe('fail');
    expect(server.stats().requests).toBeGreaterThan(5);
    expectNoKey(result);
  });
});

describe('the key in settings', () => {
  it('prints as its variable name in JSON, strings and util.inspect', () => {
    const settings = resolveSettings('suite', { url: 'http://127.0.0.1:8000' }, {}, tmp, { VLLM_API_KEY: KEY });
    expect(settings.apiKey?.envName).toBe('VLLM_API_KEY');
    expect(JSON.stringify(settings)).not.toContain(KEY);
    expect(inspect(settings, { depth: 5 })).not.toContain(KEY);
    expect(String(settings.apiKey)).toBe('<VLLM_API_KEY>');
  });

  it('up takes the value of --env VLLM_API_KEY=... before the doctor\'s own environment; commands without /v1 requests read none', () => {
    const up = resolveSettings('up', { env: [`VLLM_API_KEY=${KEY}`], cpu: true }, {}, tmp, { VLLM_API_KEY: 'from-the-shell' });
    expect(up.apiKey).toMatchObject({ envName: 'VLLM_API_KEY', from: '--env' });
    expect(up.apiKey!.bearer()).toBe(`Bearer ${KEY}`);
    expect(resolveSettings('check', {}, {}, tmp, { VLLM_API_KEY: KEY }).apiKey).toBeNull();
    expect(resolveSettings('suite', {}, {}, tmp, { VLLM_API_KEY: '' }).apiKey).toBeNull();
  });

  it('up refuses --api-key among the server arguments: the key would sit on a command line', async () => {
    const result = await runCli(['up', '--dry-run', '--cpu', '--', '--api-key', KEY]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('pass it as --env VLLM_API_KEY=... instead');
    expectNoKey(result);
  });
});
