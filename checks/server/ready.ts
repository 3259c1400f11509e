/**
 * server.ready: the server answered (vLLM: GET /health 200 and /v1/models lists the served
 * name; the web image: any HTTP answer). Built by the ready phase of `up` (src/phases/ready.ts)
 * and by `warm` (src/commands/warm.ts), from the wait in src/launch/ready.ts.
 */
import { ms } from '../../src/report/format.js';
import type { CheckResult } from '../../src/types.js';
import type { ResultSpec } from './spec.js';

export const serverReady = { id: 'server.ready', title: 'Server answers' } as const satisfies ResultSpec;

/** With a hub source the wait held the download too: how much of it was download, how much load. */
export interface DownloadSplit {
  downloadMs: number;
  loadMs: number;
  from: string;
}

export function readyPassed(elapsedMs: number, detail: string, download?: DownloadSplit | null): CheckResult {
  const parts = download ? `; model download ${ms(download.downloadMs)} (from ${download.from}), load ${ms(download.loadMs)}` : '';
  const measured = download ? { readyMs: elapsedMs, downloadMs: download.downloadMs, loadMs: download.loadMs, downloadFrom: download.from } : { readyMs: elapsedMs };
  return { ...serverReady, status: 'pass', summary: `answered after ${ms(elapsedMs)} (${detail}${parts})`, measured, durationMs: elapsedMs };
}

/** The wait ended without an answer the doctor can use: why, and what to do. */
export function readyFailed(summary: string, fix: string, elapsedMs: number): CheckResult {
  return { ...serverReady, status: 'fail', summary, fix, durationMs: elapsedMs };
}
