/**
 * watch.sampling: did nvidia-smi give figures every --interval? A missing program, driver or
 * GPU is the host's answer (fail); a hang or an odd failure leaves the doctor unable to tell
 * (error); some samples lost, or a GPU fallen off the bus during the watch, is a warning.
 */
import { checkResult } from '../../src/judge.js';
import { plural } from '../../src/report/format.js';
import type { Settings } from '../../src/settings.js';
import type { CheckResult, Status } from '../../src/types.js';
import { seconds } from '../../src/watch/format.js';
import { LASTING_PROBLEMS, type SampleProblemKind, type WatchSample } from '../../src/watch/types.js';

export const watchSampling = { id: 'watch.sampling', title: 'GPU memory sampling' } as const;

const FIX: Record<SampleProblemKind, string> = {
  'no-nvidia-smi': 'install the NVIDIA driver (it brings nvidia-smi) on the host that runs the guard',
  'no-driver': 'load the NVIDIA kernel driver (reboot after installing it; check `nvidia-smi` by hand)',
  'nvml-mismatch': 'the kernel module and the user-space driver differ (an upgrade without a reboot): reboot, or reload the nvidia kernel modules',
  'no-devices': 'nvidia-smi sees no GPU: check that the GPU is there and passed through (`lspci | grep -i nvidia`), then `nvidia-smi` by hand',
  'no-such-gpu': 'give --gpu one of the listed indexes, or leave it out to watch every GPU',
  timeout: 'nvidia-smi hangs: a wedged GPU or driver; check `nvidia-smi` by hand, or raise --probe-timeout',
  failed: 'run the same nvidia-smi query by hand to see why it fails',
  unreadable: 'run `nvidia-smi --query-gpu=index,memory.used --format=csv` by hand and report what it prints',
};

/** The problem that leaves the watch nothing to judge: a lasting one, or every sample failing. */
export function samplingFailure(samples: readonly WatchSample[]): WatchSample | null {
  const last = samples.at(-1);
  if (!last?.error) return null;
  if (last.errorKind && LASTING_PROBLEMS.has(last.errorKind)) return last;
  return samples.every((s) => s.error) ? last : null;
}

export function judgeSampling(samples: readonly WatchSample[], settings: Pick<Settings, 'intervalMs'>): CheckResult {
  const { id, title } = watchSampling;
  const good = samples.filter((s) => !s.error);
  const failed = samples.length - good.length;
  if (samples.length === 0) {
    return checkResult(id, title, 'error', 'could not tell: the watch ended before the first sample', { fix: 'let the watch run for at least one --interval', measured: { samples: 0, failed: 0 } });
  }
  const failure = samplingFailure(samples);
  if (failure) {
    const kind = failure.errorKind ?? 'failed';
    const status: Status = kind === 'timeout' || kind === 'failed' || kind === 'unreadable' ? 'error' : 'fail';
    return checkResult(id, title, status, `${status === 'error' ? 'could not tell: ' : ''}${failure.error}`, { fix: FIX[kind], measured: { samples: samples.length, failed } });
  }
  const spanMs = good.length > 1 ? good[good.length - 1]!.tMs - good[0]!.tMs : 0;
  const lost = [...new Set(samples.flatMap((s) => s.lostGpus ?? []))];
  const problems = [
    ...(failed ? [`${failed} failed (${samples.find((s) => s.error)!.error})`] : []),
    ...(lost.length ? [`nvidia-smi lost ${plural(lost.length, 'GPU')} during the watch (${lost[0]})`] : []),
  ];
  const summary = `${plural(good.length, 'sample')} over ${seconds(spanMs)}, every ${seconds(settings.intervalMs)}${problems.length ? `; ${problems.join('; ')}` : ''}`;
  const fix = lost.length
    ? 'a GPU that falls off the bus takes the guard with it: check `dmesg` for Xid errors and the GPU\'s cooling and power; a reset or reboot brings it back'
    : 'nvidia-smi did not always answer: a sign of a struggling driver; check `nvidia-smi` by hand';
  return checkResult(id, title, problems.length ? 'warn' : 'pass', summary, {
    measured: { samples: samples.length, failed, spanMs, ...(lost.length ? { lostGpus: lost } : {}) },
    ...(problems.length ? { fix } : {}),
  });
}
