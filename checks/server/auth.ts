/**
 * server.auth: a keyed server answered 401/403 (src/api-key.ts unauthorizedProblem says why
 * and which option fixes it). Reported by `up` and `suite`: a failure, never a pass or a
 * "could not tell", since the server answered definitely.
 */
import type { CheckResult } from '../../src/types.js';
import type { ResultSpec } from './spec.js';

export const serverAuth = { id: 'server.auth', title: 'API key' } as const satisfies ResultSpec;

export function authFailed(problem: { summary: string; fix: string }): CheckResult {
  return { ...serverAuth, status: 'fail', summary: problem.summary, fix: problem.fix, durationMs: 0 };
}
