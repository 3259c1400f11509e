#!/usr/bin/env node
// Benchmark of `guard-doctor check` on a fleet: three real sshd hosts on this machine (the
// test harness, test/helpers/sshd.ts) whose nvidia-smi takes 1 s to answer each call.
// Target (issue 11): `check --host a --host b --host c --parallel 3` in at most 1.5 s, i.e.
// the hosts are probed at once and a slow nvidia-smi costs its own second, once per host.
// `--parallel 1` is measured beside it for comparison. Needs root (sshd, mount namespaces).
// Prints a small table, then one JSON line `{"bench":"fleet", ...}` that bench/run.mjs reads.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'guard-doctor.js');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const TARGET_MS = 1500;

if (!existsSync(path.join(root, 'dist'))) {
  process.stderr.write('bench/fleet: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
if (process.getuid?.() !== 0) {
  process.stdout.write('bench/fleet: needs root (it starts sshd and mount namespaces); skipped\n');
  process.stdout.write(`${JSON.stringify({ bench: 'fleet', skipped: 'not root', targets: [] })}\n`);
  process.exit(0);
}

// The harness is TypeScript (the tests use it); bundle it for this plain Node script, beside
// the original so that its paths to the fixtures still hold.
const harness = path.join(root, 'test', 'helpers', `.bench-sshd-${process.pid}.mjs`);
await build({ entryPoints: [path.join(root, 'test', 'helpers', 'sshd.ts')], bundle: true, platform: 'node', format: 'esm', outfile: harness, packages: 'external', logLevel: 'warning' });
const { startFleet } = await import(pathToFileURL(harness).href);

const fleet = await startFleet(['gpu-a', 'gpu-b', 'gpu-c'].map((alias) => ({ alias, smi: 'h100', smiDelayS: 1 })));
const env = { ...process.env, ...fleet.env, NO_COLOR: '1', CI: '1' };

function timeOnce(parallel) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [bin, 'check', '--json', '--host', 'gpu-a', '--host', 'gpu-b', '--host', 'gpu-c', '--parallel', String(parallel), '--probe-timeout', '60'], { env, cwd: root, encoding: 'utf8', timeout: 120_000 });
  const ms = performance.now() - started;
  const doc = JSON.parse(result.stdout || '{}');
  const vram = (doc.hosts ?? []).map((h) => h.checks.find((c) => c.id === 'gpu.vram'));
  if (vram.length !== 3 || vram.some((c) => c?.status !== 'pass')) {
    throw new Error(`unexpected result (exit ${result.status}): ${result.stderr || vram.map((c) => c && `${c.status}: ${c.summary}`).join(' | ')}`);
  }
  return ms;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

let parallel3;
let parallel1;
try {
  timeOnce(3);
  parallel3 = median(Array.from({ length: runs }, () => timeOnce(3)));
  parallel1 = median(Array.from({ length: Math.max(1, Math.floor(runs / 2)) }, () => timeOnce(1)));
} finally {
  await fleet.stop();
  await rm(harness, { force: true });
}

process.stdout.write(`  check, 3 hosts, nvidia-smi 1 s each, --parallel 3: median ${Math.round(parallel3)} ms over ${runs} runs\n`);
process.stdout.write(`  the same with --parallel 1:                        median ${Math.round(parallel1)} ms\n`);
process.stdout.write(
  `${JSON.stringify({
    bench: 'fleet',
    parallel3Ms: Math.round(parallel3),
    parallel1Ms: Math.round(parallel1),
    targets: [{ name: 'check --parallel 3 on 3 hosts with a 1 s nvidia-smi', target: `<= ${TARGET_MS} ms`, measured: `${Math.round(parallel3)} ms`, met: parallel3 <= TARGET_MS }],
  })}\n`,
);
