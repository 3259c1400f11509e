/**
 * The scrape probe: one scrape of a metrics endpoint, streamed straight into the validator
 * (src/prom/parse.ts) through the one HTTP client's streaming mode. The body is never held
 * whole; --request-timeout covers the whole exchange (the probe runner's net sits just above
 * it) and a byte limit stops a runaway endpoint. A failed scrape is a fact, not a throw:
 * `metrics.scrape` judges it.
 *
 * `scrapeSnapshot` is the same scrape keeping only the request counters, for the
 * before-and-after snapshots of `suite --metrics-url` (checks/metrics/reconcile.ts).
 */
import type { MetricsSnapshot, ScrapeFailureKind, ScrapeOutcome } from '../facts.js';
import { HttpError, request } from '../http.js';
import { formatSeconds } from '../report/format.js';
import type { Settings } from '../settings.js';
import { ExpositionValidator, type ValidatorOptions } from '../prom/parse.js';
import { REQUEST_COUNTERS, familyNames } from '../prom/expected.js';

/** A metrics body larger than this is cut off and reported (Prometheus' own default is far lower in practice). */
export const DEFAULT_SCRAPE_MAX_BYTES = 64 * 1024 * 1024;

export interface ScrapeOptions extends ValidatorOptions {
  timeoutMs: number;
  maxBytes?: number;
}

/** The URL as it may be printed: a password in it becomes `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** Scrape and validate. Never throws; `url` in the outcome and its messages is redacted. */
export async function scrapeMetrics(rawUrl: string, options: ScrapeOptions): Promise<ScrapeOutcome> {
  const url = redactUrl(rawUrl);
  const started = performance.now();
  const failure = (kind: ScrapeFailureKind, message: string, status?: number): ScrapeOutcome => ({
    ok: false,
    url,
    kind,
    message,
    status,
    durationMs: Math.round(performance.now() - started),
  });
  const maxBytes = options.maxBytes ?? DEFAULT_SCRAPE_MAX_BYTES;
  const validator = new ExpositionValidator(options);
  let snippet = '';
  try {
    const response = await request({
      url: rawUrl,
      // The text format, not OpenMetrics or protobuf: it is what this validator judges.
      headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1', 'user-agent': 'guard-doctor' },
      timeoutMs: options.timeoutMs,
      maxBodyBytes: maxBytes,
      onBody: (chunk, status) => {
        if (status === 200) validator.push(chunk);
        else if (snippet.length < 300) snippet += chunk.toString('utf8');
      },
    });
    if (response.status !== 200) {
      const text = snippet.trim().replace(/\s+/g, ' ').slice(0, 200);
      return failure('status', `${url} answered HTTP ${response.status}${text ? `: ${text}` : ''}`, response.status);
    }
    if (response.truncated) {
      return failure('too-large', `${url} sent more than ${Math.round(maxBytes / 1024 / 1024)} MiB of metrics; stopped reading`);
    }
    const contentType = typeof response.headers['content-type'] === 'string' ? response.headers['content-type'] : null;
    return { ok: true, url, status: 200, contentType, bytes: response.bytes, durationMs: response.durationMs, result: validator.end() };
  } catch (error) {
    if (!(error instanceof HttpError)) return failure('network', `scraping ${url} failed: ${(error as Error).message}`);
    const host = hostOf(rawUrl);
    switch (error.kind) {
      case 'refused':
        return failure('refused', `connection refused by ${host}: nothing listens there`);
      case 'timeout':
        return failure('timeout', `no complete answer from ${url} within ${formatSeconds(options.timeoutMs)}`);
      case 'reset':
        return failure('reset', `connection reset by ${host}`);
      case 'bad-url':
        return failure('bad-url', error.message.replace(rawUrl, url));
      default:
        return failure(error.kind, error.message.replace(rawUrl, url));
    }
  }
}

/** The `scrape` fact: --url, scraped once. */
export async function probeScrape(settings: Settings): Promise<ScrapeOutcome> {
  if (settings.url === null) throw new Error('metrics needs --url');
  return scrapeMetrics(settings.url, { timeoutMs: settings.requestTimeoutMs });
}

const COUNTER_FAMILIES = new Set(Object.values(REQUEST_COUNTERS).flatMap((c) => familyNames(c.name)));

/** Scrape the request counters (the rest of the exposition is read and discarded). Never throws. */
export async function scrapeSnapshot(url: string, timeoutMs: number): Promise<MetricsSnapshot> {
  const takenAt = Date.now();
  const outcome = await scrapeMetrics(url, { timeoutMs, keepSamples: (family) => COUNTER_FAMILIES.has(family) });
  if (!outcome.ok) return { ok: false, url, takenAt, message: outcome.message };
  return { ok: true, url, takenAt, counters: outcome.result.samples, families: new Set(outcome.result.families.map((f) => f.name)) };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

