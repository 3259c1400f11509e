#!/usr/bin/env node
// Benchmark of `guard-doctor check` on a fleet: three real sshd hosts on this machine (the
// test harness, test/helpers/sshd.ts) whose nvidia-smi takes 1 s to answer each call, each
// with a Qwen3Guard-Gen-8B model folder (3 shards) at /srv/models.
// Target (issue 11): `check --host a --host b --host c --parallel 3` in at most 1.5 s, i.e.
// the hosts are probed at once and a slow nvidia-smi costs its own second, once per host.
// Measured with --model-dir (the check a fleet user runs: every probe, the model folder's
// reads included) and without it, and with --parallel 1 for comparison. One run is traced
// (GUARD_DOCTOR_DEBUG=ssh) to show where the time goes: ssh processes per host, the
// handshake, when nvidia-smi answered, closing. Needs root (sshd, mount namespaces).
// Prints a small table, then one JSON line `{"bench":"fleet", ...}` that bench/run.mjs reads.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'guard-doctor.js');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const TARGET_MS = 1500;
const MODEL_DIR = '/srv/models/Qwen3Guard-Gen-8B';

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
const entry = path.join(root, 'test', 'helpers', `.bench-fleet-${process.pid}.ts`);
const harness = path.join(root, 'test', 'helpers', `.bench-fleet-${process.pid}.mjs`);
await writeFile(entry, "export { startFleet } from './sshd.js';\nexport { writeModelFolder } from './model-folder.js';\n");
await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: harness, packages: 'external', logLevel: 'warning' });
const { startFleet, writeModelFolder } = await import(pathToFileURL(harness).href);

const aliases = ['gpu-a', 'gpu-b', 'gpu-c'];
const fleet = await startFleet(aliases.map((alias) => ({ alias, smi: 'h100', smiDelayS: 1 })));
for (const alias of aliases) await writeModelFolder(path.join(fleet.hosts[alias].modelsDir, 'Qwen3Guard-Gen-8B'), { shards: 3 });
const env = { ...process.env, ...fleet.env, NO_COLOR: '1', CI: '1' };

// CPU time of a run, which the other work on a shared machine does not inflate as much as
// wall time: the doctor and its ssh processes (this process's reaped children) plus all that
// the three sshd ran for it (their reaped children). dockerd's share is not counted.
const sshdPids = readdirSync(fleet.dir).filter((f) => f.endsWith('.pid')).map((f) => Number(readFileSync(path.join(fleet.dir, f), 'utf8').trim()));
const childCpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // cutime + cstime, in USER_HZ (100)
};
const cpuNow = () => childCpuMs(process.pid) + sshdPids.reduce((n, pid) => n + childCpuMs(pid), 0);

async function cpuOf(parallel, options) {
  const before = cpuNow();
  once(parallel, options);
  // The hosts' sshd reap a connection's processes once it has closed.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return cpuNow() - before;
}

function once(parallel, { modelDir = true, trace = false } = {}) {
  const args = [bin, 'check', '--json', ...aliases.flatMap((a) => ['--host', a]), '--parallel', String(parallel), '--probe-timeout', '60', ...(modelDir ? ['--model-dir', MODEL_DIR] : [])];
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { env: trace ? { ...env, GUARD_DOCTOR_DEBUG: 'ssh' } : env, cwd: root, encoding: 'utf8', timeout: 120_000 });
  const ms = performance.now() - started;
  const doc = JSON.parse(result.stdout || '{}');
  const wanted = modelDir ? ['gpu.vram', 'model.mount', 'model.files'] : ['gpu.vram'];
  const seen = (doc.hosts ?? []).flatMap((h) => wanted.map((id) => h.checks.find((c) => c.id === id)));
  if (seen.length !== 3 * wanted.length || seen.some((c) => c?.status !== 'pass')) {
    throw new Error(`unexpected result (exit ${result.status}): ${result.stderr || seen.map((c) => c && `${c.id} ${c.status}: ${c.summary}`).join(' | ')}`);
  }
  return { ms, stderr: result.stderr };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const series = (n, f) => Array.from({ length: n }, () => f().ms);

