#!/usr/bin/env node
// Benchmark of `guard-doctor check` on a healthy host: the BUILT program against the fake
// nvidia-smi replaying the H100 fixture and whatever docker this machine has, compared with
// the same raw probes run in sequence from a shell (nvidia-smi --query-gpu; docker info; docker image inspect).
// Targets (issue 2): check median <= 600 ms and <= 2x the raw baseline; --version <= 150 ms.
// Issue 8: the number of nvidia-smi calls is printed next to the timings (each real call
// initialises NVML: hundreds of milliseconds to seconds without persistence mode); a healthy
// host takes ONE. Where ../shared/conformance is present, an RTX 4090 on driver 550 (a state that
// needs NVML's brand, so -q too) is counted as well.
// Prints a small table, then one JSON line `{"bench":"check", ...}` that bench/run.mjs reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'guard-doctor.js');
const runs = Number(process.env.BENCH_RUNS ?? 15);
const warmups = 2;

if (!existsSync(path.join(root, 'dist', 'src', 'cli.js'))) {
  process.stderr.write('bench/check: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}

// Without --model-dir the model comes from the hub: keep the run off the network (and off the
// user's own cache) with an empty cache and HF_HUB_OFFLINE, so it times the host probes alone.
const hfHome = mkdtempSync(path.join(os.tmpdir(), 'gd-bench-hf-'));
process.on('exit', () => rmSync(hfHome, { recursive: true, force: true }));
const env = {
  ...process.env,
  HF_HOME: hfHome,
  HF_HUB_OFFLINE: '1',
  PATH: [path.join(root, 'test', 'helpers', 'bin'), process.env.PATH ?? ''].join(path.delimiter),
  FAKE_NVIDIA_SMI: path.join(root, 'test', 'fixtures', 'nvidia-smi', 'h100'),
  NO_COLOR: '1',
  CI: '1',
};

const QUERY = '--query-gpu=index,name,uuid,driver_version,memory.total,memory.used,memory.free,compute_cap';
// The raw probes `check` runs on a healthy host, one after another: the GPU query, the daemon, and
// (since issue 8) the image's own start gate (`NVIDIA_REQUIRE_CUDA` from the image's environment).
// The first baseline lacks the image inspect that issue 2's baseline predates; both are printed.
const rawProbes2 = `nvidia-smi ${QUERY} --format=csv,noheader,nounits >/dev/null; docker info --format '{{json .}}' >/dev/null 2>&1; true`;
const rawProbes3 = `${rawProbes2.replace(/; true$/, '')}; docker image inspect --format '{{json .Config.Env}}' vllm/vllm-openai:v0.11.0 >/dev/null 2>&1; true`;

/** Wall time of one run in ms; the command must finish within 60 s. */
function timeOnce(command, args, check) {
  const started = performance.now();
  const result = spawnSync(command, args, { env, cwd: root, encoding: 'utf8', timeout: 60_000 });
  const ms = performance.now() - started;
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (check) check(result);
  return ms;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function measureInterleaved(items) {
  for (let i = 0; i < warmups; i++) for (const it of items) timeOnce(it.command, it.args, it.check);
  const times = items.map(() => []);
  for (let i = 0; i < runs; i++) items.forEach((it, k) => times[k].push(timeOnce(it.command, it.args, it.check)));
  return items.map((it, k) => ({ label: it.label, median: median(times[k]), min: Math.min(...times[k]), max: Math.max(...times[k]) }));
}

function measure(label, command, args, check) {
  return measureInterleaved([{ label, command, args, check }])[0];
}

const checkIsJson = (result) => {
  try {
    const doc = JSON.parse(result.stdout);
    if (!Array.isArray(doc.checks) || !doc.checks.some((c) => c.id === 'gpu.vram')) throw new Error('no gpu.vram entry');
  } catch (error) {
    throw new Error(`check --json did not print its JSON document (${error.message}); stderr: ${result.stderr.slice(0, 400)}`);
  }
};

// Interleaved rounds, so that a burst of load on a shared machine hits every command alike.
const rounds = [
  { label: 'raw probes in sequence (sh: nvidia-smi; docker info)', command: '/bin/sh', args: ['-c', rawProbes2] },
  { label: 'raw probes in sequence (sh: nvidia-smi; docker info; docker image inspect)', command: '/bin/sh', args: ['-c', rawProbes3] },
  { label: 'guard-doctor check --json', command: process.execPath, args: [bin, 'check', '--json'], check: checkIsJson },
];
const [baseline2, baseline, check] = measureInterleaved(rounds);
const version = measure('guard-doctor --version', process.execPath, [bin, '--version'], (r) => {
  if (!/^\d+\.\d+\.\d+/.test(r.stdout)) throw new Error(`--version printed ${JSON.stringify(r.stdout)}`);
});

/** How many times nvidia-smi runs for one `check --json` with this host first on PATH (or the fake's fixture). */
function smiCalls(extraEnv) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gd-bench-'));
  const log = path.join(dir, 'calls.jsonl');
  try {
    spawnSync(process.execPath, [bin, 'check', '--json'], { env: { ...env, ...extraEnv, FAKE_NVIDIA_SMI_LOG: log, REPLAY_LOG: log }, cwd: root, encoding: 'utf8', timeout: 60_000 });
    return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).length : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const healthyCalls = smiCalls({});
const conformance4090 = path.join(root, '..', 'shared', 'conformance', 'nvidia-smi', '06-rtx4090-x8-r550');
const oldDriverCalls = existsSync(conformance4090) ? smiCalls({ PATH: [conformance4090, env.PATH].join(path.delimiter) }) : null;

const rows = [baseline2, baseline, check, version];
const width = Math.max(...rows.map((r) => r.label.length));
process.stdout.write(`${'what'.padEnd(width)}  median    min      max   (${runs} runs)\n`);
for (const r of rows) {
  process.stdout.write(`${r.label.padEnd(width)}  ${r.median.toFixed(0).padStart(5)} ms ${r.min.toFixed(0).padStart(5)} ms ${r.max.toFixed(0).padStart(5)} ms\n`);
}
process.stdout.write(`nvidia-smi calls: raw probes 1, check ${healthyCalls} (healthy H100, driver 570)${oldDriverCalls === null ? '' : `, check ${oldDriverCalls} (RTX 4090 on driver 550: -q for NVML's brand)`}\n`);
const ratio = check.median / baseline.median;
const ratio2 = check.median / baseline2.median;
process.stdout.write(`check / raw probes: ${ratio.toFixed(2)}x (against nvidia-smi and docker info alone: ${ratio2.toFixed(2)}x)\n`);

const targets = [
  { name: 'check median', measured: `${check.median.toFixed(0)} ms`, target: '<= 600 ms', met: check.median <= 600 },
  { name: 'check vs raw probes', measured: `${ratio.toFixed(2)}x`, target: '<= 2x', met: ratio <= 2 },
  { name: '--version median', measured: `${version.median.toFixed(0)} ms`, target: '<= 150 ms', met: version.median <= 150 },
  { name: 'nvidia-smi calls on a healthy host', measured: String(healthyCalls), target: '1', met: healthyCalls === 1 },
];
process.stdout.write(
  `${JSON.stringify({
    bench: 'check',
    runs,
    checkMedianMs: Math.round(check.median),
    baselineMedianMs: Math.round(baseline.median),
    baselineWithoutImageInspectMedianMs: Math.round(baseline2.median),
    ratio: Number(ratio.toFixed(2)),
    ratioWithoutImageInspect: Number(ratio2.toFixed(2)),
    versionMedianMs: Math.round(version.median),
    nvidiaSmiCalls: { rawProbes: 1, check: healthyCalls, checkOldDriver: oldDriverCalls },
    targets,
  })}\n`,
);
