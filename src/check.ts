/**
 * A check is a small object: id, title, the facts it needs, and a pure function from those
 * facts to a verdict. The runner gathers each needed fact once, turns a probe that timed out
 * or crashed into an `error` result, and a check that throws into an `error` result too.
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
}

export interface Check<N extends FactName = FactName> {
  id: string;
  title: string;
  needs: readonly N[];
  /** A reason to skip this check for these settings (e.g. GPU checks with --cpu), or null. */
  skip?(settings: Settings): string | null;
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
  return checks.map((check) => judgeOne(check, facts, settings));
}

export function judgeOne(check: Check, facts: Partial<Facts>, settings: Settings): CheckResult {
  const base = { id: check.id, title: check.title };
  const skipReason = check.skip?.(settings) ?? null;
  if (skipReason) return { ...base, status: 'skip', summary: skipReason, durationMs: 0 };

  let probeMs = 0;
  const values: Partial<FactValues> = {};
  for (const name of check.needs) {
    const outcome = facts[name];
    if (!outcome) {
      return { ...base, status: 'error', summary: `internal: the ${name} facts were not gathered`, durationMs: 0 };
    }
    probeMs = Math.max(probeMs, outcome.durationMs);
    if (!outcome.ok) {
      return {
        ...base,
        status: 'error',
        summary: `could not tell: ${outcome.message}`,
        fix: outcome.kind === 'timeout' ? 'find out why the probe hangs (a wedged GPU or daemon), or raise --probe-timeout' : undefined,
        durationMs: outcome.durationMs,
      };
    }
    (values as Record<string, unknown>)[name] = outcome.value;
  }
  const started = performance.now();
  try {
    const judgement = check.judge(values as FactValues, settings);
    return { ...base, ...judgement, durationMs: probeMs + Math.round(performance.now() - started) };
  } catch (error) {
    return { ...base, status: 'error', summary: `the check crashed: ${errorMessage(error)}`, durationMs: probeMs };
  }
}
