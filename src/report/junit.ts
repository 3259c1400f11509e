/** JUnit XML: one testsuite per section (checks, suite cases), classname and name on every testcase. */
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CaseResult, CheckResult, Report } from '../types.js';

function xml(text: string): string {
  return text
    // XML 1.0 forbids most control characters, even escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

interface Row {
  classname: string;
  name: string;
  status: CheckResult['status'];
  seconds: number;
  message: string;
  body: string;
}

function checkRow(c: CheckResult): Row {
  return {
    classname: `guard-doctor.checks.${c.id.split('.')[0]}`,
    name: c.id,
    status: c.status,
    seconds: c.durationMs / 1000,
    message: c.summary,
    body: [c.summary, c.fix ? `fix: ${c.fix}` : '', ...(c.details ?? [])].filter(Boolean).join('\n'),
  };
}

function caseRow(c: CaseResult): Row {
  const got = c.verdict.safety + (c.verdict.categories.length ? ` (${c.verdict.categories.join(', ')})` : '');
  const message = c.message ?? `expected ${c.expected.join(' or ')}, got ${got}`;
  return {
    classname: `guard-doctor.suite.${c.tags?.[0] ?? 'cases'}`,
    name: c.id,
    status: c.status,
    seconds: (c.latencyMs ?? 0) / 1000,
    message,
    body: [message, c.raw ? `server answered: ${c.raw}` : ''].filter(Boolean).join('\n'),
  };
}

function suite(name: string, rows: Row[], strict: boolean): string {
  const failures = rows.filter((r) => r.status === 'fail' || (strict && r.status === 'warn')).length;
  const errors = rows.filter((r) => r.status === 'error').length;
  const skipped = rows.filter((r) => r.status === 'skip').length;
  const time = rows.reduce((t, r) => t + r.seconds, 0);
  const cases = rows.map((r) => {
    const open = `    <testcase classname="${xml(r.classname)}" name="${xml(r.name)}" time="${r.seconds.toFixed(3)}"`;
    if (r.status === 'pass') return `${open}/>`;
    let inner: string;
    if (r.status === 'fail' || (strict && r.status === 'warn')) inner = `<failure message="${xml(r.message)}" type="${r.status}">${xml(r.body)}</failure>`;
    else if (r.status === 'error') inner = `<error message="${xml(r.message)}" type="error">${xml(r.body)}</error>`;
    else if (r.status === 'skip') inner = `<skipped message="${xml(r.message)}"/>`;
    else inner = `<system-out>${xml(`warning: ${r.body}`)}</system-out>`;
    return `${open}>\n      ${inner}\n    </testcase>`;
  });
  return [
    `  <testsuite name="${xml(name)}" tests="${rows.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time.toFixed(3)}">`,
    ...cases,
    '  </testsuite>',
  ].join('\n');
}

export function renderJunit(report: Report, strict: boolean): string {
  const suites: string[] = [];
  // A fleet: one testsuite per host, named by the host.
  for (const h of report.hosts ?? []) suites.push(suite(h.host, [...(h.checks ?? []).map(checkRow), ...(h.cases ?? []).map(caseRow)], strict));
  if (report.checks) suites.push(suite(`guard-doctor ${report.command}: checks`, report.checks.map(checkRow), strict));
  if (report.cases) suites.push(suite(`guard-doctor ${report.command}: suite`, report.cases.map(caseRow), strict));
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="guard-doctor">\n${suites.join('\n')}\n</testsuites>\n`;
}

export async function writeJunit(file: string, report: Report, strict: boolean): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, renderJunit(report, strict));
}
