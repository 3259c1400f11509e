#!/usr/bin/env node
// Benchmark of `guard-doctor up` with the stand-in vLLM server image (test/image/build.mjs):
// - readiness lag: from the moment the server listens (the container's log line
//   "Starting vLLM API server", timestamped by the Docker daemon) to the moment the doctor
//   noticed it (launch.readyAt in the JSON report); target: median <= 300 ms;
// - the doctor's own overhead: the wall time of `up` minus the container's start (docker's
//   create-to-listening time) and minus the warm-up requests; target: <= 1 s.
// Each run starts a fresh container with a 2-3 s "model load" (random, so the moment the
// server listens falls anywhere between two polls) and removes it afterwards.
// Prints a table, then one JSON line `{"bench":"up", ...}` that bench/run.mjs reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'guard-doctor.js');
const runs = Number(process.env.BENCH_RUNS ?? 7);
const LOAD_MS = 2000;
const LOAD_JITTER_MS = 1000;

if (!existsSync(path.join(root, 'dist', 'src', 'cli.js'))) {
  process.stderr.write('bench/up: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}

function sh(command, args, timeout = 120_000) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', timeout, env: { ...process.env, NO_COLOR: '1', CI: '1' } });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  return result;
}

const built = sh(process.execPath, [path.join(root, 'test', 'image', 'build.mjs')], 300_000);
if (built.status !== 0) {
  process.stderr.write(`bench/up: could not build the test image: ${built.stderr}\n`);
  process.exit(1);
}
const image = built.stdout.trim().split('\n').pop();

// A minimal but complete model folder (config.json, tokenizer, one safetensors file).
const modelDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'gd-bench-up-')), 'Qwen3Guard-Gen-0.6B');
mkdirSync(modelDir, { recursive: true });
writeFileSync(path.join(modelDir, 'config.json'), JSON.stringify({ architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', num_hidden_layers: 28, num_key_value_heads: 8, head_dim: 128, hidden_size: 1024, num_attention_heads: 16, intermediate_size: 3072, max_position_embeddings: 40960, vocab_size: 151936, torch_dtype: 'bfloat16', tie_word_embeddings: true }));
writeFileSync(path.join(modelDir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'Qwen2Tokenizer' }));
writeFileSync(path.join(modelDir, 'tokenizer.json'), JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: { a: 0 }, merges: [] } }));
const header = Buffer.from(JSON.stringify({ w: { dtype: 'BF16', shape: [4], data_offsets: [0, 8] } }).padEnd(56, ' '));
const length = Buffer.alloc(8);
length.writeBigUInt64LE(BigInt(header.length));
writeFileSync(path.join(modelDir, 'model.safetensors'), Buffer.concat([length, header, Buffer.alloc(8)]));

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function once(i) {
  const name = `gd-bench-up-${process.pid}-${i}`;
  const port = await freePort();
  try {
    const started = Date.now();
    const result = sh(process.execPath, [bin, 'up', '--cpu', '--image', image, '--model', 'Qwen3Guard-Gen-0.6B', '--model-dir', modelDir, '--port', String(port), '--name', name, '--no-suite', '--json', '--env', `GUARD_LOAD_MS=${LOAD_MS + Math.round(Math.random() * LOAD_JITTER_MS)}`]);
    const wallMs = Date.now() - started;
    let report;
    try {
      report = JSON.parse(result.stdout);
    } catch {
      throw new Error(`up did not print its JSON report (exit ${result.status}): ${result.stderr.slice(0, 400)}`);
    }
    if (report.exitCode !== 0) throw new Error(`up exited ${report.exitCode}: ${JSON.stringify(report.checks?.filter((c) => c.status === 'fail'))}`);
    const logs = sh('docker', ['logs', '--timestamps', name]);
    const line = `${logs.stdout}\n${logs.stderr}`.split('\n').find((l) => l.includes('Starting vLLM API server'));
    if (!line) throw new Error('the server never logged that it listens');
    const listenAt = Date.parse(line.split(' ')[0]);
    const created = Date.parse(sh('docker', ['inspect', '--format', '{{.Created}}', name]).stdout.trim());
    const warm = report.checks.find((c) => c.id === 'server.warm');
    const warmTotalMs = warm.measured.coldMs + warm.measured.warmMs.reduce((a, b) => a + b, 0);
    return {
      noticeLagMs: Date.parse(report.launch.readyAt) - listenAt,
      containerStartMs: listenAt - created,
      warmTotalMs,
      wallMs,
      overheadMs: wallMs - (listenAt - created) - warmTotalMs,
    };
  } finally {
    sh('docker', ['rm', '-f', name]);
  }
}

const samples = [];
try {
  for (let i = 0; i < runs; i++) samples.push(await once(i));
} finally {
  rmSync(path.dirname(modelDir), { recursive: true, force: true });
}

const row = (label, key) => {
  const values = samples.map((s) => s[key]);
  return `${label.padEnd(44)} ${median(values).toFixed(0).padStart(6)} ms ${Math.min(...values).toFixed(0).padStart(6)} ms ${Math.max(...values).toFixed(0).padStart(6)} ms`;
};
process.stdout.write(`${'what'.padEnd(44)} median      min      max   (${runs} runs, ${LOAD_MS}-${LOAD_MS + LOAD_JITTER_MS} ms model load)\n`);
process.stdout.write(`${row('readiness noticed after the server listens', 'noticeLagMs')}\n`);
process.stdout.write(`${row('container start (created -> listening)', 'containerStartMs')}\n`);
process.stdout.write(`${row('warm-up requests (cold + 5)', 'warmTotalMs')}\n`);
process.stdout.write(`${row('up, wall time', 'wallMs')}\n`);
process.stdout.write(`${row("the doctor's own overhead", 'overheadMs')}\n`);

const lag = median(samples.map((s) => s.noticeLagMs));
const overhead = median(samples.map((s) => s.overheadMs));
const targets = [
  { name: 'readiness noticed (median)', target: '<= 300 ms', measured: `${lag.toFixed(0)} ms`, met: lag <= 300 },
  { name: "doctor's own overhead in up (median)", target: '<= 1000 ms', measured: `${overhead.toFixed(0)} ms`, met: overhead <= 1000 },
];
process.stdout.write(
  `${JSON.stringify({ bench: 'up', runs, loadMs: LOAD_MS, noticeLagMedianMs: Math.round(lag), overheadMedianMs: Math.round(overhead), samples, targets })}\n`,
);
