/**
 * host.tunnel: the SSH local forward through which the doctor reaches a fleet host's server (or
 * its metrics port). A forward that cannot be opened leaves that host's server unjudged: `error`.
 */
import type { CheckResult } from '../../src/types.js';
import type { ResultSpec } from '../server/spec.js';

export const hostTunnel = { id: 'host.tunnel', title: 'SSH forward to the server' } as const satisfies ResultSpec;

export function tunnelFailedCheck(problem: string): CheckResult {
  return { ...hostTunnel, status: 'error', summary: problem, fix: 'allow TCP forwarding on the host (sshd_config AllowTcpForwarding yes)', durationMs: 0 };
}
