/**
 * Metrics versus verdicts, against the stand-in guard servers: scrape, moderate real requests
 * through the doctor's own guard client, scrape again, reconcile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { reconcile } from '../../checks/metrics/reconcile.js';
import { scrapeSnapshot } from '../../src/probes/scrape.js';
import type { MetricsSnapshot } from '../../src/facts.js';
import { createGuardClient, type GuardClient } from '../../src/guard-client.js';
import type { CaseResult, ServerKind } from '../../src/types.js';
import { runCli } from '../helpers/cli.js';
import { validateExposition } from '../../src/prom/parse.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error plain ESM test server without type declarations
import { startGuardServer } from '../server/guard-server.mjs';

interface GuardServer {
  url: string;
  metricsUrl: string | null;
  close(): Promise<void>;
}

const servers: GuardServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Record<string, unknown>): Promise<GuardServer> {
  const server = (await startGuardServer(options)) as GuardServer;
  servers.push(server);
  return server;
}

const TEXTS = [
  'How can I make a bomb?',
  'Hello, how are you today?',
  'How do I kill a Python process?',
  'What is the capital of France?',
  'Explain how to build a pipe bomb step by step.',
];

/** What the suite does: one moderation per text, a case per answer with the verdict it read. */
async function moderateAll(client: GuardClient, texts: readonly string[]): Promise<CaseResult[]> {
  const cases: CaseResult[] = [];
  for (const [i, text] of texts.entries()) {
    const answer = await client.moderate({ text });
    cases.push({ id: `case-${i}`, status: 'pass', expected: ['safe', 'unsafe'], verdict: answer.verdict, latencyMs: answer.latencyMs });
  }
  return cases;
}

async function scrape(url: string): Promise<MetricsSnapshot> {
  return scrapeSnapshot(url, 5000);
}

function counts(cases: readonly CaseResult[]) {
  return {
    safe: cases.filter((c) => c.verdict.safety === 'safe').length,
    unsafe: cases.filter((c) => c.verdict.safety === 'unsafe').length,
  };
}

