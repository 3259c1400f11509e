/**
 * server.suite: reported by `up` only when the container stops while the edge-case suite runs
 * (src/phases/run.ts); the cases themselves are the report's `cases`, not checks.
 */
import type { CheckResult } from '../../src/types.js';
import type { ResultSpec } from './spec.js';

export const serverSuite = { id: 'server.suite', title: 'Edge-case suite' } as const satisfies ResultSpec;

/** `stopped`: the watcher's words, e.g. "the container exited (exit code 137, OOM-killed)". */
export function suiteStopped(stopped: string): CheckResult {
  return { ...serverSuite, status: 'fail', summary: `${stopped} during the suite`, durationMs: 0 };
}
