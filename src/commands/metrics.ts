/**
 * `guard-doctor metrics --url METRICS_URL`: scrape a guard server's Prometheus endpoint once,
 * stream it through the validator (the reference parsers' verdict, plus promtool-style lints),
 * and judge what was gathered: the format, metric naming, the metrics the server kind should
 * expose (present means sampled, not only declared), label cardinality, and whether the
 * endpoint also answers on this host's non-loopback addresses without authentication.
 *
 * How a failed scrape counts (CONTRACT.md exit codes):
 * - connection refused, HTTP 404 or 5xx, a body over the size limit: `fail` (exit 1). The
 *   endpoint answered the question: nothing (or the wrong thing) is served there.
 * - a time-out, a reset or DNS failure, HTTP 401/403: `error` (exit 3). The doctor could not
 *   look at the metrics, so it cannot tell whether they are right.
 * The other checks are then skipped.
 */
import os from 'node:os';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { buildReport } from '../report/outcome.js';
import { emitReport } from '../report/emit.js';
import { footer, renderChecks } from '../report/human.js';
import { createProgress } from '../report/progress.js';
import { paint } from '../report/style.js';
import { bytesHuman, plural } from '../report/format.js';
import { request, HttpError } from '../http.js';
import { EXPECTED_METRICS, familyNames, type ExpectedMetric } from '../prom/expected.js';
import { redactUrl, scrapeMetrics, type ScrapeOutcome } from '../prom/scrape.js';
import type { FamilySummary, Problem, ProblemKind, ValidationResult } from '../prom/parse.js';
import type { Settings } from '../settings.js';
import { checkResult as check } from '../judge.js';
import type { CheckResult, Report, ServerKind } from '../types.js';

/** Problems listed under a check in the terminal report (all are in --json up to the validator's cap). */
const PROBLEMS_SHOWN = 10;
/** Time limit of each exposure probe on another address; a firewall that drops packets must not stall the run. */
const EXPOSURE_PROBE_MS = 2000;

export async function run(settings: Settings): Promise<number> {
  const url = settings.url!;
  const shownUrl = redactUrl(url);
  // One scrape takes a moment: a spinner on a terminal, nothing in CI logs.
  const progress = await createProgress(settings.output, { when: 'terminal', initial: `Scraping ${shownUrl}` });
  let checks: CheckResult[];
  let outcome: ScrapeOutcome;
  try {
    outcome = await scrapeMetrics(url, { timeoutMs: settings.requestTimeoutMs });
    progress.update(`Checking whether ${shownUrl} answers on other addresses of this host`);
    checks = await judgeScrape(outcome, settings);
  } finally {
    progress.stop();
  }
  const report = buildReport(
    'metrics',
    {
      checks,
      metrics: {
        url: shownUrl,
        server: settings.server,
        ...(outcome.ok
          ? { bytes: outcome.bytes, lines: outcome.result.lines, families: outcome.result.families.length, samples: outcome.result.sampleCount, durationMs: outcome.durationMs }
          : {}),
      },
    },
    settings.strict,
  );
  return emitReport(report, settings, (r) => renderMetricsReport(r, settings, shownUrl));
}

export async function judgeScrape(outcome: ScrapeOutcome, settings: Settings): Promise<CheckResult[]> {
  const scrape = scrapeCheck(outcome);
  if (!outcome.ok) {
    const reason = 'the scrape did not succeed';
    const skipped = (id: string, title: string): CheckResult => ({ id, title, status: 'skip', summary: reason, durationMs: 0 });
    return [
      scrape,
      skipped('metrics.format', TITLES.format),
      skipped('metrics.naming', TITLES.naming),
      skipped('metrics.expected', TITLES.expected),
      skipped('metrics.cardinality', TITLES.cardinality),
      skipped('metrics.exposure', TITLES.exposure),
    ];
  }
  const result = outcome.result;
  return [
    scrape,
    formatCheck(result, outcome.contentType),
    namingCheck(result),
    expectedCheck(result, settings.server),
    cardinalityCheck(result, settings.cardinalityLimit),
    await exposureCheck(settings.url!, settings.requestTimeoutMs),
  ];
}

