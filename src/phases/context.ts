/**
 * `up` as phases: preflight → launch → ready → warm → suite, then a report; `warm --url` is
 * ready → warm against a server started some other way (no container). Each phase is a
 * small unit that reads the settings and what earlier phases left in the run, adds its
 * results to `run.checks` (or `run.cases`), and either returns or throws a PhaseFailure that
 * says the exit code and what the user should see. This machine and every fleet host run the
 * same list; only `run.host` (where docker runs) and `run.url` (how the doctor reaches the
 * server: directly, or through an SSH forward) differ.
 */
import type { Host } from '../exec.js';
import type { Settings } from '../settings.js';
import type { CaseResult, CheckResult, LaunchInfo } from '../types.js';
import type { Progress } from '../report/progress.js';
import type { Finding } from '../diagnose.js';
import type { RunCommand } from '../launch/run-args.js';
import type { ContainerInfo } from '../launch/container.js';
import type { Watcher } from '../launch/watcher.js';
import type { Suite } from '../suite/load.js';

export type ExistingPlan =
  | { kind: 'none' }
  | { kind: 'reuse'; info: ContainerInfo }
  | { kind: 'replace'; info: ContainerInfo }
  | { kind: 'conflict'; info: ContainerInfo; why: string };

export interface UpRun {
  settings: Settings;
  host: Host;
  /**
   * The run launched (or reuses) a container it can watch and diagnose (up). False for a server
   * started some other way (warm --url): only --ready-timeout ends a hopeless wait, and a
   * failure is the report alone, with no container log.
   */
  container: boolean;
  /** Aborts on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  /** A no-op until the launch phase starts the spinner (the preflight has its own). */
  progress: Progress;
  progressEnabled: boolean;
  /** A line that stays (not under --json). */
  log(line: string): void;
  redact(text: string): string;
  runCommand: RunCommand;
  /** How the doctor reaches the server (for a fleet host: a local forward). */
  url: string;
  /** How the doctor reaches --metrics-url (for a fleet host: a local forward, set once launched), or null. */
  metricsUrl: string | null;
  suite: Suite | null;
  checks: CheckResult[];
  cases?: CaseResult[];
  launch: LaunchInfo;
  /** More fields for the report (`suite` figures, ...). */
  fields: Record<string, unknown>;
  plan: ExistingPlan;
  /** This run created the container: Ctrl-C removes it (unless --keep). */
  started: boolean;
  watcher: Watcher | null;
  servedModelName: string;
  /** What a second Ctrl-C should say is left behind. */
  setLeftBehind(text: string | null): void;
}

export type Phase = (run: UpRun) => Promise<void>;

export interface FailureDetail {
  findings?: Finding[];
  logTail?: string[];
  /** Lines after the report for people: the log tail, the diagnosis, what is left behind. */
  lines?: string[];
  /** The launch did not happen (a check failed, or the container could not be made). */
  launched?: boolean;
}

/** A phase ended the run: its exit code and what to tell. */
export class PhaseFailure extends Error {
  constructor(
    readonly exitCode: number,
    readonly reason: string,
    readonly detail: FailureDetail = {},
  ) {
    super(reason);
    this.name = 'PhaseFailure';
  }
}

/** The address the doctor itself uses to reach a published port. */
export function serverUrl(publishHost: string, port: number): string {
  if (publishHost === '0.0.0.0' || publishHost === '') return `http://127.0.0.1:${port}`;
  if (publishHost === '::' || publishHost === '[::]') return `http://[::1]:${port}`;
  const host = publishHost.includes(':') && !publishHost.startsWith('[') ? `[${publishHost}]` : publishHost;
  return `http://${host}:${port}`;
}

export function elapsedText(msElapsed: number): string {
  const s = Math.floor(msElapsed / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
