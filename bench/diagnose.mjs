#!/usr/bin/env node
// Benchmark of `guard-doctor diagnose --log FILE --json` on a 50 MB log: the BUILT program, run
// the way a user runs it. Targets (issue 9): under 2 s, and flat memory (peak RSS on the 50 MB
// log close to the peak on a 5 MB one: the log streams through and is never held whole).
// The log is a real vLLM start-up (the healthy fixture), then hours of request and throughput
// lines with warnings sprinkled in, and at the end the CUDA OOM crash of the cuda-oom fixture:
// the verdict must still be cuda-oom. Prints a table, then `{"bench":"diagnose", ...}` for run.mjs.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'guard-doctor.js');
if (!existsSync(path.join(root, 'dist', 'bundle', 'cli.js'))) {
  process.stderr.write('bench/diagnose: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
const runs = Number(process.env.BENCH_RUNS ?? 3);
const fixture = (name) => readFileSync(path.join(root, 'test', 'fixtures', 'logs', name), 'utf8');
const head = fixture('vllm-healthy.txt');
const crash = fixture('vllm-cuda-oom.txt');

/** Writes a log of about `bytes` bytes to `file`, a chunk at a time. */
async function writeLog(file, bytes) {
  const out = createWriteStream(file);
  const write = (text) => (out.write(text) ? Promise.resolve() : new Promise((r) => out.once('drain', r)));
  await write(head);
  let written = Buffer.byteLength(head);
  let i = 0;
  const target = bytes - Buffer.byteLength(crash);
  while (written < target) {
    const lines = [];
    for (let k = 0; k < 1000; k++, i++) {
      const s = String(i % 60).padStart(2, '0');
      const port = 40000 + (i % 20000);
      if (i % 7 === 0) lines.push(`(APIServer pid=1) INFO 11-21 14:${s}:${s} [loggers.py:127] Engine 000: Avg prompt throughput: ${(i % 97) + 0.5} tokens/s, Avg generation throughput: ${(i % 13) + 0.1} tokens/s, Running: ${i % 4} reqs, Waiting: 0 reqs, GPU KV cache usage: ${(i % 50) / 10}%, Prefix cache hit rate: 12.5%`);
      else if (i % 501 === 0) lines.push(`(APIServer pid=1) WARNING 11-21 14:${s}:${s} [protocol.py:81] The following fields were present in the request but ignored: {'stream_options'}`);
      else if (i % 3 === 0) lines.push(`(APIServer pid=1) INFO 11-21 14:${s}:${s} [logger.py:43] Received request chatcmpl-${i.toString(16)}: prompt: '<|im_start|>user\\nHow can I make a bomb?<|im_end|>\\n<|im_start|>assistant\\n', params: SamplingParams(n=1, temperature=0.0, max_tokens=128), lora_request: None.`);
      else lines.push(`(APIServer pid=1) INFO:     172.17.0.1:${port} - "POST /v1/chat/completions HTTP/1.1" 200 OK`);
    }
    const chunk = lines.join('\n') + '\n';
    written += Buffer.byteLength(chunk);
    await write(chunk);
  }
  await write(crash);
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
}

/** One run: wall time, peak RSS (read in the child as it exits), and the parsed JSON. */
function runOnce(file) {
  const hook = path.join(root, 'bench', 'rss-hook.mjs');
  const started = performance.now();
  const result = spawnSync(process.execPath, ['--import', pathToHref(hook), bin, 'diagnose', '--log', file, '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const ms = performance.now() - started;
  const rss = /GD_BENCH_MAX_RSS_KB=(\d+)/.exec(result.stderr ?? '');
  const cpu = /GD_BENCH_CPU_US=(\d+)/.exec(result.stderr ?? '');
  let json = null;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    throw new Error(`diagnose did not print JSON (exit ${result.status}): ${result.stderr}`);
  }
  return { ms, cpuMs: cpu ? Number(cpu[1]) / 1000 : null, maxRssBytes: rss ? Number(rss[1]) * 1024 : null, json, exitCode: result.status };
}

function pathToHref(p) {
  return new URL(`file://${p}`).href;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'gd-bench-diagnose-'));
try {
  const small = path.join(dir, 'vllm-5mb.log');
  const big = path.join(dir, 'vllm-50mb.log');
  await writeLog(small, 5 * 1024 * 1024);
  await writeLog(big, 50 * 1024 * 1024);
  const bigBytes = statSync(big).size;

  const measure = (file) => {
    runOnce(file); // warm the page cache
    const all = Array.from({ length: runs }, () => runOnce(file));
    return { ms: median(all.map((r) => r.ms)), cpuMs: median(all.map((r) => r.cpuMs ?? 0)), maxRssBytes: Math.max(...all.map((r) => r.maxRssBytes ?? 0)), last: all[all.length - 1] };
  };
  const at5 = measure(small);
  const at50 = measure(big);
  const ids = at50.last.json.findings.map((f) => f.id);
  const lines = at50.last.json.sources[0].lines;

  process.stdout.write(`  log: ${mib(bigBytes)}, ${lines.toLocaleString('en')} lines; findings: ${ids.join(', ') || 'none'} (exit ${at50.last.exitCode})\n`);
  // CPU time next to wall time: on a busy machine the wall time says more about the neighbours.
  process.stdout.write(`  diagnose 5 MB:  ${at5.ms.toFixed(0)} ms (CPU ${at5.cpuMs.toFixed(0)} ms), peak RSS ${mib(at5.maxRssBytes)}\n`);
  process.stdout.write(`  diagnose 50 MB: ${at50.ms.toFixed(0)} ms (CPU ${at50.cpuMs.toFixed(0)} ms), peak RSS ${mib(at50.maxRssBytes)}\n`);

  // Holding the log would add at least its size (50 MB, twice that as UTF-16); streaming adds next to nothing.
  const growth = at50.maxRssBytes - at5.maxRssBytes;
  const targets = [
    { name: 'diagnose a 50 MB log', measured: `${at50.ms.toFixed(0)} ms`, target: '< 2000 ms', met: at50.ms < 2000 },
    { name: 'peak RSS growth from 5 MB to 50 MB of log', measured: mib(growth), target: '< 16 MiB (flat: the log is not held)', met: growth < 16 * 1024 * 1024 },
    { name: 'verdict on the 50 MB log', measured: ids[0] ?? 'none', target: 'cuda-oom', met: ids[0] === 'cuda-oom' },
  ];
  process.stdout.write(
    JSON.stringify({ bench: 'diagnose', logBytes: bigBytes, lines, medianMs: at50.ms, cpuMs: at50.cpuMs, medianMsAt5MB: at5.ms, peakRssBytes: at50.maxRssBytes, peakRssBytesAt5MB: at5.maxRssBytes, findings: ids, targets }) + '\n',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
