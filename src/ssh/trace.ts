/** What the ssh code prints under GUARD_DOCTOR_DEBUG=ssh, and the line it quotes from a failed remote command. */
import type { ExecResult } from '../exec.js';

/** GUARD_DOCTOR_DEBUG=ssh: one line per ssh call, with when it started and ended (ms since the process began). */
export function trace(label: string, what: string, started: number, exitCode: number | null): void {
  if (!/\bssh\b/.test(process.env.GUARD_DOCTOR_DEBUG ?? '')) return;
  const now = performance.now();
  process.stderr.write(`[ssh ${label}] ${Math.round(started)}..${Math.round(now)} ms (${Math.round(now - started)} ms) exit ${exitCode}: ${what}\n`);
}

export function firstLine(result: ExecResult): string {
  return (result.stderr.trim() || result.stdout.trim()).split('\n')[0] ?? `exit code ${result.exitCode}`;
}