const TITLES = {
  scrape: 'Metrics endpoint answers',
  format: 'Exposition format',
  naming: 'Metric names and units',
  expected: 'Expected metrics present',
  cardinality: 'Label cardinality',
  exposure: 'Exposure to the network',
} as const;


// ---- metrics.scrape ----

function scrapeCheck(outcome: ScrapeOutcome): CheckResult {
  const id = 'metrics.scrape';
  if (outcome.ok) {
    return check(id, TITLES.scrape, 'pass', `${outcome.url} answered ${bytesHuman(outcome.bytes)} in ${outcome.durationMs} ms${outcome.contentType ? ` (${outcome.contentType})` : ''}`, {
      measured: { status: outcome.status, bytes: outcome.bytes, contentType: outcome.contentType },
      durationMs: outcome.durationMs,
    });
  }
  const measured = { kind: outcome.kind, ...(outcome.status !== undefined ? { status: outcome.status } : {}) };
  const base = { measured, durationMs: outcome.durationMs };
  switch (outcome.kind) {
    case 'refused':
      return check(id, TITLES.scrape, 'fail', outcome.message, { ...base, fix: 'start the metrics endpoint or correct --url: the web app usually serves /metrics on its own port (e.g. 8000), vLLM on its API port' });
    case 'too-large':
      return check(id, TITLES.scrape, 'fail', outcome.message, { ...base, fix: 'a metrics body this large means unbounded labels (ids, URLs); drop those labels' });
    case 'status': {
      const status = outcome.status ?? 0;
      if (status === 401 || status === 403) {
        return check(id, TITLES.scrape, 'error', `could not tell: ${outcome.message}`, { ...base, fix: 'the endpoint needs credentials: put them in the URL (http://user:password@host:port/metrics) or scrape from where no authentication is asked' });
      }
      const fix = status === 404 ? 'check the path of --url: Prometheus endpoints are usually at /metrics' : 'the server failed to render its metrics: read its log (guard-doctor diagnose)';
      return check(id, TITLES.scrape, 'fail', outcome.message, { ...base, fix });
    }
    case 'timeout':
      return check(id, TITLES.scrape, 'error', `could not tell: ${outcome.message}`, { ...base, fix: 'the server is hung or overloaded, or a firewall drops the packets; raise --request-timeout if it is only slow' });
    default:
      return check(id, TITLES.scrape, 'error', `could not tell: ${outcome.message}`, { ...base, fix: 'check the host and port of --url' });
  }
}

// ---- metrics.format and metrics.naming ----

function problemsCheck(id: string, title: string, problems: readonly Problem[], total: { errors: number; warnings: number }, okSummary: string, fix: { error: string; warning: string }, extraWarnings: string[] = []): CheckResult {
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.filter((p) => p.severity === 'warning');
  const measured = {
    errors: total.errors,
    warnings: total.warnings + extraWarnings.length,
    problems: problems.slice(0, 50).map((p) => ({ line: p.line, text: p.text, message: p.message, severity: p.severity })),
  };
  const details = [...extraWarnings, ...problems.map((p) => `line ${p.line}: ${p.message}${p.text ? ` | ${p.text}` : ''}`)];
  if (total.errors > 0) {
    const first = errors[0];
    const more = total.errors + total.warnings - 1;
    return check(id, title, 'fail', `${plural(total.errors, 'error')}${total.warnings ? `, ${plural(total.warnings, 'warning')}` : ''}; first: line ${first?.line}: ${first?.message}${more > 0 ? ` (+${more} more)` : ''}`, { fix: fix.error, measured, details });
  }
  if (total.warnings > 0 || extraWarnings.length > 0) {
    const first = warnings[0];
    const summary = first ? `${plural(total.warnings + extraWarnings.length, 'warning')}; first: line ${first.line}: ${first.message}` : extraWarnings[0]!;
    return check(id, title, 'warn', summary, { fix: fix.warning, measured, details });
  }
  return check(id, title, 'pass', okSummary, { measured });
}

