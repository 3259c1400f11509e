/**
 * server.warm: the cold first request within --warm-timeout, then a few warm ones
 * (src/launch/warm.ts warmUp). A real answer in Qwen3Guard's format is needed for a pass;
 * a warm p50 over 2 s is a warning (overloaded, or on too small a device).
 */
import { ms } from '../../src/report/format.js';
import type { CheckResult } from '../../src/types.js';
import type { WarmOutcome } from '../../src/launch/warm.js';
import type { ResultSpec } from './spec.js';

export const serverWarm = { id: 'server.warm', title: 'Warm-up requests' } as const satisfies ResultSpec;

export const WARM_P50_LIMIT_MS = 2_000;

export function warmJudged(outcome: WarmOutcome): CheckResult {
  const base = { ...serverWarm, durationMs: (outcome.coldMs ?? 0) + outcome.warmMs.reduce((a, b) => a + b, 0) };
  const measured = { coldMs: outcome.coldMs, warmP50Ms: outcome.warmP50Ms, warmMs: outcome.warmMs };
  if (!outcome.ok) {
    return { ...base, status: 'fail', summary: outcome.problem ?? 'the warm-up failed', fix: 'read the server log (guard-doctor diagnose --container NAME); raise --warm-timeout if the first request only needs longer', measured };
  }
  const summary = `cold request ${ms(outcome.coldMs)}, warm p50 ${ms(outcome.warmP50Ms)} over ${outcome.warmMs.length} requests`;
  if (outcome.coldVerdict && outcome.coldVerdict.safety === 'unknown') {
    return { ...base, status: 'warn', summary: `${summary}; but the answer is not in Qwen3Guard's format (Safety: ... / Categories: ...)`, fix: 'check that the server runs Qwen3Guard-Gen (not another model) with its chat template', measured };
  }
  if (outcome.warmP50Ms !== null && outcome.warmP50Ms > WARM_P50_LIMIT_MS) {
    return { ...base, status: 'warn', summary: `${summary}: over ${ms(WARM_P50_LIMIT_MS)} means the server is overloaded or on too small a device`, fix: 'check GPU load (`nvidia-smi`), serve on a GPU (not --cpu), or use a smaller model', measured };
  }
  return { ...base, status: 'pass', summary, measured };
}
