// Preloaded by bench/diagnose.mjs (`node --import`): reports the process's peak RSS and CPU time
// as it exits, so the benchmark measures the real CLI without a hook in the program itself.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  const usage = process.resourceUsage();
  writeSync(2, `GD_BENCH_MAX_RSS_KB=${usage.maxRSS} GD_BENCH_CPU_US=${usage.userCPUTime + usage.systemCPUTime}\n`);
});
