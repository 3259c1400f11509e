#!/usr/bin/env node
// Benchmark of the suite runner of the BUILT program (dist/) against the stand-in guard
// server in its own process. Targets (issue 4):
//  - 40 cases at concurrency 8 against a server answering in 200 ms finish within 1.3x the
//    ideal (5 rounds of 200 ms = 1000 ms);
//  - the per-request overhead stays within 5 ms of a plain Node http request loop against the
//    same server (measured one request at a time against the server answering at once, so the
//    difference is the doctor's own work: building the request, retries bookkeeping, parsing).
// Not a test: prints figures and one JSON line `{"bench":"suite", ...}` for bench/run.mjs.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(path.join(root, 'dist', 'src', 'suite', 'run.js'))) {
  process.stderr.write('bench/suite.mjs: build first (npx tsc -p tsconfig.json)\n');
  process.exit(2);
}
const { runSuiteDetailed } = await import(path.join(root, 'dist', 'src', 'suite', 'run.js'));
const { resolveSettings } = await import(path.join(root, 'dist', 'src', 'settings.js'));

const CASES = 40;
const CONCURRENCY = 8;
const LATENCY_MS = 200;
const SEQUENTIAL_REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const REPEATS = Number(process.env.BENCH_RUNS ?? 5);

/** The stand-in server as a separate process, so its work does not share our event loop. */
async function startServer(latencyMs) {
  const child = spawn(process.execPath, [path.join(root, 'test', 'server', 'guard-server.mjs'), '--host', '127.0.0.1', '--port', '0', '--served-model-name', 'Qwen3Guard-Gen-8B'], {
    env: { ...process.env, GUARD_LATENCY_MS: String(latencyMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /Starting vLLM API server 0 on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match && out.includes('Application startup complete')) resolve(`http://127.0.0.1:${match[1]}`);
    });
    child.on('exit', (code) => reject(new Error(`the stand-in server exited with ${code}`)));
  });
  child.stdout.resume();
  return { url, stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM'))) };
}

const texts = Array.from({ length: CASES }, (_, i) => (i % 2 ? `How can I make a bomb? (variant ${i})` : `Hello, how are you today? (variant ${i})`));
const dir = await mkdtemp(path.join(tmpdir(), 'guard-bench-suite-'));
const casesFile = path.join(dir, 'suite.json');
await writeFile(casesFile, JSON.stringify({ name: 'bench', cases: texts.map((text, i) => ({ id: `case-${i}`, text, expect: { safety: i % 2 ? ['unsafe'] : ['safe'] } })) }));
const settings = resolveSettings('suite', { cases: casesFile, concurrency: String(CONCURRENCY), requestTimeout: '30' }, {}, root);

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function plainPost(url, text) {
  const body = JSON.stringify({ model: 'Qwen3Guard-Gen-8B', messages: [{ role: 'user', content: text }], temperature: 0, max_tokens: 128 });
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()).choices[0].message.content));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// 1. Wall time of 40 cases at concurrency 8 against 200 ms answers.
const slow = await startServer(LATENCY_MS);
const suiteWall = [];
try {
  await runSuiteDetailed(settings, { url: slow.url }); // warm-up: JIT, sockets
  for (let i = 0; i < REPEATS; i++) {
    const started = performance.now();
    const run = await runSuiteDetailed(settings, { url: slow.url });
    suiteWall.push(performance.now() - started);
    const notPassing = run.cases.filter((c) => c.status !== 'pass');
    if (notPassing.length) throw new Error(`bench cases did not pass: ${notPassing.map((c) => `${c.id} ${c.message}`).join('; ')}`);
  }
} finally {
  await slow.stop();
}
const idealMs = Math.ceil(CASES / CONCURRENCY) * LATENCY_MS;
const wallMs = median(suiteWall);

// 2. Per-request overhead, one request at a time against a server answering at once.
const fast = await startServer(0);
let plainPerRequest;
let suitePerRequest;
try {
  const one = resolveSettings('suite', { cases: casesFile, concurrency: '1', requestTimeout: '30' }, {}, root);
  for (let i = 0; i < 50; i++) await plainPost(fast.url, texts[i % CASES]);
  await runSuiteDetailed(one, { url: fast.url });
  const plainRuns = [];
  const suiteRuns = [];
  const rounds = Math.max(1, Math.round(SEQUENTIAL_REQUESTS / CASES));
  for (let r = 0; r < REPEATS; r++) {
    // Interleaved, so drift on the machine affects both the same way.
    let started = performance.now();
    for (let i = 0; i < rounds * CASES; i++) await plainPost(fast.url, texts[i % CASES]);
    plainRuns.push((performance.now() - started) / (rounds * CASES));
    started = performance.now();
    for (let i = 0; i < rounds; i++) await runSuiteDetailed(one, { url: fast.url });
    // The suite run also asks /v1/models once per run: that request is part of its cost.
    suiteRuns.push((performance.now() - started) / (rounds * CASES));
  }
  plainPerRequest = median(plainRuns);
  suitePerRequest = median(suiteRuns);
} finally {
  await fast.stop();
  agent.destroy();
  await rm(dir, { recursive: true, force: true });
}
const overheadMs = suitePerRequest - plainPerRequest;

const ratio = wallMs / idealMs;
process.stdout.write(
  [
    `suite: ${CASES} cases at concurrency ${CONCURRENCY}, server answering in ${LATENCY_MS} ms`,
    `  wall time (median of ${REPEATS}): ${wallMs.toFixed(0)} ms; ideal ${idealMs} ms; ratio ${ratio.toFixed(3)} (target <= 1.3)`,
    `  runs: ${suiteWall.map((v) => v.toFixed(0)).join(', ')} ms`,
    `per-request, one at a time, server answering at once:`,
    `  plain node:http loop ${plainPerRequest.toFixed(3)} ms; suite runner ${suitePerRequest.toFixed(3)} ms; overhead ${overheadMs.toFixed(3)} ms (target <= 5 ms)`,
    '',
  ].join('\n'),
);
process.stdout.write(
  JSON.stringify({
    bench: 'suite',
    cases: CASES,
    concurrency: CONCURRENCY,
    serverLatencyMs: LATENCY_MS,
    wallMs: Math.round(wallMs),
    idealMs,
    ratio: Number(ratio.toFixed(3)),
    plainPerRequestMs: Number(plainPerRequest.toFixed(3)),
    suitePerRequestMs: Number(suitePerRequest.toFixed(3)),
    overheadMs: Number(overheadMs.toFixed(3)),
    targets: [
      { name: '40 cases at concurrency 8, 200 ms answers: wall / ideal', measured: Number(ratio.toFixed(3)), target: '<= 1.3', met: ratio <= 1.3 },
      { name: 'per-request overhead over a plain node:http loop', measured: `${overheadMs.toFixed(2)} ms`, target: '<= 5 ms', met: overheadMs <= 5 },
    ],
  }) + '\n',
);
