/** Counting results and turning them into the exit code of CONTRACT.md. */
import { EXIT, type Report, type Status, type Summary } from '../types.js';
import { VERSION } from '../version.js';

export function summarize(items: ReadonlyArray<{ status: Status }>): Summary {
  const summary: Summary = { pass: 0, warn: 0, fail: 0, skip: 0, error: 0 };
  for (const item of items) summary[item.status] += 1;
  return summary;
}

/**
 * 1 when anything failed (or warned, with --strict); 3 when every problem was a probe or
 * request that timed out or crashed, so the doctor could not tell; 0 otherwise.
 */
export function exitCodeFor(summary: Summary, strict: boolean): number {
  const failed = summary.fail + (strict ? summary.warn : 0);
  if (failed > 0) return EXIT.failed;
  if (summary.error > 0) return EXIT.undetermined;
  return EXIT.ok;
}

/** The head every JSON document starts with (CONTRACT.md): who wrote it, for which command, and its verdict. */
export function reportHead(command: string, exitCode: number): Pick<Report, 'schemaVersion' | 'tool' | 'version' | 'command' | 'ok' | 'exitCode'> {
  return { schemaVersion: 1, tool: 'guard-doctor', version: VERSION, command, ok: exitCode === EXIT.ok, exitCode };
}

export function buildReport(
  command: string,
  parts: Pick<Report, 'checks' | 'cases' | 'launch'> & Record<string, unknown>,
  strict: boolean,
  exitOverride?: number,
): Report {
  const all = [...(parts.checks ?? []), ...(parts.cases ?? [])];
  const summary = summarize(all);
  const exitCode = exitOverride ?? exitCodeFor(summary, strict);
  const { checks, cases, launch, ...extra } = parts;
  return {
    ...reportHead(command, exitCode),
    ...(checks ? { checks } : {}),
    ...(cases ? { cases } : {}),
    ...(launch ? { launch } : {}),
    ...extra,
    summary,
  };
}
