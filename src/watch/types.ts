/**
 * What `watch` records: a sample per --interval (as the JSON report keeps them) and the
 * figures of the load it drove. The checks in checks/watch/ judge these, and nothing else.
 */
import type { MemorySampleProblem } from '../probes/nvidia-sample.js';

/** Why a sample has no figures: the probe's reasons, and a --gpu the host does not have. */
export type SampleProblemKind = MemorySampleProblem | 'no-such-gpu';

export interface WatchSample {
  /** Milliseconds since the watch started. */
  tMs: number;
  gpus: Array<{ index: number; usedMiB: number | null; mig?: true }>;
  processes: Array<{ pid: number; usedMiB: number | null }>;
  /** GPUs nvidia-smi named as unreachable in this sample (its own line). */
  lostGpus?: string[];
  /** Why this sample has no figures (nvidia-smi failed), when it has none. */
  error?: string;
  errorKind?: SampleProblemKind;
}

export interface LoadStats {
  url: string;
  rounds: number;
  cases: number;
  requestsSent: number;
  notPassing: number;
  errors: number;
  /** Why driving the load stopped, when it did. */
  stopped: string | null;
  /** The server refused the requests for want of the right API key: what to do. */
  authFix?: string;
}

/** The host's state rather than one sample's bad luck: no later sample can do better. */
export const LASTING_PROBLEMS: ReadonlySet<SampleProblemKind> = new Set(['no-nvidia-smi', 'no-driver', 'nvml-mismatch', 'no-devices', 'no-such-gpu']);