/** Where the time went in one traced run, per host, from the doctor's own ssh trace lines. */
function breakdown(stderr) {
  const hosts = {};
  let closeMs = null;
  for (const line of stderr.split('\n')) {
    const m = /^\[ssh (\S+)\] (\d+)\.\.(\d+) ms \((\d+) ms\) exit \S+: (.*)$/.exec(line);
    if (!m) continue;
    const [, host, from, to, took, what] = m;
    if (host === 'session') {
      closeMs = Number(took);
      continue;
    }
    const h = (hosts[host] ??= { sshProcesses: 0, connect: null, smi: null, lastEnd: 0 });
    h.lastEnd = Math.max(h.lastEnd, Number(to));
    if (what.startsWith('  [')) {
      if (what.includes('nvidia-smi')) h.smi = `${from}..${to}`;
      continue;
    }
    h.sshProcesses += 1;
    if (what.startsWith('connect')) h.connect = `${from}..${to}`;
    else if (what.startsWith('nvidia-smi')) h.smi = `${from}..${to}`;
  }
  return { hosts, closeMs };
}

let result;
try {
  once(3);
  const withModel = series(runs, () => once(3));
  const plain = series(Math.max(1, Math.floor(runs / 2)), () => once(3, { modelDir: false }));
  const serial = series(Math.max(1, Math.floor(runs / 2)), () => once(1));
  const traced = breakdown(once(3, { trace: true }).stderr);
  const cpu = [await cpuOf(3), await cpuOf(3)];
  result = { withModel, plain, serial, traced, cpuMs: Math.min(...cpu) };
} finally {
  await fleet.stop();
  await rm(harness, { force: true });
  await rm(entry, { force: true });
}

const r = Math.round;
const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
process.stdout.write(`  machine: ${os.cpus().length} cores, load average ${load} (a shared machine: the minimum is the quiet-machine estimate)\n`);
process.stdout.write(`  check --parallel 3, 3 hosts, nvidia-smi 1 s each, --model-dir: median ${r(median(result.withModel))} ms, min ${r(Math.min(...result.withModel))} ms over ${runs} runs\n`);
process.stdout.write(`  the same without --model-dir (the model from the hub: each host reads its\n    cache's place first, then asks the hub with its curl, unreachable here):   median ${r(median(result.plain))} ms, min ${r(Math.min(...result.plain))} ms\n`);
process.stdout.write(`  the same with --parallel 1:                                 median ${r(median(result.serial))} ms, min ${r(Math.min(...result.serial))} ms\n`);
process.stdout.write(`  one traced run (ms since the doctor started; GUARD_DOCTOR_DEBUG=ssh):\n`);
for (const [host, h] of Object.entries(result.traced.hosts)) {
  process.stdout.write(`    ${host}: ${h.sshProcesses} ssh processes; connected ${h.connect}; nvidia-smi ${h.smi}; last answer at ${h.lastEnd}\n`);
}
process.stdout.write(`    closing the connections: ${result.traced.closeMs} ms\n`);
process.stdout.write(`  CPU time of one run (--model-dir; the doctor, its ssh and all the hosts ran; dockerd not counted): ${r(result.cpuMs)} ms, so at least ${r(result.cpuMs / os.cpus().length)} ms of wall time on ${os.cpus().length} cores\n`);
const measured = median(result.withModel);
process.stdout.write(
  `${JSON.stringify({
    bench: 'fleet',
    parallel3Ms: r(measured),
    parallel3MinMs: r(Math.min(...result.withModel)),
    parallel3NoModelDirMs: r(median(result.plain)),
    parallel1Ms: r(median(result.serial)),
    cpuMs: r(result.cpuMs),
    loadAverage: os.loadavg(),
    traced: result.traced,
    targets: [{ name: 'check --parallel 3 on 3 hosts with a 1 s nvidia-smi (--model-dir)', target: `<= ${TARGET_MS} ms`, measured: `${r(measured)} ms (min ${r(Math.min(...result.withModel))} ms)`, met: measured <= TARGET_MS }],
  })}\n`,
);
