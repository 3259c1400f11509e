/**
 * One scrape, streamed straight into the validator: the body is never held whole. This talks
 * to node:http itself (not src/http.ts, whose contract is to buffer a capped body) but keeps
 * that client's rules: one time limit for the whole exchange, a byte limit, no keep-alive
 * socket left open, and failures as the same typed kinds (HttpFailureKind).
 */
import http from 'node:http';
import https from 'node:https';
import type { HttpFailureKind } from '../http.js';
import { ExpositionValidator, type ValidationResult, type ValidatorOptions } from './parse.js';

/** A metrics body larger than this is cut off and reported (Prometheus' own default is far lower in practice). */
export const DEFAULT_SCRAPE_MAX_BYTES = 64 * 1024 * 1024;

export interface ScrapeOptions extends ValidatorOptions {
  timeoutMs: number;
  maxBytes?: number;
}

export type ScrapeFailureKind = HttpFailureKind | 'status' | 'too-large';

export type ScrapeOutcome =
  | {
      ok: true;
      url: string;
      status: number;
      contentType: string | null;
      bytes: number;
      durationMs: number;
      result: ValidationResult;
    }
  | {
      ok: false;
      url: string;
      kind: ScrapeFailureKind;
      message: string;
      /** The HTTP status, when the server answered with something other than 200. */
      status?: number;
      durationMs: number;
    };

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
export function scrapeMetrics(rawUrl: string, options: ScrapeOptions): Promise<ScrapeOutcome> {
  const url = redactUrl(rawUrl);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let target: URL;
  try {
    target = new URL(rawUrl);
  } catch {
    return Promise.resolve({ ok: false, url, kind: 'bad-url', message: `not a valid URL: ${url}`, durationMs: 0 });
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return Promise.resolve({ ok: false, url, kind: 'bad-url', message: `unsupported URL scheme ${target.protocol} in ${url}`, durationMs: 0 });
  }
  const maxBytes = options.maxBytes ?? DEFAULT_SCRAPE_MAX_BYTES;
  const lib = target.protocol === 'https:' ? https : http;

  return new Promise<ScrapeOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: ScrapeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const failure = (kind: ScrapeFailureKind, message: string, status?: number): ScrapeOutcome => ({ ok: false, url, kind, message, status, durationMs: elapsed() });

    const req = lib.request(
      target,
      {
        method: 'GET',
        // The text format, not OpenMetrics or protobuf: it is what this validator judges.
        headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1', 'user-agent': 'guard-doctor' },
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          let snippet = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (snippet.length < 300) snippet += chunk;
          });
          const report = () =>
            finish(failure('status', `${url} answered HTTP ${status}${snippet.trim() ? `: ${snippet.trim().replace(/\s+/g, ' ').slice(0, 200)}` : ''}`, status));
          res.on('end', report);
          res.on('error', report);
          res.on('aborted', report);
          return;
        }
        const validator = new ExpositionValidator(options);
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          bytes += chunk.length;
          if (bytes > maxBytes) {
            finish(failure('too-large', `${url} sent more than ${Math.round(maxBytes / 1024 / 1024)} MiB of metrics; stopped reading`));
            return;
          }
          validator.push(chunk);
        });
        res.on('end', () => {
          const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : null;
          finish({ ok: true, url, status, contentType, bytes, durationMs: elapsed(), result: validator.end() });
        });
        res.on('error', (err: NodeJS.ErrnoException) => finish(failure('reset', `connection to ${url} broke while reading: ${err.message}`)));
        res.on('aborted', () => finish(failure('reset', `connection reset by ${url} while reading the metrics`)));
      },
    );
    const timer = setTimeout(() => finish(failure('timeout', `no complete answer from ${url} within ${formatSeconds(options.timeoutMs)}`)), options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      switch (err.code) {
        case 'ECONNREFUSED':
          finish(failure('refused', `connection refused by ${target.host}: nothing listens there`));
          break;
        case 'ECONNRESET':
        case 'EPIPE':
          finish(failure('reset', `connection reset by ${target.host}`));
          break;
        case 'ENOTFOUND':
        case 'EAI_AGAIN':
          finish(failure('network', `the host name ${target.hostname} does not resolve`));
          break;
        default:
          finish(failure('network', `${err.code ?? 'network error'} for ${url}: ${err.message}`));
      }
    });
    req.end();
  });
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
