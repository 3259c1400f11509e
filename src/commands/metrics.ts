/**
 * `guard-doctor metrics --url METRICS_URL`: the check pipeline over one metrics endpoint.
 * The probes scrape it once, streamed through the validator (src/probes/scrape.ts), and try it
 * on this host's other addresses (src/probes/exposure.ts), concurrently and under their time
 * limits; the checks of checks/metrics/ judge those facts (the format, metric naming, the
 * metrics the server kind should expose, label cardinality, the exposure); one report.
 */
import { METRICS_CHECKS } from '../../checks/index.js';
import { judgeAll, neededFacts } from '../judge.js';
import { gatherFacts } from '../probes/index.js';
import { redactUrl } from '../probes/scrape.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { renderMetricsReport } from '../report/metrics.js';
import { createProgress } from '../report/progress.js';
import type { Settings } from '../settings.js';

export async function run(settings: Settings): Promise<number> {
  const shownUrl = redactUrl(settings.url!);
  // One scrape takes a moment: a spinner on a terminal, nothing in CI logs.
  const progress = await createProgress(settings.output, { when: 'terminal', initial: `Scraping ${shownUrl} and trying it on this host's other addresses` });
  let facts;
  try {
    facts = await gatherFacts(neededFacts(METRICS_CHECKS, settings), settings);
  } finally {
    progress.stop();
  }
  const checks = judgeAll(METRICS_CHECKS, facts, settings);
  const scrape = facts.scrape?.ok ? facts.scrape.value : null;
  const report = buildReport(
    'metrics',
    {
      checks,
      metrics: {
        url: shownUrl,
        server: settings.server,
        ...(scrape?.ok
          ? { bytes: scrape.bytes, lines: scrape.result.lines, families: scrape.result.families.length, samples: scrape.result.sampleCount, durationMs: scrape.durationMs }
          : {}),
      },
    },
    settings.strict,
  );
  return emitReport(report, settings, (r) => renderMetricsReport(r, settings, shownUrl));
}