export function formatCheck(result: ValidationResult, contentType: string | null): CheckResult {
  const problems = result.problems.filter((p) => p.kind === 'syntax' || p.kind === 'structure' || p.kind === 'histogram');
  const extraWarnings: string[] = [];
  if (contentType !== null && !/^text\/plain\b/i.test(contentType) && !/^application\/openmetrics-text\b/i.test(contentType)) {
    extraWarnings.push(`Content-Type is "${contentType}"; Prometheus expects text/plain; version=0.0.4`);
  }
  return problemsCheck(
    'metrics.format',
    TITLES.format,
    problems,
    count(result, ['syntax', 'structure', 'histogram']),
    `${plural(result.families.length, 'metric family', 'metric families')}, ${plural(result.sampleCount, 'sample')} in ${plural(result.lines, 'line')}: valid`,
    {
      error: 'fix the exporter so each line listed is valid (prometheus_client renders correct output: prefer it to hand-written text)',
      warning: 'keep each family\'s lines together, one value per series, histogram buckets ascending and cumulative; serve the text format as text/plain; version=0.0.4',
    },
    extraWarnings,
  );
}

export function namingCheck(result: ValidationResult): CheckResult {
  const kinds: ProblemKind[] = ['naming', 'units', 'lint'];
  const problems = result.problems.filter((p) => kinds.includes(p.kind));
  const fixes = [
    result.countsByKind.lint.warnings > 0 ? 'give every family a HELP and a TYPE line, histograms and summaries their _sum and _count, and keep counters from going down (prometheus_client does all of this for you)' : null,
    result.countsByKind.naming.warnings > 0 ? 'rename counters to end in _total' : null,
    result.countsByKind.units.warnings > 0 ? 'use base units: seconds, not milliseconds; bytes, not kilobytes or megabytes' : null,
  ].filter((f): f is string => f !== null);
  // promtool-style lints: a reference parser accepts all of these, so they warn and never fail on their own.
  return problemsCheck('metrics.naming', TITLES.naming, problems, count(result, kinds), 'every family has HELP and TYPE, counters end in _total and units are base units', {
    error: fixes.join('; '),
    warning: fixes.join('; '),
  });
}

/** All problems of these kinds, including those past the validator's kept list. */
function count(result: ValidationResult, kinds: readonly ProblemKind[]): { errors: number; warnings: number } {
  return kinds.reduce((sum, kind) => ({ errors: sum.errors + result.countsByKind[kind].errors, warnings: sum.warnings + result.countsByKind[kind].warnings }), { errors: 0, warnings: 0 });
}

// ---- metrics.expected ----

function findFamily(families: ReadonlyMap<string, FamilySummary>, expected: ExpectedMetric): { family: FamilySummary; name: string } | null {
  for (const name of [expected.name, ...(expected.alternatives ?? [])]) {
    const candidates = expected.type === 'counter' ? familyNames(name) : [name];
    for (const candidate of candidates) {
      const family = families.get(candidate);
      if (family) return { family, name };
    }
  }
  return null;
}

