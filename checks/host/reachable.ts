/**
 * host.reachable: the fleet's first result per host. An unreachable host, or one that refuses the
 * key, is an `error` (it could not be judged) with ssh's own words, never a prompt (BatchMode).
 */
import { formatSeconds } from '../../src/report/format.js';
import type { CheckResult } from '../../src/types.js';
import type { ResultSpec } from '../server/spec.js';

export const hostReachable = { id: 'host.reachable', title: 'Host reachable over SSH' } as const satisfies ResultSpec;

export function reachableCheck(label: string, connection: { ok: boolean; message?: string; durationMs: number }, limitMs: number): CheckResult {
  const base = { ...hostReachable, durationMs: connection.durationMs };
  if (connection.ok) return { ...base, status: 'pass', summary: `connected to ${label} over ssh` };
  return {
    ...base,
    status: 'error',
    summary: `could not reach ${label} over ssh: ${connection.message}`,
    fix: `make \`ssh ${label} true\` work without a prompt (a key in your agent or ssh config, the host key in known_hosts); the connection limit is ${formatSeconds(limitMs)} (--probe-timeout)`,
  };
}
