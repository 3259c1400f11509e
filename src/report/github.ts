/** GitHub Actions: workflow-command annotations and a Markdown step summary. */
import { appendFile } from 'node:fs/promises';
import type { Report } from '../types.js';

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function annotations(report: Report): string[] {
  if (report.hosts) return report.hosts.flatMap((h) => annotationsOf(h, `guard-doctor ${h.host}: `));
  return annotationsOf(report, 'guard-doctor ');
}

/** `prefix` names the host in a fleet, so every annotation says where it comes from. */
function annotationsOf(part: Pick<Report, 'checks' | 'cases'>, prefix: string): string[] {
  const lines: string[] = [];
  for (const c of part.checks ?? []) {
    if (c.status === 'pass' || c.status === 'skip') continue;
    const level = c.status === 'fail' ? 'error' : 'warning';
    const text = c.fix ? `${c.summary} — fix: ${c.fix}` : c.summary;
    lines.push(`::${level} title=${escapeProperty(`${prefix}${c.id}`)}::${escapeData(text)}`);
  }
  for (const c of part.cases ?? []) {
    if (c.status === 'pass' || c.status === 'skip') continue;
    const level = c.status === 'fail' ? 'error' : 'warning';
    const text = c.message ?? `expected ${c.expected.join(' or ')}, got ${c.verdict.safety}`;
    lines.push(`::${level} title=${escapeProperty(`${prefix}case ${c.id}`)}::${escapeData(text)}`);
  }
  return lines;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function stepSummary(report: Report): string {
  if (report.hosts) {
    const head = `### guard-doctor ${report.command} on ${report.hosts.length} hosts: ${report.ok ? 'ok' : `exit ${report.exitCode}`}\n`;
    return head + report.hosts.map((h) => stepSummary({ ...report, hosts: undefined, ...h, command: `${report.command} — ${h.host}` }).replace(/^###/, '####')).join('\n');
  }
  const icon = { pass: '✅', warn: '⚠️', fail: '❌', skip: '⏭️', error: '❓' } as const;
  const out: string[] = [`### guard-doctor ${report.command}: ${report.ok ? 'ok' : `exit ${report.exitCode}`}`, ''];
  if (report.checks?.length) {
    out.push('| | check | result | fix |', '| --- | --- | --- | --- |');
    for (const c of report.checks) out.push(`| ${icon[c.status]} | \`${c.id}\` | ${cell(c.summary)} | ${cell(c.status === 'pass' ? '' : (c.fix ?? ''))} |`);
    out.push('');
  }
  if (report.cases?.length) {
    out.push('| | case | expected | got | latency |', '| --- | --- | --- | --- | --- |');
    for (const c of report.cases) out.push(`| ${icon[c.status]} | \`${c.id}\` | ${c.expected.join(', ')} | ${c.verdict.safety} | ${c.latencyMs ?? '-'} ms |`);
    out.push('');
  }
  const s = report.summary;
  out.push(`${s.pass} passed, ${s.warn} warnings, ${s.fail} failed, ${s.error} errors, ${s.skip} skipped`, '');
  return out.join('\n');
}

export async function emitGithub(report: Report, jsonMode: boolean): Promise<void> {
  if (process.env.GITHUB_ACTIONS !== 'true') return;
  const lines = annotations(report);
  // The runner reads workflow commands from both streams; keep stdout pure JSON under --json.
  if (lines.length) (jsonMode ? process.stderr : process.stdout).write(lines.join('\n') + '\n');
  const summaryFile = process.env.GITHUB_STEP_SUMMARY;
  if (summaryFile) await appendFile(summaryFile, stepSummary(report) + '\n');
}