function expectedCheck(result: ValidationResult, server: ServerKind): CheckResult {
  const families = new Map(result.families.map((f) => [f.name, f]));
  const missing: string[] = [];
  /** HELP/TYPE lines but no sample: prometheus_client declares a labelled metric before its first use. */
  const declaredOnly: string[] = [];
  const nearMisses = new Map<string, string>();
  const wrong: string[] = [];
  const notes: string[] = [];
  const found: string[] = [];
  for (const expected of EXPECTED_METRICS[server]) {
    const hit = findFamily(families, expected);
    if (!hit) {
      const near = nearMiss(families, expected.name);
      missing.push(expected.name);
      if (near) nearMisses.set(expected.name, near);
      continue;
    }
    if (hit.name !== expected.name) notes.push(`${expected.name}: found under its older name ${hit.name}`);
    if (hit.family.type !== expected.type) wrong.push(`${hit.name} is ${hit.family.type ? `a ${hit.family.type}` : 'untyped'}, expected a ${expected.type}`);
    if (hit.family.sampleCount === 0) {
      declaredOnly.push(hit.name);
      continue;
    }
    found.push(hit.name);
    const labelNames = new Set(hit.family.labels.map((l) => l.name));
    const lacking = (expected.labels ?? []).filter((l) => !labelNames.has(l));
    if (lacking.length > 0) wrong.push(`${hit.name} lacks the label${lacking.length > 1 ? 's' : ''} ${lacking.join(', ')}`);
  }
  const measured = { server, found, missing, declaredOnly, wrong };
  const expectedNames = EXPECTED_METRICS[server].map((e) => e.name);
  if (missing.length === 0 && wrong.length === 0 && declaredOnly.length === 0) {
    return check('metrics.expected', TITLES.expected, 'pass', `all ${expectedNames.length} ${server} metrics present: ${found.join(', ')}`, { measured, details: notes });
  }
  const other: ServerKind = server === 'web' ? 'vllm' : 'web';
  const looksLikeOther = EXPECTED_METRICS[other].filter((e) => findFamily(families, e)).length >= 2;
  const parts: string[] = [];
  if (missing.length) parts.push(`missing: ${missing.map((m) => (nearMisses.has(m) ? `${m} (${nearMisses.get(m)} looks like it, under another name)` : m)).join(', ')}`);
  if (declaredOnly.length) parts.push(`declared, no samples yet: ${declaredOnly.join(', ')}`);
  if (wrong.length) parts.push(wrong.join('; '));
  const purposes = EXPECTED_METRICS[server].filter((e) => missing.includes(e.name)).map((e) => e.purpose);
  const fix =
    missing.length === 0 && wrong.length === 0
      ? 'the server declares these metrics but has not recorded a value yet (a labelled metric has no series before its first use): send it a request (guard-doctor warm --url ...) and scrape again'
      : looksLikeOther
        ? `these look like ${other} metrics: run with --server ${other}`
        : server === 'vllm'
          ? 'these are vLLM\'s own metrics: point --url at the vLLM server\'s /metrics (its API port), or use --server web for the web app'
          : `export them from the app with prometheus_client (needed for ${purposes.join('; ') || 'the dashboards'}), with the listed types and labels`;
  return check('metrics.expected', TITLES.expected, 'fail', parts.join('; '), { fix, measured, details: notes });
}

/** A family named like the expected one but for `_total` or a plural `s`: the usual hand-written slip. */
function nearMiss(families: ReadonlyMap<string, FamilySummary>, expected: string): string | null {
  const stem = (name: string) => name.replace(/_total$/, '').replace(/s$/, '');
  for (const name of families.keys()) if (name !== expected && stem(name) === stem(expected)) return name;
  return null;
}

// ---- metrics.cardinality ----

