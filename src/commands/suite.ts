/**
 * `guard-doctor suite --url URL`: run the edge-case suite against a running server and report
 * the cases (human table, --json `cases`, --junit, GitHub annotations). With --metrics-url the
 * server's Prometheus counters are scraped before and after and reconciled with the verdicts.
 */
import { UsageError } from '../errors.js';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { createProgress } from '../report/progress.js';
import { paint } from '../report/style.js';
import type { Settings } from '../settings.js';
import type { CheckResult, Report } from '../types.js';
import { loadSuite } from '../suite/load.js';
import { confusionMatrix, latencyStats, renderSuiteReport } from '../suite/report.js';
import { runSuiteDetailed } from '../suite/run.js';
import { authFailed } from '../../checks/server/auth.js';

export async function run(settings: Settings): Promise<number> {
  const url = settings.url;
  if (url === null) throw new UsageError('--url is required: the base URL of the running server, e.g. --url http://127.0.0.1:8000');
  // An invalid --cases file or --tag is a usage error (exit 2) before any request is sent.
  const suite = loadSuite({ casesFile: settings.casesFile, tags: settings.tags });

  const progress = await createProgress(settings.output, {
    when: 'terminal',
    initial: `Running ${suite.cases.length} cases against ${url}`,
  });
  const checks: CheckResult[] = [];
  let run;
  try {
    let before = null;
    let scrapeModule: typeof import('../probes/scrape.js') | null = null;
    if (settings.metricsUrl) {
      scrapeModule = await import('../probes/scrape.js');
      progress.update(`Scraping ${settings.metricsUrl} before the suite`);
      before = await scrapeModule.scrapeSnapshot(settings.metricsUrl, settings.requestTimeoutMs);
    }
    run = await runSuiteDetailed(settings, { url, progress, suite });
    // A 401 is a definite answer, not a server that could not be judged: a failed check naming the key option.
    if (run.unauthorized) checks.push(authFailed(run.unauthorized));
    if (scrapeModule && before && settings.metricsUrl) {
      progress.update(`Scraping ${settings.metricsUrl} after the suite`);
      const after = await scrapeModule.scrapeSnapshot(settings.metricsUrl, settings.requestTimeoutMs);
      const { reconcile } = await import('../../checks/metrics/reconcile.js');
      // The plain requests after the probes got verdicts too, and the server counted them.
      checks.push(...reconcile(before, after, [...run.cases, ...run.followUps], run.requestsSent, settings.server));
    }
  } finally {
    progress.stop();
  }

  const latency = latencyStats(run.cases);
  const report = buildReport(
    'suite',
    {
      ...(checks.length ? { checks } : {}),
      cases: run.cases,
      suite: {
        name: suite.name,
        file: suite.file,
        url,
        server: settings.server,
        servedModel: run.servedModel,
        controversialAs: settings.controversialAs,
        casesInFile: suite.totalCases,
        tags: settings.tags,
        requestsSent: run.requestsSent,
        durationMs: run.durationMs,
        latency: { p50Ms: latency.p50, p95Ms: latency.p95, p99Ms: latency.p99, maxMs: latency.max },
        confusion: confusionMatrix(run.cases),
      },
    },
    settings.strict,
  );
  return emitReport(report, settings, (r) => renderHuman(r, settings, suite.name, url, run.servedModel));
}

function renderHuman(report: Report, settings: Settings, name: string, url: string, servedModel: string | null): string[] {
  const target = settings.server === 'vllm' ? `vllm${servedModel ? `, model ${servedModel}` : ''}` : 'web';
  const reading = settings.controversialAs === 'unsafe' ? 'controversial read as unsafe (strict)' : 'controversial read as safe (loose)';
  const lines = [paint.bold(`guard-doctor suite: ${name} against ${url} (${target}; ${reading})`), '', ...renderSuiteReport(report.cases ?? [], { verbose: settings.verbose })];
  const auth = report.checks?.filter((c) => c.id === 'server.auth') ?? [];
  const reconciliation = report.checks?.filter((c) => c.id !== 'server.auth') ?? [];
  if (auth.length) lines.push('', ...renderChecks(auth, settings.verbose));
  if (reconciliation.length) lines.push('', paint.bold('Metrics reconciliation:'), ...renderChecks(reconciliation, settings.verbose));
  const cases = report.cases ?? [];
  const unanswered = cases.filter((c) => c.status === 'error').length;
  if (unanswered > 0 && unanswered === cases.filter((c) => c.status !== 'skip').length && auth.length === 0) {
    lines.push('', `${paint.cyan('fix:')} no case got a readable answer; check that the server runs at ${url}, that --server ${settings.server} is its kind, and its log (guard-doctor diagnose)`);
  }
  lines.push('', footer(report, 'result'));
  return lines;
}
