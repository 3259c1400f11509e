/**
 * `guard-doctor metrics --url ...` against real HTTP metrics endpoints started here: the
 * stand-in guard servers (web app metrics and vLLM), and small exporters with the mistakes
 * hand-written exporters make.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ROOT, runCli } from '../helpers/cli.js';
// @ts-expect-error plain ESM test server without type declarations
import { startGuardServer } from '../server/guard-server.mjs';

const fixture = (name: string) => readFileSync(path.join(ROOT, 'test', 'fixtures', 'prom', name), 'utf8');

interface Endpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A metrics endpoint that answers `body` (or never answers, or another status) at /metrics. */
async function serveMetrics(body: string, options: { host?: string; status?: number; contentType?: string; hang?: boolean; auth?: string } = {}): Promise<Endpoint> {
  const server = http.createServer((req, res) => {
    if (options.hang) return; // holds the connection open, answers nothing
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}');
      return;
    }
    if (options.auth && req.headers.authorization !== `Basic ${Buffer.from(options.auth).toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="metrics"' }).end('Unauthorized');
      return;
    }
    res.writeHead(options.status ?? 200, { 'content-type': options.contentType ?? 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const endpoints: Endpoint[] = [];
async function endpoint(body: string, options?: Parameters<typeof serveMetrics>[1]): Promise<Endpoint> {
  const e = await serveMetrics(body, options);
  endpoints.push(e);
  return e;
}

const byId = (json: any, id: string) => (json.checks as any[]).find((c) => c.id === id);

const WEB_HEAD = fixture('web-app.txt');
/** The web app's page with its duration histogram replaced. */
function webWithHistogram(histogramLines: string[]): string {
  const lines = WEB_HEAD.split('\n');
  const kept = lines.filter((l) => !l.startsWith('qwen_guard_request_duration_seconds_bucket') && !l.startsWith('qwen_guard_request_duration_seconds_sum') && !l.startsWith('qwen_guard_request_duration_seconds_count'));
  const at = kept.indexOf('# TYPE qwen_guard_request_duration_seconds histogram') + 1;
  kept.splice(at, 0, ...histogramLines);
  return kept.join('\n');
}

let webServer: { url: string; metricsUrl: string; close(): Promise<void> };
let vllmServer: { url: string; close(): Promise<void> };

beforeAll(async () => {
  webServer = await startGuardServer({ kind: 'web', metricsPort: 0 });
  vllmServer = await startGuardServer({ kind: 'vllm' });
});

afterAll(async () => {
  await Promise.all([webServer?.close(), vllmServer?.close(), ...endpoints.map((e) => e.close())]);
});

/** One moderation request, so the web app's labelled request counter has a series. */
async function judgeOnce(url: string): Promise<void> {
  const res = await fetch(`${url}/judge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'Hello there' }) });
  expect(res.status).toBe(200);
}

