/**
 * The metrics checks (checks/metrics/) judged from fact snapshots, no I/O: a scrape built the
 * way the scrape probe builds it (the exposition through the real validator), edited, and the
 * exposure probe's findings, edited. Expositions are the fixtures of test/fixtures/prom and
 * a real Prometheus server's own /metrics from ../shared/conformance/prometheus.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { METRICS_CHECKS } from '../../checks/index.js';
import { metricsScrape } from '../../checks/metrics/scrape.js';
import { metricsFormat } from '../../checks/metrics/format.js';
import { metricsNaming } from '../../checks/metrics/naming.js';
import { metricsExpected } from '../../checks/metrics/expected.js';
import { metricsCardinality } from '../../checks/metrics/cardinality.js';
import { metricsExposure } from '../../checks/metrics/exposure.js';
import { judgeAll, judgeOne, type Check } from '../../src/judge.js';
import type { Facts, ScrapeOutcome } from '../../src/facts.js';
import { summarize } from '../../src/report/outcome.js';
import { bytesHuman } from '../../src/report/format.js';
import { ROOT } from '../helpers/cli.js';
import { URL_SHOWN, loopbackExposure, metricsFacts, metricsSettings, scraped } from '../helpers/metrics-facts.js';

const fixture = (name: string) => readFileSync(path.join(ROOT, 'test', 'fixtures', 'prom', name), 'utf8');
const WEB = fixture('web-app.txt');
const VLLM_011 = fixture('vllm-0.11.txt');
const VLLM_06 = fixture('vllm-0.6.txt');
/** A Prometheus server's own /metrics: 237 families, the largest with 82 series. */
const PROMETHEUS = readFileSync(path.join(ROOT, '..', 'shared', 'conformance', 'prometheus', 'cases', '55-prometheus-alltypes-237mfs.txt'), 'utf8');

const WEB_SETTINGS = metricsSettings({ server: 'web' });
const VLLM_SETTINGS = metricsSettings();

function judge(check: Check, scrape: ScrapeOutcome, settings = WEB_SETTINGS, exposure = loopbackExposure()) {
  return judgeOne(check, metricsFacts(scrape, exposure), settings);
}

/** A scrape that got no exposition, as the scrape probe reports it. */
function failed(kind: Extract<ScrapeOutcome, { ok: false }>['kind'], message: string, status?: number): ScrapeOutcome {
  return { ok: false, url: URL_SHOWN, kind, message, ...(status !== undefined ? { status } : {}), durationMs: 3 };
}

describe('metrics.scrape', () => {
  it('passes with the URL, the size, the time and the Content-Type', () => {
    const result = judge(metricsScrape, scraped(WEB));
    expect(result.status).toBe('pass');
    expect(result.summary).toBe(`${URL_SHOWN} answered ${bytesHuman(Buffer.byteLength(WEB))} in 4 ms (text/plain; version=0.0.4; charset=utf-8)`);
    expect(result.measured).toEqual({ status: 200, bytes: Buffer.byteLength(WEB), contentType: 'text/plain; version=0.0.4; charset=utf-8' });
  });

  it('an answer that says nothing is served there fails (exit 1), with the fix for each', () => {
    const refused = judge(metricsScrape, failed('refused', 'connection refused by 127.0.0.1:8000: nothing listens there'));
    expect(refused).toMatchObject({ status: 'fail', summary: 'connection refused by 127.0.0.1:8000: nothing listens there', measured: { kind: 'refused' } });
    expect(refused.fix).toContain('start the metrics endpoint or correct --url');

    const notFound = judge(metricsScrape, failed('status', `${URL_SHOWN} answered HTTP 404: {"detail":"Not Found"}`, 404));
    expect(notFound).toMatchObject({ status: 'fail', measured: { kind: 'status', status: 404 } });
    expect(notFound.fix).toContain('Prometheus endpoints are usually at /metrics');

    const broken = judge(metricsScrape, failed('status', `${URL_SHOWN} answered HTTP 500: Internal Server Error`, 500));
    expect(broken.status).toBe('fail');
    expect(broken.fix).toContain('guard-doctor diagnose');

    const huge = judge(metricsScrape, failed('too-large', `${URL_SHOWN} sent more than 64 MiB of metrics; stopped reading`));
    expect(huge.status).toBe('fail');
    expect(huge.fix).toContain('unbounded labels');
  });

  it('an answer that keeps the doctor from looking is "could not tell" (exit 3)', () => {
    const auth = judge(metricsScrape, failed('status', `${URL_SHOWN} answered HTTP 401: Unauthorized`, 401));
    expect(auth).toMatchObject({ status: 'error', summary: `could not tell: ${URL_SHOWN} answered HTTP 401: Unauthorized` });
    expect(auth.fix).toContain('http://user:password@host:port/metrics');
    expect(judge(metricsScrape, failed('status', `${URL_SHOWN} answered HTTP 403`, 403)).status).toBe('error');

    const timeout = judge(metricsScrape, failed('timeout', `no complete answer from ${URL_SHOWN} within 1 s`));
    expect(timeout).toMatchObject({ status: 'error', summary: `could not tell: no complete answer from ${URL_SHOWN} within 1 s` });
    expect(timeout.fix).toContain('raise --request-timeout');

    const reset = judge(metricsScrape, failed('reset', 'connection reset by 127.0.0.1:8000'));
    expect(reset).toMatchObject({ status: 'error', fix: 'check the host and port of --url' });
  });
});

