/**
 * Facts for the metrics checks (checks/metrics/), built the way the probes build them: an
 * exposition run through the real validator, and the exposure probe's findings, to edit.
 */
import type { ExposureFacts, Facts, ScrapeOutcome } from '../../src/facts.js';
import { validateExposition, type ValidationResult } from '../../src/prom/parse.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { ROOT } from './cli.js';

export const TEXT_PLAIN = 'text/plain; version=0.0.4; charset=utf-8';
export const URL_SHOWN = 'http://127.0.0.1:8000/metrics';

/** A scrape that got `body` (or an already validated result) with this Content-Type. */
export function scraped(body: string | ValidationResult, contentType: string | null = TEXT_PLAIN): ScrapeOutcome {
  const result = typeof body === 'string' ? validateExposition(body) : body;
  return { ok: true, url: URL_SHOWN, status: 200, contentType, bytes: result.bytes, durationMs: 4, result };
}

/** The exposure probe's answer for a URL on loopback, on a host with one other address that refuses. */
export function loopbackExposure(edit: Partial<ExposureFacts> = {}): ExposureFacts {
  return {
    hostname: '127.0.0.1',
    port: 8000,
    credentialed: false,
    addresses: ['127.0.0.1'],
    kind: 'loopback',
    ownAddresses: ['192.168.1.20'],
    tried: [{ address: '192.168.1.20', outcome: 'refused' }],
    ...edit,
  };
}

export function metricsFacts(scrape: ScrapeOutcome, exposure: ExposureFacts = loopbackExposure()): Partial<Facts> {
  return { scrape: { ok: true, value: scrape, durationMs: scrape.durationMs }, exposure: { ok: true, value: exposure, durationMs: 3 } };
}

export function metricsSettings(flags: Record<string, unknown> = {}): Settings {
  return resolveSettings('metrics', { url: URL_SHOWN, ...flags }, {}, ROOT);
}
