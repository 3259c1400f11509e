/**
 * What the exposition checks share: their declaration, the judgement of a list of validator problems
 * (src/prom/parse.ts), and the judgement of a check whose scrape got no exposition.
 */
import { defineCheck, type Check, type Judgement } from '../../src/judge.js';
import type { ScrapeOutcome } from '../../src/facts.js';
import type { Settings } from '../../src/settings.js';
import type { Problem, ProblemKind, ValidationResult } from '../../src/prom/parse.js';
import { plural } from '../../src/report/format.js';

/** A check over the exposition when there is none: metrics.scrape says why (judgeAll shows "needs metrics.scrape"). */
export const NOT_SCRAPED: Judgement = { status: 'skip', summary: 'the scrape did not succeed', factsMissing: true };

/** A scrape that got an exposition. */
export type Scraped = Extract<ScrapeOutcome, { ok: true }>;

/**
 * A check over the exposition (format, naming, expected, cardinality): it needs the scrape, a
 * failed scrape explains its missing facts (`needs metrics.scrape`), and it judges what was scraped.
 */
export function defineExpositionCheck(spec: { id: string; title: string; judge(scrape: Scraped, settings: Settings): Judgement }): Check<'scrape'> {
  return defineCheck({
    id: spec.id,
    title: spec.title,
    needs: ['scrape'],
    blockedBy: 'metrics.scrape',
    judge: ({ scrape }, settings) => (scrape.ok ? spec.judge(scrape, settings) : NOT_SCRAPED),
  });
}

/** Problems measured per check (all are counted; these many are listed in --json). */
const PROBLEMS_MEASURED = 50;

export function problemsJudgement(
  problems: readonly Problem[],
  total: { errors: number; warnings: number },
  okSummary: string,
  fix: { error: string; warning: string },
  extraWarnings: string[] = [],
): Judgement {
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.filter((p) => p.severity === 'warning');
  const measured = {
    errors: total.errors,
    warnings: total.warnings + extraWarnings.length,
    problems: problems.slice(0, PROBLEMS_MEASURED).map((p) => ({ line: p.line, text: p.text, message: p.message, severity: p.severity })),
  };
  const details = [...extraWarnings, ...problems.map((p) => `line ${p.line}: ${p.message}${p.text ? ` | ${p.text}` : ''}`)];
  if (total.errors > 0) {
    const first = errors[0];
    const more = total.errors + total.warnings - 1;
    return {
      status: 'fail',
      summary: `${plural(total.errors, 'error')}${total.warnings ? `, ${plural(total.warnings, 'warning')}` : ''}; first: line ${first?.line}: ${first?.message}${more > 0 ? ` (+${more} more)` : ''}`,
      fix: fix.error,
      measured,
      details,
    };
  }
  if (total.warnings > 0 || extraWarnings.length > 0) {
    const first = warnings[0];
    const summary = first ? `${plural(total.warnings + extraWarnings.length, 'warning')}; first: line ${first.line}: ${first.message}` : extraWarnings[0]!;
    return { status: 'warn', summary, fix: fix.warning, measured, details };
  }
  return { status: 'pass', summary: okSummary, measured };
}

/** All problems of these kinds, including those past the validator's kept list. */
export function countProblems(result: ValidationResult, kinds: readonly ProblemKind[]): { errors: number; warnings: number } {
  return kinds.reduce((sum, kind) => ({ errors: sum.errors + result.countsByKind[kind].errors, warnings: sum.warnings + result.countsByKind[kind].warnings }), { errors: 0, warnings: 0 });
}