describe('metrics: correct endpoints', () => {
  it('a server that has served nothing yet: its labelled counter is "declared, no samples yet", not present (exit 1)', async () => {
    const fresh = await startGuardServer({ kind: 'web', metricsPort: 0 });
    try {
      const { exitCode, json } = await runCli(['metrics', '--url', fresh.metricsUrl, '--server', 'web', '--json']);
      const expected = byId(json, 'metrics.expected');
      expect(expected.status).toBe('fail');
      expect(expected.summary).toBe('declared, no samples yet: qwen_guard_request_total');
      expect(expected.measured.declaredOnly).toEqual(['qwen_guard_request_total']);
      expect(expected.fix).toContain('send it a request');
      expect(byId(json, 'metrics.format').status).toBe('pass');
      expect(exitCode).toBe(1);
      await judgeOnce(fresh.url);
      const after = await runCli(['metrics', '--url', fresh.metricsUrl, '--server', 'web', '--json']);
      expect(byId(after.json, 'metrics.expected').status).toBe('pass');
      expect(after.exitCode).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  it('the web app metrics of the stand-in server pass every check (exit 0)', async () => {
    await judgeOnce(webServer.url);
    const { exitCode, json } = await runCli(['metrics', '--url', webServer.metricsUrl, '--server', 'web', '--json']);
    expect(json.command).toBe('metrics');
    expect(json.checks.map((c: any) => [c.id, c.status])).toEqual([
      ['metrics.scrape', 'pass'],
      ['metrics.format', 'pass'],
      ['metrics.naming', 'pass'],
      ['metrics.expected', 'pass'],
      ['metrics.cardinality', 'pass'],
      ['metrics.exposure', 'pass'],
    ]);
    expect(exitCode).toBe(0);
    expect(json.metrics).toMatchObject({ url: webServer.metricsUrl, server: 'web', families: 4 });
  });

  it('vLLM metrics pass with --server vllm (the default) and fail as web metrics, pointing at --server vllm', async () => {
    const asVllm = await runCli(['metrics', '--url', `${vllmServer.url}/metrics`, '--json']);
    expect(asVllm.exitCode).toBe(0);
    expect(byId(asVllm.json, 'metrics.expected').status).toBe('pass');

    const asWeb = await runCli(['metrics', '--url', `${vllmServer.url}/metrics`, '--server', 'web', '--json']);
    expect(asWeb.exitCode).toBe(1);
    const expected = byId(asWeb.json, 'metrics.expected');
    expect(expected.status).toBe('fail');
    expect(expected.summary).toContain('missing: qwen_guard_request_total');
    expect(expected.fix).toContain('--server vllm');
  });

  it('a recorded vLLM 0.11 page passes; an older release with vllm:gpu_cache_usage_perc passes too', async () => {
    for (const name of ['vllm-0.11.txt', 'vllm-0.6.txt']) {
      const e = await endpoint(fixture(name));
      const { exitCode, json } = await runCli(['metrics', '--url', e.url, '--json']);
      expect(byId(json, 'metrics.expected').status, name).toBe('pass');
      expect(byId(json, 'metrics.format').status, name).toBe('pass');
      expect(exitCode, name).toBe(0);
    }
  });

  it('the human report lists every check and the footer', async () => {
    await judgeOnce(webServer.url);
    const { exitCode, stdout } = await runCli(['metrics', '--url', webServer.metricsUrl, '--server', 'web']);
    expect(exitCode).toBe(0);
    expect(stdout).toContain(`guard-doctor metrics: ${webServer.metricsUrl} (expecting web metrics)`);
    expect(stdout).toMatch(/✓ metrics\.expected\s+all 4 web metrics present/);
    expect(stdout).toContain('6 passed (6 checks) exit 0');
  });
});

describe('metrics: broken exporters', () => {
  it('a broken histogram warns in metrics.format, naming the line (exit 0; 1 with --strict)', async () => {
    const body = webWithHistogram([
      'qwen_guard_request_duration_seconds_bucket{le="0.5",method="POST"} 19.0',
      'qwen_guard_request_duration_seconds_bucket{le="0.25",method="POST"} 4.0',
      'qwen_guard_request_duration_seconds_bucket{le="+Inf",method="POST"} 62.0',
      'qwen_guard_request_duration_seconds_count{method="POST"} 63.0',
    ]);
    const e = await endpoint(body);
    const { exitCode, json } = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    // The reference parsers accept it (classic histograms are not checked on scrape); histogram_quantile() does not.
    expect(exitCode).toBe(0);
    const format = byId(json, 'metrics.format');
    expect(format.status).toBe('warn');
    expect(byId(json, 'metrics.naming').status).toBe('warn');
    const lineOf = (text: string) => body.split('\n').indexOf(text) + 1;
    expect(format.measured.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: lineOf('qwen_guard_request_duration_seconds_bucket{le="0.25",method="POST"} 4.0'), message: expect.stringContaining('buckets must be in ascending order of le') }),
      ]),
    );
    expect(byId(json, 'metrics.naming').measured.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ message: expect.stringContaining('le="+Inf" bucket (62) differs from qwen_guard_request_duration_seconds_count (63)') }),
        expect.objectContaining({ message: expect.stringContaining('has no qwen_guard_request_duration_seconds_sum') }),
      ]),
    );
    expect(format.summary).toMatch(/^1 warning; first: line \d+: /);
    expect((await runCli(['metrics', '--url', e.url, '--server', 'web', '--json', '--strict'])).exitCode).toBe(1);
    // The metric is present, so only the format fails.
    expect(byId(json, 'metrics.expected').status).toBe('pass');

    const human = await runCli(['metrics', '--url', e.url, '--server', 'web']);
    expect(human.stdout).toContain(`line ${lineOf('qwen_guard_request_duration_seconds_bucket{le="0.25",method="POST"} 4.0')}: bucket le="0.25" comes after le="0.5"`);
    expect(human.stdout).toContain('| qwen_guard_request_duration_seconds_bucket{le="0.25",method="POST"} 4.0');
  });

  it('a counter not ending in _total is a metrics.naming warning; metrics.expected fails (exit 1)', async () => {
    const body = WEB_HEAD.replace(/qwen_guard_request_total/g, 'qwen_guard_requests').replace(/qwen_guard_request_created/g, 'qwen_guard_requests_created');
    const e = await endpoint(body);
    const { exitCode, json } = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    expect(exitCode).toBe(1);
    const naming = byId(json, 'metrics.naming');
    expect(naming.status).toBe('warn');
    expect(naming.summary).toContain('line 3: counter qwen_guard_requests does not end in _total');
    expect(naming.fix).toContain('_total');
    expect(byId(json, 'metrics.format').status).toBe('pass');
    expect(byId(json, 'metrics.expected').summary).toBe('missing: qwen_guard_request_total (qwen_guard_requests looks like it, under another name)');
  });

  it('latency in milliseconds is a naming warning: exit 0, exit 1 with --strict', async () => {
    const body = `${WEB_HEAD}# HELP qwen_guard_queue_wait_ms Time waiting for the model lock.\n# TYPE qwen_guard_queue_wait_ms gauge\nqwen_guard_queue_wait_ms 12.0\n`;
    const e = await endpoint(body);
    const loose = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    expect(byId(loose.json, 'metrics.naming')).toMatchObject({ status: 'warn', summary: expect.stringContaining('qwen_guard_queue_wait_seconds') });
    expect(loose.exitCode).toBe(0);
    const strict = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json', '--strict']);
    expect(strict.exitCode).toBe(1);
  });

  it('a metric with a wrong type or without its labels fails metrics.expected', async () => {
    const body = WEB_HEAD.replace('# TYPE qwen_guard_active_requests gauge', '# TYPE qwen_guard_active_requests untyped').replace('qwen_guard_gpu_memory_usage_bytes{device="cuda:0"}', 'qwen_guard_gpu_memory_usage_bytes');
    const e = await endpoint(body);
    const { exitCode, json } = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    expect(exitCode).toBe(1);
    const expected = byId(json, 'metrics.expected');
    expect(expected.summary).toBe('qwen_guard_active_requests is a untyped, expected a gauge; qwen_guard_gpu_memory_usage_bytes lacks the label device');
  });

  it('a high-cardinality label warns with the metric, the count and an example (exit 0; 1 with --strict)', async () => {
    const rows = Array.from({ length: 250 }, (_, i) => `qwen_guard_request_by_client_total{client="10.0.${Math.floor(i / 200)}.${i % 200}",request_id="5f0c6a4e-8b8d-4c1e-9a47-${String(i).padStart(12, '0')}"} 1.0`);
    const body = `${WEB_HEAD}# HELP qwen_guard_request_by_client_total Requests per client.\n# TYPE qwen_guard_request_by_client_total counter\n${rows.join('\n')}\n`;
    const e = await endpoint(body);
    const { exitCode, json } = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    const cardinality = byId(json, 'metrics.cardinality');
    expect(cardinality.status).toBe('warn');
    expect(cardinality.summary).toContain('qwen_guard_request_by_client_total has 250 series');
    expect(cardinality.summary).toContain('over the limit of 100');
    expect(cardinality.summary).toContain('label request_id of qwen_guard_request_by_client_total holds values that look like id (UUID)');
    expect(cardinality.measured.over[0]).toMatchObject({ metric: 'qwen_guard_request_by_client_total', series: 250 });
    expect(exitCode).toBe(0);

    const raised = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json', '--cardinality-limit', '1000']);
    // Over no limit now, but the UUIDs still look unbounded.
    expect(byId(raised.json, 'metrics.cardinality').summary).not.toContain('over the limit');
    expect(byId(raised.json, 'metrics.cardinality').status).toBe('warn');

    const strict = await runCli(['metrics', '--url', e.url, '--server', 'web', '--strict']);
    expect(strict.exitCode).toBe(1);
  });

  it('hundreds of broken lines: every one is counted, the first ones are listed with their lines', async () => {
    const rows = Array.from({ length: 400 }, (_, i) => `qwen_guard_debug_flag{id="${i}"} yes`);
    const body = `${WEB_HEAD}# HELP qwen_guard_debug_flag A flag.\n# TYPE qwen_guard_debug_flag gauge\n${rows.join('\n')}\n`;
    const e = await endpoint(body);
    const { json, stdout } = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    const format = byId(json, 'metrics.format');
    expect(format.measured.errors).toBe(400);
    expect(format.measured.problems).toHaveLength(50);
    expect(format.summary).toBe(`400 errors; first: line ${WEB_HEAD.split('\n').length + 2}: "yes" is not a number (a float, +Inf, -Inf or NaN) (+399 more)`);
    const human = await runCli(['metrics', '--url', e.url, '--server', 'web']);
    expect(human.stdout).toContain('... 40 more (-v or --json for all)');
    expect(stdout).toBeTruthy();
  });

  it('a body JSON-encoded by the web framework fails with a hint and a Content-Type warning', async () => {
    const e = await endpoint(JSON.stringify(WEB_HEAD), { contentType: 'application/json' });
    const { exitCode, json } = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    expect(exitCode).toBe(1);
    const format = byId(json, 'metrics.format');
    expect(format.measured.problems[0]).toMatchObject({ line: 1, message: expect.stringContaining('JSON-encoded string') });
    expect(format.details).toContain('Content-Type is "application/json"; Prometheus expects text/plain; version=0.0.4');
  });
});

