/**
 * The fleet's report: one entry per host (`hosts[]`), counts over every host, and the
 * fleet's exit code (CONTRACT "Fleets"): 2 bad command line (never reaches here); else 4 when
 * any host's container failed; else 1 when anything failed on any host; else 3 when any host
 * could not be judged; else 0. People get a section per host, then one table in which hosts
 * with the same verdict are folded together (the ClusterShell habit).
 */
import { EXIT, type CaseResult, type CheckResult, type HostReport, type LaunchInfo, type Report, type Summary } from '../types.js';
import { buildReport, reportHead } from '../report/outcome.js';
import { footer, renderChecks } from '../report/human.js';
import { mark, paint } from '../report/style.js';
import { padEnd, plural } from '../report/format.js';
import { renderSuiteReport } from '../suite/report.js';

/** What one host's unit produced. */
export interface HostOutcome {
  checks?: CheckResult[];
  cases?: CaseResult[];
  launch?: LaunchInfo;
  /** The exit code when the unit decides it (up's 4, down's and diagnose's own rules). */
  exitCode?: number;
  /** Lines for the host's section after its results (how to reach and stop a server, findings...). */
  lines?: string[];
  /** More fields for the host's JSON entry. */
  fields?: Record<string, unknown>;
}

export function hostReport(command: string, host: string, outcome: HostOutcome, strict: boolean): HostReport & { lines: string[] } {
  const report = buildReport(command, { ...(outcome.checks ? { checks: outcome.checks } : {}), ...(outcome.cases ? { cases: outcome.cases } : {}), ...(outcome.launch ? { launch: outcome.launch } : {}) }, strict, outcome.exitCode);
  return {
    host,
    ok: report.ok,
    exitCode: report.exitCode,
    ...(report.checks ? { checks: report.checks } : {}),
    ...(report.cases ? { cases: report.cases } : {}),
    ...(report.launch ? { launch: report.launch } : {}),
    ...(outcome.fields ?? {}),
    summary: report.summary,
    lines: outcome.lines ?? [],
  };
}

export function fleetExitCode(codes: readonly number[]): number {
  if (codes.includes(EXIT.container)) return EXIT.container;
  if (codes.includes(EXIT.interrupted)) return EXIT.interrupted;
  if (codes.includes(EXIT.failed)) return EXIT.failed;
  if (codes.includes(EXIT.undetermined)) return EXIT.undetermined;
  if (codes.some((c) => c !== EXIT.ok)) return Math.max(...codes);
  return EXIT.ok;
}

export function buildFleetReport(command: string, hosts: ReadonlyArray<HostReport & { lines?: string[] }>, extra: Record<string, unknown> = {}): Report {
  const summary: Summary = { pass: 0, warn: 0, fail: 0, skip: 0, error: 0 };
  for (const h of hosts) for (const k of Object.keys(summary) as (keyof Summary)[]) summary[k] += h.summary[k];
  const exitCode = fleetExitCode(hosts.map((h) => h.exitCode));
  return {
    ...reportHead(command, exitCode),
    ...extra,
    hosts: hosts.map(({ lines: _lines, ...entry }) => entry),
    summary,
  };
}

/** What did not pass on a host, as the fleet table shows it: `gpu.vram`, `case bomb-en`. */
function problems(h: HostReport): string[] {
  const bad = (s: string) => s === 'fail' || s === 'error' || s === 'warn';
  return [...(h.checks ?? []).filter((c) => bad(c.status)).map((c) => `${c.id}${c.status === 'warn' ? ' (warning)' : ''}`), ...(h.cases ?? []).filter((c) => bad(c.status)).map((c) => `case ${c.id}`)];
}

function verdictWord(code: number): string {
  switch (code) {
    case EXIT.ok:
      return 'ok';
    case EXIT.failed:
      return 'failed';
    case EXIT.undetermined:
      return 'could not tell';
    case EXIT.container:
      return 'container failed';
    case EXIT.interrupted:
      return 'interrupted';
    default:
      return `exit ${code}`;
  }
}

/** Hosts with the same exit code and the same things not passing, folded into one row. */
export function fleetTable(hosts: readonly HostReport[]): string[] {
  const groups = new Map<string, { hosts: string[]; code: number; problems: string[] }>();
  for (const h of hosts) {
    const p = problems(h);
    const key = `${h.exitCode}|${p.join(',')}`;
    const group = groups.get(key) ?? { hosts: [], code: h.exitCode, problems: p };
    group.hosts.push(h.host);
    groups.set(key, group);
  }
  const rows = [...groups.values()].map((g) => ({ names: g.hosts.join(', '), g }));
  const width = Math.min(48, Math.max(...rows.map((r) => r.names.length), 4)) + 2;
  return rows.map(({ names, g }) => {
    const status = g.code === EXIT.ok ? 'pass' : g.code === EXIT.undetermined ? 'error' : 'fail';
    const what = g.problems.length ? `${verdictWord(g.code)}: ${g.problems.join(', ')}` : verdictWord(g.code);
    return `  ${mark(status)} ${padEnd(names, width)}${what} ${paint.dim(`exit ${g.code}`)}`;
  });
}

export function renderFleet(report: Report, hosts: ReadonlyArray<HostReport & { lines?: string[] }>, title: string, verbose: boolean): string[] {
  const out = [paint.bold(title)];
  for (const h of hosts) {
    out.push('', paint.bold(`── ${h.host} ──`));
    if (h.checks?.length) out.push(...renderChecks(h.checks, verbose));
    if (h.cases?.length) out.push('', paint.bold('Edge-case suite:'), ...renderSuiteReport(h.cases, { verbose }));
    out.push(...(h.lines ?? []));
    if (h.checks?.length || h.cases?.length) out.push(footer({ ...report, summary: h.summary, exitCode: h.exitCode }, 'result'));
  }
  const counts = new Map<string, number>();
  for (const h of hosts) counts.set(verdictWord(h.exitCode), (counts.get(verdictWord(h.exitCode)) ?? 0) + 1);
  out.push(
    '',
    paint.bold(`Fleet: ${plural(hosts.length, 'host')}`),
    ...fleetTable(hosts),
    '',
    `${[...counts].map(([word, n]) => `${n} ${word}`).join(', ')} ${paint.dim(`exit ${report.exitCode}`)}`,
  );
  return out;
}
