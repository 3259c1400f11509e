/**
 * Is GPU memory leaking? A least-squares line gives the growth rate that is reported; the
 * verdict "keeps rising" also demands that the rise is steady, so that one allocation spike
 * (the KV cache growing once, a batch of long prompts) is not called a leak:
 * - the least-squares slope is at least `minSlopeMiBPerMin`,
 * - the Theil-Sen slope (the median of all pairwise slopes, which one outlier cannot move)
 *   is at least half of that,
 * - at least `minNonDecreasingShare` of the steps between samples do not go down,
 * - memory grew by at least `minGrowthMiB` from the first to the last sample (above the
 *   allocator's block granularity), and
 * - there are at least `minSamples` samples.
 */

export interface MemoryPoint {
  /** Milliseconds since the watch started. */
  tMs: number;
  usedMiB: number;
}

export const LEAK_RULE = {
  minSamples: 5,
  /** 5 MiB/min fills 80 GiB in about 11 days; slower growth is not what kills a guard after hours. */
  minSlopeMiBPerMin: 5,
  minNonDecreasingShare: 0.8,
  /** PyTorch's caching allocator reserves memory in blocks of 2 MiB and 20 MiB. */
  minGrowthMiB: 20,
} as const;

export type TrendVerdict = 'rising' | 'steady' | 'falling' | 'too few samples';

export interface Trend {
  samples: number;
  firstMiB: number | null;
  lastMiB: number | null;
  minMiB: number | null;
  maxMiB: number | null;
  /** Least-squares growth, MiB per minute (null below two samples or with no time between them). */
  slopeMiBPerMin: number | null;
  /** Theil-Sen growth, MiB per minute. */
  medianSlopeMiBPerMin: number | null;
  /** Steps between consecutive samples that did not go down, of all steps. */
  nonDecreasingSteps: number;
  steps: number;
  verdict: TrendVerdict;
}

/** Theil-Sen over at most this many points (evenly picked), so long watches stay cheap. */
const THEIL_SEN_MAX_POINTS = 400;

export function fitTrend(points: readonly MemoryPoint[], rule: typeof LEAK_RULE = LEAK_RULE): Trend {
  const n = points.length;
  const values = points.map((p) => p.usedMiB);
  let nonDecreasing = 0;
  for (let i = 1; i < n; i++) if (points[i]!.usedMiB >= points[i - 1]!.usedMiB) nonDecreasing += 1;
  const slope = leastSquaresSlope(points);
  const median = theilSenSlope(points);
  const base = {
    samples: n,
    firstMiB: n ? points[0]!.usedMiB : null,
    lastMiB: n ? points[n - 1]!.usedMiB : null,
    minMiB: n ? Math.min(...values) : null,
    maxMiB: n ? Math.max(...values) : null,
    slopeMiBPerMin: slope === null ? null : round1(slope),
    medianSlopeMiBPerMin: median === null ? null : round1(median),
    nonDecreasingSteps: nonDecreasing,
    steps: Math.max(0, n - 1),
  };
  if (n < rule.minSamples || slope === null || median === null) return { ...base, verdict: 'too few samples' };
  const growth = points[n - 1]!.usedMiB - points[0]!.usedMiB;
  const rising =
    slope >= rule.minSlopeMiBPerMin &&
    median >= rule.minSlopeMiBPerMin / 2 &&
    nonDecreasing / (n - 1) >= rule.minNonDecreasingShare &&
    growth >= rule.minGrowthMiB;
  if (rising) return { ...base, verdict: 'rising' };
  const falling = slope <= -rule.minSlopeMiBPerMin && median <= -rule.minSlopeMiBPerMin / 2 && -growth >= rule.minGrowthMiB;
  return { ...base, verdict: falling ? 'falling' : 'steady' };
}

/** MiB per minute. */
export function leastSquaresSlope(points: readonly MemoryPoint[]): number | null {
  const n = points.length;
  if (n < 2) return null;
  let sumT = 0;
  let sumV = 0;
  for (const p of points) {
    sumT += p.tMs;
    sumV += p.usedMiB;
  }
  const meanT = sumT / n;
  const meanV = sumV / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.tMs - meanT) * (p.usedMiB - meanV);
    den += (p.tMs - meanT) ** 2;
  }
  if (den === 0) return null;
  return (num / den) * 60_000;
}

/** MiB per minute: the median of the slopes between every pair of samples. */
export function theilSenSlope(points: readonly MemoryPoint[]): number | null {
  let pts = points;
  if (pts.length > THEIL_SEN_MAX_POINTS) {
    const step = (pts.length - 1) / (THEIL_SEN_MAX_POINTS - 1);
    pts = Array.from({ length: THEIL_SEN_MAX_POINTS }, (_, i) => points[Math.round(i * step)]!);
  }
  const slopes: number[] = [];
  for (let i = 0; i < pts.length; i++) {
    for (let j = i + 1; j < pts.length; j++) {
      const dt = pts[j]!.tMs - pts[i]!.tMs;
      if (dt > 0) slopes.push(((pts[j]!.usedMiB - pts[i]!.usedMiB) / dt) * 60_000);
    }
  }
  if (slopes.length === 0) return null;
  slopes.sort((a, b) => a - b);
  const mid = slopes.length >> 1;
  return slopes.length % 2 ? slopes[mid]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** One trend per process and per GPU, in pid and index order. */
export interface Trends {
  processes: Map<number, Trend>;
  gpus: Map<number, Trend>;
}

/** The readable figures of the samples, as one series per process and per GPU, each fitted. */
export function trendsOf(samples: ReadonlyArray<{ tMs: number; error?: string; gpus: ReadonlyArray<{ index: number; usedMiB: number | null }>; processes: ReadonlyArray<{ pid: number; usedMiB: number | null }> }>): Trends {
  const processPoints = new Map<number, MemoryPoint[]>();
  const gpuPoints = new Map<number, MemoryPoint[]>();
  const add = (m: Map<number, MemoryPoint[]>, key: number, point: MemoryPoint) => {
    const list = m.get(key);
    if (list) list.push(point);
    else m.set(key, [point]);
  };
  for (const s of samples) {
    if (s.error) continue;
    for (const p of s.processes) if (p.usedMiB !== null) add(processPoints, p.pid, { tMs: s.tMs, usedMiB: p.usedMiB });
    for (const g of s.gpus) if (g.usedMiB !== null) add(gpuPoints, g.index, { tMs: s.tMs, usedMiB: g.usedMiB });
  }
  const fit = (m: Map<number, MemoryPoint[]>) => new Map([...m].sort(([a], [b]) => a - b).map(([k, points]) => [k, fitTrend(points)]));
  return { processes: fit(processPoints), gpus: fit(gpuPoints) };
}