describe('metrics: an endpoint that cannot be scraped', () => {
  it('connection refused is a fail (exit 1), the other checks skipped', async () => {
    const e = await serveMetrics('');
    await e.close();
    const { exitCode, json, stderr } = await runCli(['metrics', '--url', e.url, '--json']);
    expect(exitCode).toBe(1);
    expect(byId(json, 'metrics.scrape')).toMatchObject({ status: 'fail', summary: `connection refused by 127.0.0.1:${e.port}: nothing listens there` });
    expect(json.summary).toEqual({ pass: 0, warn: 0, fail: 1, skip: 5, error: 0 });
    expect(stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('one cause, one failure: the human report names the scrape as what the skipped checks need', async () => {
    const e = await serveMetrics('');
    await e.close();
    const { exitCode, stdout } = await runCli(['metrics', '--url', e.url]);
    expect(exitCode).toBe(1);
    expect(stdout).toMatch(/✗ metrics\.scrape\s+connection refused by 127\.0\.0\.1:\d+: nothing listens there/);
    for (const id of ['format', 'naming', 'expected', 'cardinality', 'exposure']) expect(stdout).toMatch(new RegExp(`- metrics\\.${id}\\s+skipped: needs metrics\\.scrape`));
    expect(stdout).toContain('1 failed, 0 passed, 5 skipped (6 checks) exit 1');
    const { json } = await runCli(['metrics', '--url', e.url, '--json']);
    expect(byId(json, 'metrics.exposure').measured).toEqual({ blockedBy: 'metrics.scrape' });
  });

  it('a wrong path (404) is a fail naming the status', async () => {
    const e = await endpoint(WEB_HEAD);
    const { exitCode, json } = await runCli(['metrics', '--url', e.url.replace('/metrics', '/metrix'), '--json']);
    expect(exitCode).toBe(1);
    expect(byId(json, 'metrics.scrape').summary).toContain('answered HTTP 404');
    expect(byId(json, 'metrics.scrape').fix).toContain('/metrics');
  });

  it('a hanging endpoint is "could not tell" under --request-timeout (exit 3)', async () => {
    const e = await endpoint('', { hang: true });
    const { exitCode, json } = await runCli(['metrics', '--url', e.url, '--json', '--request-timeout', '1']);
    expect(exitCode).toBe(3);
    expect(byId(json, 'metrics.scrape')).toMatchObject({ status: 'error', summary: expect.stringContaining('within 1 s') });
  });

  it('an endpoint asking for credentials is "could not tell" (exit 3); with them in the URL it passes and the password is never printed', async () => {
    const e = await endpoint(WEB_HEAD, { auth: 'prom:s3cret-pa55' });
    const without = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    expect(without.exitCode).toBe(3);
    expect(byId(without.json, 'metrics.scrape').summary).toContain('HTTP 401');

    const withAuth = await runCli(['metrics', '--url', e.url.replace('http://', 'http://prom:s3cret-pa55@'), '--server', 'web']);
    expect(withAuth.stdout).toContain('✓ metrics.scrape');
    expect(withAuth.stdout).toContain('http://prom:***@127.0.0.1');
    expect(withAuth.stdout + withAuth.stderr).not.toContain('s3cret-pa55');
    expect(withAuth.exitCode).toBe(0);
  });
});

describe('metrics: exposure', () => {
  const external = Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && a.family === 'IPv4')
    .map((a) => a!.address);

  it.runIf(external.length > 0)('warns when the endpoint also answers on a non-loopback address of this host', async () => {
    const e = await endpoint(WEB_HEAD, { host: '0.0.0.0' });
    const { exitCode, json } = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    const exposure = byId(json, 'metrics.exposure');
    expect(exposure.status).toBe('warn');
    expect(exposure.summary).toContain(`${external[0]}:${e.port}`);
    expect(exposure.summary).toContain('without authentication');
    expect(exposure.fix).toContain('127.0.0.1');
    expect(exitCode).toBe(0);
  });

  it.runIf(external.length > 0)('warns when the URL itself is a non-loopback address of this host', async () => {
    const e = await endpoint(WEB_HEAD, { host: '0.0.0.0' });
    const { json } = await runCli(['metrics', '--url', `http://${external[0]}:${e.port}/metrics`, '--server', 'web', '--json']);
    expect(byId(json, 'metrics.exposure')).toMatchObject({ status: 'warn', summary: expect.stringContaining(`${external[0]}:${e.port}`) });
  });

  it.runIf(external.length > 0)('passes when the other addresses ask for credentials', async () => {
    const e = await endpoint(WEB_HEAD, { host: '0.0.0.0', auth: 'prom:pw' });
    const { json } = await runCli(['metrics', '--url', e.url.replace('http://', 'http://prom:pw@'), '--server', 'web', '--json']);
    const exposure = byId(json, 'metrics.exposure');
    expect(exposure.status).toBe('pass');
    expect(exposure.summary).toContain(`${external[0]}: asks for credentials`);
  });

  it('passes when the endpoint listens on loopback only', async () => {
    const e = await endpoint(WEB_HEAD, { host: '127.0.0.1' });
    const { json } = await runCli(['metrics', '--url', e.url, '--server', 'web', '--json']);
    expect(byId(json, 'metrics.exposure').status).toBe('pass');
  });
});

describe('metrics: bad input', () => {
  it('no --url is a usage error (exit 2)', async () => {
    const { exitCode, stderr } = await runCli(['metrics']);
    expect(exitCode).toBe(2);
    expect(stderr).toContain('--url');
  });

  it('a --url that is not a URL is a usage error naming the option (exit 2)', async () => {
    const { exitCode, stderr } = await runCli(['metrics', '--url', 'localhost:8000/metrics']);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/--url/);
  });

  it('a bad --cardinality-limit is a usage error (exit 2)', async () => {
    const { exitCode, stderr } = await runCli(['metrics', '--url', 'http://127.0.0.1:1/metrics', '--cardinality-limit', 'lots']);
    expect(exitCode).toBe(2);
    expect(stderr).toContain('--cardinality-limit');
  });
});
