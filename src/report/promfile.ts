/**
 * `--prom-file PATH`: the doctor's own results for Prometheus, in the node_exporter
 * textfile-collector convention: written to a temporary file in the same folder and renamed
 * over the target (the collector never reads half a file; the temporary name does not end in
 * `.prom`, so the collector ignores it), no timestamps (the collector refuses them), HELP and
 * TYPE for every metric.
 *
 * Status is one-hot: every check and case has one series per status, the current one 1 and
 * the others 0 (the kube-state-metrics habit), so an alert reads
 * `guard_doctor_check_status{status="fail"} == 1` and a status change never leaves a stale
 * series behind. Every series carries `command`, so the files of `check`, `suite` and `up` can
 * sit side by side in the collector's folder without clashing.
 */
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { STATUSES, type Report } from '../types.js';

interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

/** Escape a label value for the text format: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * The exposition for one report. `nowMs` is the run's time (a sample value, never a timestamp).
 * A fleet report gives every series a `host` label, one set of series per host.
 */
export function renderPromFile(report: Report, nowMs: number = Date.now()): string {
  const families = new Map<string, Family>();
  const add = (name: string, help: string, samples: Family['samples'], type: Family['type'] = 'gauge') => {
    if (samples.length === 0) return;
    const family = families.get(name);
    if (family) family.samples.push(...samples);
    else families.set(name, { name, help, type, samples: [...samples] });
  };
  const parts: Array<{ labels: Record<string, string>; part: Report }> = report.hosts
    ? report.hosts.map((h) => ({ labels: { host: h.host }, part: { ...report, ...h, hosts: undefined } as Report }))
    : [{ labels: {}, part: report }];
  for (const { labels, part } of parts) addReport(add, part, labels, nowMs);
  return renderFamilies([...families.values()]);
}

type Add = (name: string, help: string, samples: Family['samples'], type?: Family['type']) => void;

function addReport(addRaw: Add, report: Report, extraLabels: Record<string, string>, nowMs: number): void {
  const command = report.command;
  const add: Add = (name, help, samples, type) => addRaw(name, help, samples.map((s) => ({ ...s, labels: { ...extraLabels, ...s.labels } })), type);

  add('guard_doctor_last_run_timestamp_seconds', 'When guard-doctor last finished this command, in seconds since the epoch.', [{ labels: { command }, value: Math.floor(nowMs / 1000) }]);
  add('guard_doctor_exit_code', 'Exit code of the last run (0 nothing failed, 1 failed, 2 invalid input, 3 could not tell, 4 container did not start).', [{ labels: { command }, value: report.exitCode }]);
  add('guard_doctor_ok', '1 when the last run passed (its exit code was 0), else 0.', [{ labels: { command }, value: report.ok ? 1 : 0 }]);
  add(
    'guard_doctor_results',
    'Checks and cases of the last run by status.',
    STATUSES.map((status) => ({ labels: { command, status }, value: report.summary[status] })),
  );
  const judged = report.summary.pass + report.summary.warn + report.summary.fail + report.summary.error;
  add('guard_doctor_pass_ratio', 'Share of checks and cases that passed, skipped ones not counted (0 to 1).', judged > 0 ? [{ labels: { command }, value: report.summary.pass / judged }] : []);

  const checks = report.checks ?? [];
  add(
    'guard_doctor_check_status',
    'Status of each check of the last run, one-hot: 1 for the current status, 0 for the others.',
    checks.flatMap((c) => STATUSES.map((status) => ({ labels: { command, check: c.id, status }, value: c.status === status ? 1 : 0 }))),
  );
  add(
    'guard_doctor_check_duration_seconds',
    'How long each check of the last run took, probes included.',
    checks.map((c) => ({ labels: { command, check: c.id }, value: c.durationMs / 1000 })),
  );

  const cases = report.cases ?? [];
  add(
    'guard_doctor_case_status',
    'Status of each suite case of the last run, one-hot: 1 for the current status, 0 for the others.',
    cases.flatMap((c) => STATUSES.map((status) => ({ labels: { command, case: c.id, status }, value: c.status === status ? 1 : 0 }))),
  );
  add(
    'guard_doctor_case_latency_seconds',
    'Latency of each suite case of the last run (cases without an answer are left out).',
    cases.filter((c) => c.latencyMs !== null).map((c) => ({ labels: { command, case: c.id }, value: (c.latencyMs as number) / 1000 })),
  );

  if (report.launch) {
    const container = report.launch.container;
    add('guard_doctor_cold_start_seconds', 'Time to the first answer of the launched server (the cold request).', report.launch.coldMs === null ? [] : [{ labels: { command, container }, value: report.launch.coldMs / 1000 }]);
    add('guard_doctor_warm_latency_p50_seconds', 'Median latency of the warm requests after launch.', report.launch.warmP50Ms === null ? [] : [{ labels: { command, container }, value: report.launch.warmP50Ms / 1000 }]);
  }

}

function renderFamilies(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      lines.push(`${family.name}${labels ? `{${labels}}` : ''} ${formatValue(sample.value)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Write atomically: temporary file in the same folder (same file system), fsync, rename. */
export async function writePromFile(file: string, report: Report): Promise<void> {
  const text = renderPromFile(report);
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