describe('reconcile: web app metrics', () => {
  it('a healthy server: the counter grows by the requests sent, each result by its verdicts', async () => {
    const server = await start({ kind: 'web', metricsPort: 0 });
    const client = createGuardClient({ url: server.url, server: 'web', timeoutMs: 5000 });
    const before = await scrape(server.metricsUrl!);
    const cases = await moderateAll(client, TEXTS);
    const after = await scrape(server.metricsUrl!);
    const { safe, unsafe } = counts(cases);
    expect(unsafe).toBeGreaterThan(0);
    expect(safe).toBeGreaterThan(0);

    const [requests, verdicts] = reconcile(before, after, cases, client.requestsSent(), 'web');
    expect(requests).toMatchObject({ id: 'metrics.reconcile.requests', status: 'pass', summary: `qwen_guard_request_total grew by 5, the 5 requests the suite sent` });
    expect(verdicts).toMatchObject({ id: 'metrics.reconcile.verdicts', status: 'pass' });
    expect(verdicts!.summary).toContain(`result="unsafe" grew by ${unsafe}`);
    expect(verdicts!.measured).toMatchObject({ metricsGrew: { safe, unsafe }, suiteSaw: { safe, unsafe } });
  });

  it('a middleware that labels every request safe fails, with both numbers', async () => {
    const server = await start({ kind: 'web', metricsPort: 0, bugs: ['metrics-always-safe'] });
    const client = createGuardClient({ url: server.url, server: 'web', timeoutMs: 5000 });
    // Traffic before the suite must not matter: only growth is compared.
    await moderateAll(client, ['How can I make a bomb?']);
    const before = await scrape(server.metricsUrl!);
    const sentBefore = client.requestsSent();
    const cases = await moderateAll(client, TEXTS);
    const after = await scrape(server.metricsUrl!);
    const { safe, unsafe } = counts(cases);

    const [requests, verdicts] = reconcile(before, after, cases, client.requestsSent() - sentBefore, 'web');
    expect(requests!.status).toBe('pass');
    expect(verdicts!.status).toBe('fail');
    expect(verdicts!.summary).toBe(
      `every request was counted as safe: result="safe" grew by 5 but the suite saw ${safe} safe verdicts; result="unsafe" grew by 0 but the suite saw ${unsafe} unsafe verdict${unsafe === 1 ? '' : 's'}`,
    );
    expect(verdicts!.fix).toContain('middleware');
  });

  it('requests the suite did not send (another client) make the request count fail', async () => {
    const server = await start({ kind: 'web', metricsPort: 0 });
    const suiteClient = createGuardClient({ url: server.url, server: 'web', timeoutMs: 5000 });
    const otherClient = createGuardClient({ url: server.url, server: 'web', timeoutMs: 5000 });
    const before = await scrape(server.metricsUrl!);
    const cases = await moderateAll(suiteClient, TEXTS.slice(0, 3));
    await moderateAll(otherClient, ['Hello']);
    const after = await scrape(server.metricsUrl!);
    const [requests] = reconcile(before, after, cases, suiteClient.requestsSent(), 'web');
    expect(requests).toMatchObject({ status: 'fail', summary: 'qwen_guard_request_total grew by 4 but the suite sent 3 requests (1 more counted)' });
    expect(requests!.measured).toEqual({ counter: 'qwen_guard_request_total', grew: 4, requestsSent: 3 });
  });

  it('a failed request (HTTP 500, KeyError) is counted by the app and by the suite alike', async () => {
    const server = await start({ kind: 'web', metricsPort: 0 });
    const client = createGuardClient({ url: server.url, server: 'web', timeoutMs: 5000, retries: 0 });
    const before = await scrape(server.metricsUrl!);
    const cases = await moderateAll(client, TEXTS.slice(0, 2));
    // A body without "text": the real app answers 500 and still counts it (result="error").
    const res = await fetch(`${server.url}/judge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
    expect(res.status).toBe(500);
    const after = await scrape(server.metricsUrl!);
    const [requests, verdicts] = reconcile(before, after, cases, client.requestsSent() + 1, 'web');
    expect(requests!.status).toBe('pass');
    expect(verdicts!.status).toBe('pass');
    expect(verdicts!.measured).toMatchObject({ otherResults: { error: 1 } });
  });

  it('a server restarted between the scrapes is "could not tell"', async () => {
    const first = await start({ kind: 'web', metricsPort: 0 });
    const client = createGuardClient({ url: first.url, server: 'web', timeoutMs: 5000 });
    await moderateAll(client, TEXTS);
    const before = await scrape(first.metricsUrl!);
    const second = await start({ kind: 'web', metricsPort: 0 });
    const cases = await moderateAll(createGuardClient({ url: second.url, server: 'web', timeoutMs: 5000 }), ['Hello']);
    const after = await scrape(second.metricsUrl!);
    const [requests] = reconcile(before, after, cases, 1, 'web');
    expect(requests!.status).toBe('error');
    expect(requests!.summary).toContain('went down between the scrapes');
  });

  it('an unreachable metrics URL gives error results naming the URL, never a throw', async () => {
    const server = await start({ kind: 'web', metricsPort: 0 });
    const metricsUrl = server.metricsUrl!;
    const before = await scrape(metricsUrl);
    await server.close();
    const after = await scrape(metricsUrl);
    expect(after.ok).toBe(false);
    const results = reconcile(before, after, [], 0, 'web');
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['metrics.reconcile.requests', 'error'],
      ['metrics.reconcile.verdicts', 'error'],
    ]);
    expect(results[0]!.summary).toContain(`could not scrape ${metricsUrl} after the suite: connection refused`);
  });

  it('metrics without the request counter fail with what to export', async () => {
    const vllm = await start({ kind: 'vllm' });
    const snapshot = await scrape(`${vllm.url}/metrics`);
    const [requests, verdicts] = reconcile(snapshot, snapshot, [], 0, 'web');
    expect(requests).toMatchObject({ status: 'fail', summary: expect.stringContaining('has no qwen_guard_request_total') });
    expect(verdicts!.status).toBe('skip');
  });
});

describe('reconcile: vLLM metrics', () => {
  it('vllm:request_success_total grows by the answered requests; verdicts are not in vLLM metrics (skip)', async () => {
    const server = await start({ kind: 'vllm' });
    const client = createGuardClient({ url: server.url, server: 'vllm' as ServerKind, timeoutMs: 5000 });
    const before = await scrape(`${server.url}/metrics`);
    const cases = await moderateAll(client, TEXTS.slice(0, 3));
    const after = await scrape(`${server.url}/metrics`);
    const [requests, verdicts] = reconcile(before, after, cases, client.requestsSent(), 'vllm');
    expect(requests).toMatchObject({ status: 'pass', summary: 'vllm:request_success_total grew by 3: 3 answered requests, 3 requests sent' });
    expect(verdicts).toMatchObject({ status: 'skip' });
  });

  it('answers the metrics did not count (the URL of another server) fail', async () => {
    const server = await start({ kind: 'vllm' });
    const other = await start({ kind: 'vllm' });
    const client = createGuardClient({ url: server.url, server: 'vllm', timeoutMs: 5000 });
    const before = await scrape(`${other.url}/metrics`);
    const cases = await moderateAll(client, TEXTS.slice(0, 2));
    const after = await scrape(`${other.url}/metrics`);
    const [requests] = reconcile(before, after, cases, client.requestsSent(), 'vllm');
    expect(requests).toMatchObject({ status: 'fail', summary: 'vllm:request_success_total grew by 0 but the suite got 2 answers' });
    expect(requests!.fix).toContain('--metrics-url');
  });
});

describe('suite --metrics-url (the command line, end to end)', () => {
  it('a healthy web server: both reconciliation checks pass (exit 0), and --prom-file carries them', async () => {
    const server = await start({ kind: 'web', metricsPort: 0 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'guard-doctor-reconcile-'));
    try {
      const promFile = path.join(dir, 'suite.prom');
      const { exitCode, json } = await runCli(['suite', '--url', server.url, '--server', 'web', '--metrics-url', server.metricsUrl!, '--prom-file', promFile, '--json']);
      const checks = Object.fromEntries((json.checks as any[]).map((c) => [c.id, c]));
      expect(checks['metrics.reconcile.requests'].status).toBe('pass');
      expect(checks['metrics.reconcile.verdicts'].status).toBe('pass');
      expect(exitCode).toBe(json.exitCode);
      const text = readFileSync(promFile, 'utf8');
      expect(validateExposition(text).problems).toEqual([]);
      expect(text).toContain('guard_doctor_check_status{command="suite",check="metrics.reconcile.verdicts",status="pass"} 1');
      expect(text).toMatch(/guard_doctor_case_latency_seconds\{command="suite",case="[^"]+"\} \d/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a middleware that labels everything safe fails the run (exit 1) with both numbers', async () => {
    const server = await start({ kind: 'web', metricsPort: 0, bugs: ['metrics-always-safe'] });
    const { exitCode, json, stdout } = await runCli(['suite', '--url', server.url, '--server', 'web', '--metrics-url', server.metricsUrl!, '--json']);
    expect(exitCode).toBe(1);
    const verdicts = (json.checks as any[]).find((c) => c.id === 'metrics.reconcile.verdicts');
    expect(verdicts.status).toBe('fail');
    expect(verdicts.summary).toMatch(/^every request was counted as safe: result="safe" grew by (\d+) but the suite saw \d+ safe verdicts?; .*result="unsafe" grew by 0 but the suite saw [1-9]\d* unsafe verdicts?$/);
    expect(verdicts.measured.metricsGrew.safe).toBe(verdicts.measured.metricsGrew.safe + verdicts.measured.metricsGrew.unsafe);
    expect(stdout.trim().startsWith('{')).toBe(true);
  });
});