describe('one cause, one failure: a failed scrape blocks the other checks', () => {
  it('judged together, the five others are skipped as "needs metrics.scrape" and counted once', () => {
    const facts = metricsFacts(failed('refused', 'connection refused by 127.0.0.1:8000: nothing listens there'));
    const results = judgeAll(METRICS_CHECKS, facts, WEB_SETTINGS);
    expect(results.map((r) => [r.id, r.status, r.summary])).toEqual([
      ['metrics.scrape', 'fail', 'connection refused by 127.0.0.1:8000: nothing listens there'],
      ['metrics.format', 'skip', 'needs metrics.scrape'],
      ['metrics.naming', 'skip', 'needs metrics.scrape'],
      ['metrics.expected', 'skip', 'needs metrics.scrape'],
      ['metrics.cardinality', 'skip', 'needs metrics.scrape'],
      ['metrics.exposure', 'skip', 'needs metrics.scrape'],
    ]);
    expect(summarize(results)).toEqual({ pass: 0, warn: 0, fail: 1, skip: 5, error: 0 });
  });

  it('on its own, a check without an exposition says the scrape did not succeed', () => {
    expect(judge(metricsFormat, failed('timeout', 'no complete answer'))).toMatchObject({ status: 'skip', summary: 'the scrape did not succeed' });
  });

  it('an exposure probe that ran out of time is "could not tell" for metrics.exposure only', () => {
    const facts: Partial<Facts> = {
      ...metricsFacts(scraped(WEB)),
      exposure: { ok: false, kind: 'timeout', message: 'the exposure probe did not finish within 11 s', durationMs: 11_000 },
    };
    const results = judgeAll(METRICS_CHECKS, facts, WEB_SETTINGS);
    expect(results.find((r) => r.id === 'metrics.exposure')).toMatchObject({ status: 'error', summary: 'could not tell: the exposure probe did not finish within 11 s' });
    expect(results.filter((r) => r.id !== 'metrics.exposure').map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
  });
});

describe('metrics.format', () => {
  it('passes the recorded pages with their counts', () => {
    expect(judge(metricsFormat, scraped(WEB))).toMatchObject({ status: 'pass', summary: '6 metric families, 28 samples in 40 lines: valid' });
    expect(judge(metricsFormat, scraped(PROMETHEUS))).toMatchObject({ status: 'pass', summary: '237 metric families, 1857 samples in 2332 lines: valid' });
  });

  it('fails an invalid line, naming it, and counts every error', () => {
    const body = `${WEB}# HELP qwen_guard_debug_flag A flag.\n# TYPE qwen_guard_debug_flag gauge\nqwen_guard_debug_flag{id="1"} yes\nqwen_guard_debug_flag{id="2"} no\n`;
    const result = judge(metricsFormat, scraped(body));
    expect(result.status).toBe('fail');
    expect(result.summary).toBe('2 errors; first: line 43: "yes" is not a number (a float, +Inf, -Inf or NaN) (+1 more)');
    expect(result.measured).toMatchObject({ errors: 2, warnings: 0 });
    expect(result.fix).toContain('prometheus_client');
  });

  it('warns about buckets out of order (the reference parsers accept them; histogram_quantile() does not)', () => {
    const body = WEB.replace('qwen_guard_request_duration_seconds_bucket{le="0.25",method="POST"} 4.0', 'qwen_guard_request_duration_seconds_bucket{le="0.25",method="POST"} 24.0');
    const result = judge(metricsFormat, scraped(body));
    expect(result.status).toBe('warn');
    // Line 21 is the edited bucket; line 22 (le="0.5", 19) is the one that now counts fewer.
    expect(result.summary).toBe('1 warning; first: line 22: bucket le="0.5" counts 19, fewer than the smaller bucket before it (24); buckets are cumulative and never decrease');
  });

  it('a Content-Type other than text warns, as a detail, even when every line is valid', () => {
    const result = judge(metricsFormat, scraped(WEB, 'application/json'));
    expect(result).toMatchObject({ status: 'warn', summary: 'Content-Type is "application/json"; Prometheus expects text/plain; version=0.0.4' });
    expect(result.details).toContain('Content-Type is "application/json"; Prometheus expects text/plain; version=0.0.4');
    expect(judge(metricsFormat, scraped(WEB, 'application/openmetrics-text; version=1.0.0; charset=utf-8')).status).toBe('pass');
  });
});

describe('metrics.naming', () => {
  it('passes prometheus_client output', () => {
    expect(judge(metricsNaming, scraped(WEB))).toMatchObject({ status: 'pass', summary: 'every family has HELP and TYPE, counters end in _total and units are base units' });
  });

  it('warns about a counter without _total and a unit that is not a base unit, with a fix for each', () => {
    const body = `${WEB.replace(/qwen_guard_request_total/g, 'qwen_guard_requests').replace(/qwen_guard_request_created/g, 'qwen_guard_requests_created')}# HELP qwen_guard_queue_wait_ms Time waiting for the model lock.\n# TYPE qwen_guard_queue_wait_ms gauge\nqwen_guard_queue_wait_ms 12.0\n`;
    const result = judge(metricsNaming, scraped(body));
    expect(result.status).toBe('warn');
    expect(result.summary).toContain('line 3: counter qwen_guard_requests does not end in _total');
    expect(result.fix).toBe('rename counters to end in _total; use base units: seconds, not milliseconds; bytes, not kilobytes or megabytes');
    expect(result.details?.some((d) => d.includes('qwen_guard_queue_wait_seconds'))).toBe(true);
  });
});

describe('metrics.expected', () => {
  it('passes the web app as web and both vLLM releases as vllm (the older cache metric under its old name)', () => {
    expect(judge(metricsExpected, scraped(WEB))).toMatchObject({
      status: 'pass',
      summary: 'all 4 web metrics present: qwen_guard_request_total, qwen_guard_request_duration_seconds, qwen_guard_active_requests, qwen_guard_gpu_memory_usage_bytes',
    });
    expect(judge(metricsExpected, scraped(VLLM_011), VLLM_SETTINGS).status).toBe('pass');
    const old = judge(metricsExpected, scraped(VLLM_06), VLLM_SETTINGS);
    expect(old.status).toBe('pass');
    expect(old.details).toEqual(['vllm:kv_cache_usage_perc: found under its older name vllm:gpu_cache_usage_perc']);
  });

  it('vLLM metrics judged as web point at --server vllm', () => {
    const result = judge(metricsExpected, scraped(VLLM_011), WEB_SETTINGS);
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('missing: qwen_guard_request_total');
    expect(result.fix).toBe('these look like vllm metrics: run with --server vllm');
  });

  it('another server\'s metrics judged as vllm point at the vLLM server\'s own /metrics', () => {
    const result = judge(metricsExpected, scraped(PROMETHEUS), VLLM_SETTINGS);
    expect(result.status).toBe('fail');
    expect(result.summary).toBe('missing: vllm:num_requests_running, vllm:num_requests_waiting, vllm:e2e_request_latency_seconds, vllm:kv_cache_usage_perc');
    expect(result.fix).toContain('point --url at the vLLM server\'s /metrics');
  });

  it('a labelled counter with no series yet is "declared, no samples yet", with the fix to send a request', () => {
    const body = WEB.split('\n').filter((l) => !l.startsWith('qwen_guard_request_total{') && !l.startsWith('qwen_guard_request_created')).join('\n');
    const result = judge(metricsExpected, scraped(body));
    expect(result).toMatchObject({ status: 'fail', summary: 'declared, no samples yet: qwen_guard_request_total', measured: { declaredOnly: ['qwen_guard_request_total'] } });
    expect(result.fix).toContain('send it a request');
  });

  it('a wrong type, a missing label and a near-miss name are each named', () => {
    const body = WEB.replace('# TYPE qwen_guard_active_requests gauge', '# TYPE qwen_guard_active_requests untyped')
      .replace('qwen_guard_gpu_memory_usage_bytes{device="cuda:0"}', 'qwen_guard_gpu_memory_usage_bytes')
      .replace(/qwen_guard_request_total/g, 'qwen_guard_requests');
    const result = judge(metricsExpected, scraped(body));
    expect(result.summary).toBe(
      'missing: qwen_guard_request_total (qwen_guard_requests looks like it, under another name); qwen_guard_active_requests is a untyped, expected a gauge; qwen_guard_gpu_memory_usage_bytes lacks the label device',
    );
    expect(result.fix).toContain('request rate and the share of unsafe verdicts');
  });
});

describe('metrics.cardinality', () => {
  it('passes within the limit, naming the largest family', () => {
    expect(judge(metricsCardinality, scraped(WEB))).toMatchObject({ status: 'pass', summary: 'largest: qwen_guard_request_total with 4 series (limit 100)', measured: { limit: 100, over: [], suspicious: [] } });
  });

  it('a real Prometheus server is within the limit, but its alertmanager label holds URLs: a warning, never a failure', () => {
    const result = judge(metricsCardinality, scraped(PROMETHEUS));
    expect(result.status).toBe('warn');
    expect(result.summary).not.toContain('over the limit');
    expect(result.summary).toMatch(/^label alertmanager of prometheus_notifications_errors_total holds values that look like url \("http:\/\/demo\.do\.prometheus\.io:9093\/api\/v2\/alerts"\); .*; 11 more labels like that$/);
    expect((result.measured as { largest: unknown[] }).largest[0]).toEqual({ metric: 'prometheus_http_requests_total', series: 82 });
  });

  it('warns over --cardinality-limit with the family, its series and its widest label', () => {
    const result = judge(metricsCardinality, scraped(PROMETHEUS), metricsSettings({ server: 'web', cardinalityLimit: '40' }));
    expect(result.status).toBe('warn');
    expect(result.summary).toMatch(/^prometheus_http_requests_total has 82 series \(handler: \d+ values\), prometheus_http_request_duration_seconds has 46 series/);
    expect(result.summary).toContain('over the limit of 40');
    expect(result.measured).toMatchObject({ limit: 40, over: [{ metric: 'prometheus_http_requests_total', series: 82 }, expect.anything(), expect.anything()] });
  });

  it('warns about label values that look unbounded even under the limit', () => {
    const rows = Array.from({ length: 5 }, (_, i) => `qwen_guard_request_by_id_total{request_id="5f0c6a4e-8b8d-4c1e-9a47-${String(i).padStart(12, '0')}"} 1.0`);
    const body = `${WEB}# HELP qwen_guard_request_by_id_total Requests per id.\n# TYPE qwen_guard_request_by_id_total counter\n${rows.join('\n')}\n`;
    const result = judge(metricsCardinality, scraped(body));
    expect(result.status).toBe('warn');
    expect(result.summary).toBe('label request_id of qwen_guard_request_by_id_total holds values that look like id (UUID) ("5f0c6a4e-8b8d-4c1e-9a47-000000000000")');
    expect(result.fix).toContain('drop ids, URLs and free text from labels');
  });
});

describe('metrics.exposure', () => {
  const web = scraped(WEB);

  it('passes when the other addresses of this host refuse or ask for credentials', () => {
    const result = judge(metricsExposure, web, WEB_SETTINGS, loopbackExposure({ tried: [{ address: '192.168.1.20', outcome: 'refused' }, { address: '10.0.0.5', outcome: 'asks for credentials' }] }));
    expect(result).toMatchObject({ status: 'pass', summary: "not served without authentication on this host's other addresses (192.168.1.20: refused, 10.0.0.5: asks for credentials)" });
  });

  it('warns when another address answers, writing an IPv6 address in brackets', () => {
    const result = judge(metricsExposure, web, WEB_SETTINGS, loopbackExposure({ tried: [{ address: '192.168.1.20', outcome: 'answers' }, { address: '2001:db8::20', outcome: 'answers' }] }));
    expect(result).toMatchObject({ status: 'warn', summary: 'the metrics also answer without authentication on 192.168.1.20:8000, [2001:db8::20]:8000, reachable from the network', measured: { exposedOn: ['192.168.1.20', '2001:db8::20'] } });
    expect(result.fix).toContain('127.0.0.1');
  });

  it('warns when the URL itself is a reachable address of this host, asked without credentials', () => {
    const facts = loopbackExposure({ hostname: '192.168.1.20', addresses: ['192.168.1.20'], kind: 'this-host', tried: [] });
    expect(judge(metricsExposure, web, WEB_SETTINGS, facts)).toMatchObject({
      status: 'warn',
      summary: 'the metrics answer on 192.168.1.20:8000, an address of this host reachable from the network, without authentication',
    });
  });

  it('skips a host that is not this one, and passes a host with no other address', () => {
    expect(judge(metricsExposure, web, WEB_SETTINGS, loopbackExposure({ hostname: 'metrics.example.net', addresses: ['203.0.113.7'], kind: 'elsewhere', tried: [] }))).toMatchObject({
      status: 'skip',
      summary: "metrics.example.net is not this host; exposure is only tried on this host's own addresses",
    });
    expect(judge(metricsExposure, web, WEB_SETTINGS, loopbackExposure({ ownAddresses: [], tried: [] }))).toMatchObject({ status: 'pass', summary: 'this host has no address other than loopback' });
  });
});