function cardinalityCheck(result: ValidationResult, limit: number): CheckResult {
  const bySeries = [...result.families].sort((a, b) => b.seriesCount - a.seriesCount);
  const over = bySeries.filter((f) => f.seriesCount > limit);
  const suspicious = result.families.flatMap((f) =>
    f.labels.filter((l) => l.suspicious.length > 0).map((l) => ({ metric: f.name, label: l.name, distinctValues: l.distinctValues, examples: l.suspicious })),
  );
  const largest = bySeries[0];
  const measured = {
    limit,
    largest: bySeries.slice(0, 5).map((f) => ({ metric: f.name, series: f.seriesCount })),
    over: over.map((f) => ({ metric: f.name, series: f.seriesCount, labels: f.labels.map((l) => ({ label: l.name, distinctValues: l.distinctValues, capped: l.capped })) })),
    suspicious,
  };
  if (over.length === 0 && suspicious.length === 0) {
    const summary = largest ? `largest: ${largest.name} with ${plural(largest.seriesCount, 'series', 'series')} (limit ${limit})` : 'no series';
    return check('metrics.cardinality', TITLES.cardinality, 'pass', summary, { measured });
  }
  const parts: string[] = [];
  if (over.length > 0) {
    const worst = over
      .slice(0, 3)
      .map((f) => {
        const label = [...f.labels].sort((a, b) => b.distinctValues - a.distinctValues)[0];
        return `${f.name} has ${f.seriesCount} series${label ? ` (${label.name}: ${label.distinctValues}${label.capped ? '+' : ''} values)` : ''}`;
      })
      .join(', ');
    parts.push(`${worst}${over.length > 3 ? ` and ${over.length - 3} more` : ''}, over the limit of ${limit}`);
  }
  for (const s of suspicious.slice(0, 3)) {
    const example = s.examples[0]!;
    parts.push(`label ${s.label} of ${s.metric} holds values that look like ${example.reason} ("${example.value}")`);
  }
  if (suspicious.length > 3) parts.push(`${suspicious.length - 3} more labels like that`);
  const details = suspicious.map((s) => `${s.metric} ${s.label}: ${s.examples.map((e) => `"${e.value}" (${e.reason})`).join(', ')}`);
  return check('metrics.cardinality', TITLES.cardinality, 'warn', parts.join('; '), {
    fix: 'every distinct label value is a new series kept for weeks: drop ids, URLs and free text from labels (use a route template such as /judge, a status class, a bounded enum); raise --cardinality-limit if the size is intended',
    measured,
    details,
  });
}

// ---- metrics.exposure ----

type HostKind = 'loopback' | 'this-host' | 'elsewhere';

function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

/** Non-loopback addresses of this host that a client on the network could use. */
function externalAddresses(): Array<{ address: string; family: 4 | 6; iface: string }> {
  const out: Array<{ address: string; family: 4 | 6; iface: string }> = [];
  for (const [iface, entries] of Object.entries(os.networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.internal || isLoopback(entry.address)) continue;
      // Link-local IPv6 needs a zone id and is not reachable from other networks.
      if (entry.family === 'IPv6' && entry.address.toLowerCase().startsWith('fe80:')) continue;
      out.push({ address: entry.address, family: entry.family === 'IPv6' ? 6 : 4, iface });
    }
  }
  return out;
}

async function classifyHost(hostname: string, own: readonly string[]): Promise<{ kind: HostKind; addresses: string[] }> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(bare)) addresses = [bare];
  else if (bare.toLowerCase() === 'localhost') addresses = ['127.0.0.1'];
  else {
    try {
      addresses = (await withTimeout(lookup(bare, { all: true }), EXPOSURE_PROBE_MS)).map((r) => r.address);
    } catch {
      addresses = [];
    }
  }
  if (addresses.length > 0 && addresses.every(isLoopback)) return { kind: 'loopback', addresses };
  if (addresses.some((a) => own.includes(a) || a === '0.0.0.0' || a === '::')) return { kind: 'this-host', addresses };
  return { kind: 'elsewhere', addresses };
}

