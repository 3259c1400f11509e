/**
 * The check model and its runner (the registry of checks is checks/index.ts; the `check` command is src/commands/check.ts).
 * A check is a small object: id, title, the facts it needs, and a pure function from those
 * facts to a verdict. The runner gathers each needed fact once (a derived fact, such as the
 * chosen GPU, is worked out once from the gathered ones: src/probes/index.ts DERIVED), turns a
 * probe that timed out or crashed into an `error` result, and a check that throws into an
 * `error` result too. A fact's own lines ("GPU 1 chosen: ...") go on the first check that
 * judges it, so a report says them once.
 */
import type { FactName, FactValue, Facts } from './facts.js';
import type { Settings } from './settings.js';
import type { CheckResult, Status } from './types.js';
import { errorMessage } from './errors.js';

export type FactValues = { [K in FactName]: FactValue<K> };

export interface Judgement {
  status: Status;
  summary: string;
  fix?: string;
  measured?: Record<string, unknown>;
  details?: string[];
  /**
   * The facts this check judges are not there (e.g. no GPU inventory). With `blockedBy`, while
   * the blocker does not pass, the runner shows this check as `skip` "needs <blocker>".
   */
  factsMissing?: boolean;
}

export interface Check<N extends FactName = FactName> {
  id: string;
  title: string;
  needs: readonly N[];
  /** A reason to skip this check for these settings (e.g. GPU checks with --cpu), or null. */
  skip?(settings: Settings): string | null;
  /**
   * The check whose failure already explains this one's missing facts (Flutter's categories:
   * one cause, one failure). A needed probe that failed counts as missing facts too.
   */
  blockedBy?: string;
  judge(facts: Pick<FactValues, N>, settings: Settings): Judgement;
}

/** Keeps `needs` and `judge`'s argument type in step. */
export function defineCheck<N extends FactName>(check: Check<N>): Check<N> {
  return check;
}

/** A result judged outside the facts pipeline (a scrape, a watch): no probe time to count. */
export function checkResult(id: string, title: string, status: Status, summary: string, extra: Partial<CheckResult> = {}): CheckResult {
  return { id, title, status, summary, durationMs: 0, ...extra };
}

export type GatherFacts = (names: readonly FactName[]) => Promise<Partial<Facts>>;

export function neededFacts(checks: readonly Check[], settings: Settings): FactName[] {
  const names = new Set<FactName>();
  for (const check of checks) if (!check.skip?.(settings)) for (const n of check.needs) names.add(n);
  return [...names];
}

export function judgeAll(checks: readonly Check[], facts: Partial<Facts>, settings: Settings): CheckResult[] {
  const judged = checks.map((check) => ({ check, ...judge(check, facts, settings) }));
  const results = new Map(judged.map((j) => [j.check.id, j.result]));
  const said = new Set<FactName>();
  return judged.map(({ check, result, factsMissing, ran }) => {
    const blocker = check.blockedBy === undefined ? undefined : results.get(check.blockedBy);
    if (!factsMissing || !blocker || (blocker.status !== 'fail' && blocker.status !== 'error')) return ran ? withFactDetails(result, check, facts, said) : result;
    return blockedResult(result, blocker.id);
  });
}

/**
 * A fact's own lines (e.g. the derived gpu fact's "GPU 1 chosen: ...") go on the first check in
 * report order that judged it, so a report says them once, not once per check.
 */
function withFactDetails(result: CheckResult, check: Check, facts: Partial<Facts>, said: Set<FactName>): CheckResult {
  const lines: string[] = [];
  for (const name of check.needs) {
    const outcome = facts[name];
    if (said.has(name) || !outcome?.ok || !outcome.details?.length) continue;
    said.add(name);
    lines.push(...outcome.details);
  }
  return lines.length > 0 ? { ...result, details: [...(result.details ?? []), ...lines] } : result;
}

/** The echo of another check's failure: a skip that names the cause; -v and --json keep what it saw. */
function blockedResult(result: CheckResult, blockerId: string): CheckResult {
  return {
    id: result.id,
    title: result.title,
    status: 'skip',
    summary: `needs ${blockerId}`,
    measured: { ...result.measured, blockedBy: blockerId },
    details: [`${blockerId} did not pass, so this was not judged: ${result.summary}`, ...(result.details ?? [])],
    durationMs: result.durationMs,
  };
}

/** One check on its own (no other check's result is known, so nothing counts as blocked). */
export function judgeOne(check: Check, facts: Partial<Facts>, settings: Settings): CheckResult {
  const { result, ran } = judge(check, facts, settings);
  return ran ? withFactDetails(result, check, facts, new Set()) : result;
}

/** `ran`: the check's judge saw its facts (not skipped, no fact missing, no crash). */
function judge(check: Check, facts: Partial<Facts>, settings: Settings): { result: CheckResult; factsMissing: boolean; ran: boolean } {
  const base = { id: check.id, title: check.title };
  const skipReason = check.skip?.(settings) ?? null;
  if (skipReason) return { result: { ...base, status: 'skip', summary: skipReason, durationMs: 0 }, factsMissing: false, ran: false };

  let probeMs = 0;
  const values: Partial<FactValues> = {};
  for (const name of check.needs) {
    const outcome = facts[name];
    if (!outcome) {
      return { result: { ...base, status: 'error', summary: `internal: the ${name} facts were not gathered`, durationMs: 0 }, factsMissing: false, ran: false };
    }
    probeMs = Math.max(probeMs, outcome.durationMs);
    if (!outcome.ok) {
      const result: CheckResult = {
        ...base,
        status: 'error',
        summary: `could not tell: ${outcome.message}`,
        fix: outcome.kind === 'timeout' ? 'find out why the probe hangs (a wedged GPU or daemon), or raise --probe-timeout' : undefined,
        durationMs: outcome.durationMs,
      };
      return { result, factsMissing: true, ran: false };
    }
    (values as Record<string, unknown>)[name] = outcome.value;
  }
  const started = performance.now();
  try {
    const { factsMissing = false, ...judgement } = check.judge(values as FactValues, settings);
    return { result: { ...base, ...judgement, durationMs: probeMs + Math.round(performance.now() - started) }, factsMissing, ran: true };
  } catch (error) {
    return { result: { ...base, status: 'error', summary: `the check crashed: ${errorMessage(error)}`, durationMs: probeMs }, factsMissing: false, ran: false };
  }
}
