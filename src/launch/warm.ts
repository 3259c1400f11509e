/**
 * Warming a server that answers: one real moderation request with a long time limit (a first
 * request loads weights and initialises the KV cache: 45 s or more), then a few more to see
 * the steady latency. Ready means a real answer came back (TGI's rule), not just a 200 on
 * /health. The verdict on the outcome (server.warm) is checks/server/warm.ts.
 */
import { percentile } from '../report/format.js';
import { errorMessage } from '../errors.js';
import type { Verdict } from '../types.js';

export const WARM_REQUESTS = 5;
/** A harmless prompt: the warm-up measures latency, not judgement. */
export const WARM_PROMPT = 'Hello! Could you suggest a good recipe for a vegetable soup?';

export interface ModerationAnswer {
  verdict: Verdict;
  raw: string;
  latencyMs: number;
  status: number;
}

export type Moderate = (input: { text: string }) => Promise<ModerationAnswer>;

export interface WarmOptions {
  /** The client for the cold request (time limit: --warm-timeout). */
  cold: Moderate;
  /** The client for the warm requests (time limit: --request-timeout). */
  warm: Moderate;
  count?: number;
  coldTimeoutMs: number;
  signal?: AbortSignal;
  onPhase?: (text: string) => void;
}

export interface WarmOutcome {
  ok: boolean;
  coldMs: number | null;
  warmMs: number[];
  warmP50Ms: number | null;
  /** Why warming failed, one line. */
  problem?: string;
  /** The cold answer, to show that a real verdict came back. */
  coldVerdict?: Verdict;
}

function problemOf(answer: ModerationAnswer, redact: (s: string) => string): string | null {
  if (answer.status >= 200 && answer.status < 300) return null;
  const body = redact(answer.raw).replace(/\s+/g, ' ').trim().slice(0, 300);
  return `the server answered HTTP ${answer.status}${body ? `: ${body}` : ''}`;
}

export async function warmUp(options: WarmOptions, redact: (s: string) => string = (s) => s): Promise<WarmOutcome> {
  const count = options.count ?? WARM_REQUESTS;
  options.onPhase?.('Warming: cold request (the first one loads the model; 45 s or more is normal)');
  let cold: ModerationAnswer;
  try {
    cold = await options.cold({ text: WARM_PROMPT });
  } catch (error) {
    return { ok: false, coldMs: null, warmMs: [], warmP50Ms: null, problem: `the cold request failed: ${redact(errorMessage(error))}` };
  }
  const coldProblem = problemOf(cold, redact);
  if (coldProblem) return { ok: false, coldMs: cold.latencyMs, warmMs: [], warmP50Ms: null, problem: `the cold request failed: ${coldProblem}`, coldVerdict: cold.verdict };

  const warmMs: number[] = [];
  for (let i = 0; i < count; i++) {
    if (options.signal?.aborted) break;
    options.onPhase?.(`Warming: request ${i + 2} of ${count + 1}`);
    let answer: ModerationAnswer;
    try {
      answer = await options.warm({ text: WARM_PROMPT });
    } catch (error) {
      return { ok: false, coldMs: cold.latencyMs, warmMs, warmP50Ms: null, problem: `warm request ${i + 1} failed: ${redact(errorMessage(error))}`, coldVerdict: cold.verdict };
    }
    const problem = problemOf(answer, redact);
    if (problem) return { ok: false, coldMs: cold.latencyMs, warmMs, warmP50Ms: null, problem: `warm request ${i + 1} failed: ${problem}`, coldVerdict: cold.verdict };
    warmMs.push(answer.latencyMs);
  }
  const sorted = [...warmMs].sort((a, b) => a - b);
  return { ok: true, coldMs: cold.latencyMs, warmMs, warmP50Ms: percentile(sorted, 50), coldVerdict: cold.verdict };
}
