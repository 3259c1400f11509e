/** Durations as `watch` prints them: "0.2 s", "300 s" (the options' own precision). */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))} s`;
}