async function exposureCheck(url: string, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const target = new URL(url);
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  const own = externalAddresses();
  const host = await classifyHost(target.hostname, own.map((a) => a.address));
  const fix = 'bind the metrics server to 127.0.0.1 (uvicorn --host 127.0.0.1, prometheus_client start_http_server(port, addr="127.0.0.1")), publish it as -p 127.0.0.1:PORT:PORT, or put it behind authentication';

  if (host.kind === 'elsewhere') {
    return check('metrics.exposure', TITLES.exposure, 'skip', `${target.hostname} is not this host; exposure is only tried on this host's own addresses`, { durationMs: elapsed() });
  }
  const withoutCredentials = (address: string) => {
    const probe = new URL(url);
    probe.username = '';
    probe.password = '';
    probe.hostname = address.includes(':') ? `[${address}]` : address;
    return probe.toString();
  };
  const credentialed = target.username !== '' || target.password !== '';
  if (host.kind === 'this-host' && !credentialed) {
    return check('metrics.exposure', TITLES.exposure, 'warn', `the metrics answer on ${target.hostname}:${port}, an address of this host reachable from the network, without authentication`, {
      fix,
      measured: { exposedOn: [`${target.hostname}:${port}`] },
      durationMs: elapsed(),
    });
  }
  // The endpoint is on loopback (or needs credentials): try the same port and path on every other address, without credentials.
  const candidates = host.kind === 'this-host' ? host.addresses.map((address) => ({ address })) : own;
  if (candidates.length === 0) {
    return check('metrics.exposure', TITLES.exposure, 'pass', 'this host has no address other than loopback', { durationMs: elapsed() });
  }
  const limitMs = Math.min(timeoutMs, EXPOSURE_PROBE_MS);
  const probes = await Promise.all(
    candidates.map(async ({ address }) => {
      const probeUrl = withoutCredentials(address);
      try {
        const response = await request({ url: probeUrl, timeoutMs: limitMs, maxBodyBytes: 4096 });
        return { address, outcome: response.status === 200 ? 'answers' : response.status === 401 || response.status === 403 ? 'asks for credentials' : `HTTP ${response.status}` };
      } catch (error) {
        const kind = error instanceof HttpError ? error.kind : 'network';
        return { address, outcome: kind === 'refused' ? 'refused' : kind === 'timeout' ? 'no answer' : kind };
      }
    }),
  );
  const exposed = probes.filter((p) => p.outcome === 'answers');
  const measured = { port: Number(port), tried: probes.map((p) => ({ address: p.address, outcome: p.outcome })), exposedOn: exposed.map((p) => p.address) };
  if (exposed.length > 0) {
    return check('metrics.exposure', TITLES.exposure, 'warn', `the metrics also answer without authentication on ${exposed.map((p) => `${p.address.includes(':') ? `[${p.address}]` : p.address}:${port}`).join(', ')}, reachable from the network`, {
      fix,
      measured,
      durationMs: elapsed(),
    });
  }
  const said = probes.map((p) => `${p.address}: ${p.outcome}`).join(', ');
  return check('metrics.exposure', TITLES.exposure, 'pass', `not served without authentication on this host's other addresses (${said})`, { measured, durationMs: elapsed() });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]);
}

// ---- terminal report ----

export function renderMetricsReport(report: Report, settings: Settings, shownUrl: string): string[] {
  const checks = report.checks ?? [];
  const lines = [paint.bold(`guard-doctor metrics: ${shownUrl} (expecting ${settings.server} metrics)`), '', ...renderChecks(checks, settings.verbose)];
  // Each problem names its line: show the first few with the line itself (-v shows all, as details).
  for (const c of settings.verbose ? [] : checks) {
    const problems = (c.measured?.problems as Array<{ line: number; text: string; message: string }> | undefined) ?? [];
    if (problems.length === 0) continue;
    lines.push('', `  ${paint.bold(`${c.id}:`)}`);
    for (const p of problems.slice(0, PROBLEMS_SHOWN)) {
      lines.push(`    ${paint.dim(`line ${p.line}:`)} ${p.message}`);
      if (p.text) lines.push(`      ${paint.dim('|')} ${p.text}`);
    }
    if (problems.length > PROBLEMS_SHOWN) lines.push(`    ${paint.dim(`... ${problems.length - PROBLEMS_SHOWN} more (-v or --json for all)`)}`);
  }
  lines.push('', footer(report, 'check'));
  return lines;
}
