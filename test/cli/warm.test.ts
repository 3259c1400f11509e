/**
 * `guard-doctor warm --url`: waiting for and warming a server started some other way, against
 * the stand-in guard server running in this process (real HTTP on loopback), as the user
 * sees it: the report lines, the JSON, the exit code.
 */
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { execa } from 'execa';
import { BIN, runCli } from '../helpers/cli.js';
// @ts-expect-error plain ESM test server without type declarations
import { startGuardServer } from '../server/guard-server.mjs';

type Server = { url: string; port: number; close(): Promise<void> };
const servers: Server[] = [];
async function serve(options: Record<string, unknown>): Promise<Server> {
  const server = (await startGuardServer(options)) as Server;
  servers.push(server);
  return server;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const statuses = (json: { checks: { id: string; status: string }[] }) => json.checks.map((c) => `${c.id}:${c.status}`);

describe.concurrent('warm --url', () => {
  it('waits while vLLM loads (connection refused), then warms: cold latency and warm p50 of 5 requests', async () => {
    const server = await serve({ kind: 'vllm', loadMs: 1500, servedModelName: 'Qwen3Guard-Gen-4B' });
    const result = await runCli(['warm', '--url', server.url, '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(statuses(result.json)).toEqual(['server.ready:pass', 'server.warm:pass']);
    expect(result.json.warm).toMatchObject({ url: server.url, servedModelName: 'Qwen3Guard-Gen-4B' });
    expect(result.json.warm.warmMs).toHaveLength(5);
    expect(result.json.checks[0].summary).toContain('/v1/models lists Qwen3Guard-Gen-4B');
  });

  it('the first request of the web image is slow: it is the cold request, given its own long time limit', async () => {
    const server = await serve({ kind: 'web', firstMs: 2500 });
    const result = await runCli(['warm', '--url', server.url, '--server', 'web', '--request-timeout', '1']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/server\.warm +cold request 2\.\d\d s, warm p50 \d+ ms over 5 requests/);
  });

  it('a warm p50 over 2 s is a warning (exit 0), and fails with --strict', async () => {
    const server = await serve({ kind: 'vllm', latencyMs: 2100 });
    const result = await runCli(['warm', '--url', server.url, '--json', '--strict']);
    expect(result.exitCode).toBe(1);
    const warm = result.json.checks.find((c: { id: string }) => c.id === 'server.warm');
    expect(warm.status).toBe('warn');
    expect(warm.summary).toMatch(/warm p50 2\.\d\d s over 5 requests: over 2\.00 s means the server is overloaded/);
    expect(warm.measured.warmP50Ms).toBeGreaterThan(2000);
  }, 60_000);

  it('nothing answers: gives up at --ready-timeout with exit 4 and what it saw', async () => {
    const port = await closedPort();
    const result = await runCli(['warm', '--url', `http://127.0.0.1:${port}`, '--ready-timeout', '1.5']);
    expect(result.exitCode).toBe(4);
    expect(result.stdout).toContain('server.ready');
    expect(result.stdout).toContain('no answer within 1.50 s (--ready-timeout); last seen: connection refused (the server is still loading)');
  });

  it('another model answers: exit 4 naming what is served, without waiting for the time-out', async () => {
    const server = await serve({ kind: 'vllm', servedModelName: 'Qwen3Guard-Gen-8B' });
    const result = await runCli(['warm', '--url', server.url, '--model', 'qwen3guard-gen-0.6b', '--json']);
    expect(result.exitCode).toBe(4);
    expect(result.json.checks[0]).toMatchObject({ id: 'server.ready', status: 'fail', summary: 'the server answers but GET /v1/models lists Qwen3Guard-Gen-8B, not Qwen3Guard-Gen-0.6B' });
  });

  it('a cold request that never answers hits --warm-timeout: exit 4', async () => {
    const server = await serve({ kind: 'vllm', bugs: ['hang'] });
    const result = await runCli(['warm', '--url', server.url, '--warm-timeout', '1', '--json']);
    expect(result.exitCode).toBe(4);
    const warm = result.json.checks.find((c: { id: string }) => c.id === 'server.warm');
    expect(warm.status).toBe('fail');
    expect(warm.summary).toMatch(/^the cold request failed: .*within 1 s/);
  });

  it('a server that answers 500 to every moderation request is not warm: exit 4 with its answer', async () => {
    const server = await serve({ kind: 'web', bugs: ['error-500'] });
    const result = await runCli(['warm', '--url', server.url, '--server', 'web', '--json']);
    expect(result.exitCode).toBe(4);
    expect(result.json.checks[1].summary).toMatch(/^the cold request failed: the server answered HTTP 500/);
  });
});

describe('warm --url, interrupted', () => {
  it('Ctrl-C while waiting: exit 130 with one line naming the signal, no report and no stack', async () => {
    const port = await closedPort();
    const child = execa(process.execPath, [BIN, 'warm', '--url', `http://127.0.0.1:${port}`, '--ready-timeout', '120'], { env: { NO_COLOR: '1', CI: '' }, reject: false, timeout: 60_000 });
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stderr.trim().split('\n').at(-1)).toBe('guard-doctor: interrupted by SIGINT');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).not.toContain('server.ready');
  });
});
