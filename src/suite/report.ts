/**
 * The suite in words: a plain table (id, expected, got, latency, status) with a line of
 * reasons under every case that did not pass, latency p50/p95/p99, and a confusion matrix of
 * expected versus got. Plain lines (no box drawing): they read well in CI logs and screen
 * readers. `up` prints the same table.
 */
import type { CaseResult, SafetyVerdict } from '../types.js';
import { mark, paint } from '../report/style.js';
import { ms, padEnd, percentile, truncate } from '../report/format.js';

export interface LatencyStats {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

const ROWS = ['safe', 'controversial', 'unsafe'] as const;
const COLUMNS: readonly SafetyVerdict[] = ['safe', 'controversial', 'unsafe', 'unknown'];

/** Latency over the cases that got an answer (skips, errors without an answer, and probes left out). */
export function latencyStats(cases: readonly CaseResult[]): LatencyStats {
  const values = cases
    .filter((c) => c.latencyMs !== null && c.status !== 'skip' && c.expected.length > 0)
    .map((c) => c.latencyMs!)
    .sort((a, b) => a - b);
  return { count: values.length, p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), max: values.length ? values[values.length - 1]! : null };
}

/**
 * Rows: the first accepted verdict of each case (its main expectation); columns: what the
 * server said, `unknown` included. Skipped cases and probes are left out.
 */
export function confusionMatrix(cases: readonly CaseResult[]): Record<(typeof ROWS)[number], Record<SafetyVerdict, number>> {
  const matrix = Object.fromEntries(ROWS.map((r) => [r, Object.fromEntries(COLUMNS.map((col) => [col, 0]))])) as Record<(typeof ROWS)[number], Record<SafetyVerdict, number>>;
  for (const c of cases) {
    if (c.status === 'skip' || c.expected.length === 0) continue;
    matrix[c.expected[0]!][c.verdict.safety] += 1;
  }
  return matrix;
}

function gotText(c: CaseResult): string {
  if (c.status === 'skip') return '-';
  if (c.verdict.safety === 'unknown') return c.httpStatus !== undefined && c.httpStatus >= 400 ? `HTTP ${c.httpStatus}` : c.httpStatus === undefined ? 'no answer' : 'unknown';
  const parts: string[] = [c.verdict.safety];
  if (c.verdict.categories.length) parts.push(`(${c.verdict.categories.join(', ')})`);
  if (c.verdict.refusal !== null) parts.push(c.verdict.refusal ? 'refusal' : 'no refusal');
  return parts.join(' ');
}

function expectedText(c: CaseResult): string {
  return c.expected.length ? c.expected.join('|') : 'clean answer';
}

export interface SuiteTableOptions {
  /** Show the reason line under passing cases too (notes such as categories not checked). */
  verbose?: boolean;
}

export function renderSuiteTable(cases: readonly CaseResult[], options: SuiteTableOptions = {}): string[] {
  if (cases.length === 0) return ['  (no cases)'];
  const idWidth = Math.min(34, Math.max(4, ...cases.map((c) => c.id.length))) + 2;
  const expWidth = Math.min(26, Math.max(8, ...cases.map((c) => expectedText(c).length))) + 2;
  const gotWidth = Math.min(40, Math.max(3, ...cases.map((c) => gotText(c).length))) + 2;
  const lines = [paint.dim(`    ${padEnd('case', idWidth)}${padEnd('expected', expWidth)}${padEnd('got', gotWidth)}${padEnd('latency', 10)}status`)];
  let previousReason: string | undefined;
  for (const c of cases) {
    lines.push(
      `  ${mark(c.status)} ${padEnd(truncate(c.id, idWidth - 2), idWidth)}${padEnd(truncate(expectedText(c), expWidth - 2), expWidth)}${padEnd(truncate(gotText(c), gotWidth - 2), gotWidth)}${padEnd(ms(c.latencyMs), 10)}${c.status}`,
    );
    const showReason = c.message && (c.status !== 'pass' || options.verbose);
    // A server that is down gives every case the same reason: say it once, under the first.
    if (showReason && c.message !== previousReason) lines.push(`      ${c.status === 'skip' ? paint.dim(c.message!) : c.message}`);
    previousReason = showReason ? c.message : undefined;
  }
  if (cases.some(readsSafeFromSubstring)) {
    lines.push(
      '',
      `  ${paint.yellow('!')} The server's "level" comes from substring matching in its app: "不安全" (unsafe) and "基本安全,但存在轻微争议"`,
      '    (controversial) both contain "安全" (safe). Clients must read the model\'s text, or the app\'s parser must be fixed.',
    );
  }
  return lines;
}

/** The web image's known parser bug: level "safe" for a text that says 不安全 or 争议. */
function readsSafeFromSubstring(c: CaseResult): boolean {
  return c.serverLevel === 'safe' && c.verdict.safety !== 'safe' && /安全/.test(c.raw ?? '');
}

export function renderLatency(stats: LatencyStats): string {
  if (stats.count === 0) return 'latency: no answers';
  return `latency over ${stats.count} answers: p50 ${ms(stats.p50)}, p95 ${ms(stats.p95)}, p99 ${ms(stats.p99)}, max ${ms(stats.max)}`;
}

export function renderConfusion(cases: readonly CaseResult[]): string[] {
  const matrix = confusionMatrix(cases);
  const used = ROWS.filter((r) => COLUMNS.some((col) => matrix[r][col] > 0));
  if (used.length === 0) return [];
  const width = 15;
  const lines = ['expected (rows) vs got (columns):', `  ${padEnd('', width)}${COLUMNS.map((col) => padEnd(col, width)).join('')}`];
  for (const r of ROWS) lines.push(`  ${padEnd(r, width)}${COLUMNS.map((col) => padEnd(String(matrix[r][col]), width)).join('')}`);
  return lines;
}

/** The whole suite section: table, latency, matrix. */
export function renderSuiteReport(cases: readonly CaseResult[], options: SuiteTableOptions = {}): string[] {
  return [...renderSuiteTable(cases, options), '', `  ${renderLatency(latencyStats(cases))}`, ...renderConfusion(cases).map((l) => `  ${l}`)];
}
