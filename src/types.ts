/**
 * The shapes every phase shares: settings flow into probes (facts), facts into checks
 * (verdicts), verdicts into one report. See STYLE.md: probes gather facts once, checks judge.
 */

export type Status = 'pass' | 'warn' | 'fail' | 'skip' | 'error';
export const STATUSES: readonly Status[] = ['pass', 'warn', 'fail', 'skip', 'error'];

export type ServerKind = 'vllm' | 'web';
export type RuntimeName = 'docker' | 'podman';
export type Safety = 'safe' | 'controversial' | 'unsafe';
export type SafetyVerdict = Safety | 'unknown';

/** The result of one check, as it appears in `checks[]` of the JSON document. */
export interface CheckResult {
  id: string;
  title: string;
  status: Status;
  /** One line: what was found, against what was needed. */
  summary: string;
  /** One actionable line for anything that does not pass. */
  fix?: string;
  /** The numbers and names the summary was built from. */
  measured?: Record<string, unknown>;
  /** Extra information lines, shown with --verbose. */
  details?: string[];
  durationMs: number;
}

export interface Verdict {
  safety: SafetyVerdict;
  categories: string[];
  refusal: boolean | null;
}

/** The result of one suite case, as it appears in `cases[]` of the JSON document. */
export interface CaseResult {
  id: string;
  status: Status;
  expected: Safety[];
  verdict: Verdict;
  latencyMs: number | null;
  /** Why the case did not pass (or what was noticed), one line. */
  message?: string;
  tags?: string[];
  /** Raw text the server answered (cut), for reports. */
  raw?: string;
  /** HTTP status of the answer, when one came back. */
  httpStatus?: number;
  /** web: the level the server's own app derived from its text. */
  serverLevel?: string;
}

export interface LaunchInfo {
  container: string;
  image: string;
  url: string;
  coldMs: number | null;
  warmP50Ms: number | null;
  [key: string]: unknown;
}

export interface Summary {
  pass: number;
  warn: number;
  fail: number;
  skip: number;
  error: number;
}

/** One host's part of a fleet report (`hosts[]` in the JSON document). */
export interface HostReport {
  /** The TARGET as given. */
  host: string;
  ok: boolean;
  exitCode: number;
  checks?: CheckResult[];
  cases?: CaseResult[];
  launch?: LaunchInfo;
  summary: Summary;
  [key: string]: unknown;
}

export interface Report {
  schemaVersion: 1;
  tool: 'guard-doctor';
  version: string;
  command: string;
  ok: boolean;
  exitCode: number;
  checks?: CheckResult[];
  cases?: CaseResult[];
  launch?: LaunchInfo;
  /** With --host: one entry per host, and no top-level checks/cases. */
  hosts?: HostReport[];
  summary: Summary;
  [key: string]: unknown;
}

/** Exit codes from CONTRACT.md. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  undetermined: 3,
  container: 4,
  interrupted: 130,
} as const;
