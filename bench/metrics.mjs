#!/usr/bin/env node
// Benchmark: validating a 5 MB Prometheus exposition (tens of thousands of series) through the
// streaming validator of the BUILT program (dist/). Targets (issue 5): under 1 s, and memory in
// proportion to one line rather than to the body. Not a test: it prints figures and one JSON
// line `{"bench":"metrics", ...}` for bench/run.mjs.
//
// The body is generated line by line and never held whole by this script either: the heap
// growth measured is the validator's (its per-family state and summaries), not the body's.
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist', 'src');
if (!existsSync(path.join(dist, 'prom', 'parse.js'))) {
  process.stderr.write('bench/metrics.mjs: build first (npx tsc -p tsconfig.json)\n');
  process.exit(2);
}
const { ExpositionValidator } = await import(path.join(dist, 'prom', 'parse.js'));
// The scrape probe's own function (src/probes/scrape.ts), as `metrics` runs it.
const { scrapeMetrics } = await import(path.join(dist, 'probes', 'scrape.js'));

const TARGET_BYTES = 5 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const ROUTES = Array.from({ length: 50 }, (_, i) => `/v1/route_${i}`);
const STATUSES = ['200', '400', '404', '413', '500'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

/** The exposition, line by line: counters, histograms, then gauges until the target size. */
function* lines(targetBytes = TARGET_BYTES) {
  let bytes = 0;
  const emit = (line) => {
    bytes += Buffer.byteLength(line) + 1;
    return line;
  };
  for (let f = 0; f < 20; f++) {
    const name = `guard_bench_requests_${f}_total`;
    yield emit(`# HELP ${name} Requests by method, route and status (family ${f}).`);
    yield emit(`# TYPE ${name} counter`);
    for (const method of METHODS) for (const route of ROUTES) for (const status of STATUSES) yield emit(`${name}{method="${method}",route="${route}",status="${status}"} ${(f * 7919 + route.length * 31) % 100000}.0`);
  }
  for (let f = 0; f < 10; f++) {
    const name = `guard_bench_latency_${f}_seconds`;
    yield emit(`# HELP ${name} Request latency (family ${f}).`);
    yield emit(`# TYPE ${name} histogram`);
    for (const method of METHODS) {
      for (const route of ROUTES) {
        let count = 0;
        for (const le of BUCKETS) {
          count += 3;
          yield emit(`${name}_bucket{method="${method}",route="${route}",le="${le}"} ${count}.0`);
        }
        yield emit(`${name}_sum{method="${method}",route="${route}"} ${(count * 0.137).toFixed(3)}`);
        yield emit(`${name}_count{method="${method}",route="${route}"} ${count}.0`);
      }
    }
  }
  for (let f = 0; bytes < targetBytes; f++) {
    const name = `guard_bench_gauge_${f}`;
    yield emit(`# HELP ${name} A gauge per route (family ${f}).`);
    yield emit(`# TYPE ${name} gauge`);
    for (let i = 0; i < 1000 && bytes < targetBytes; i++) yield emit(`${name}{instance="replica-${i % 40}",route="${ROUTES[i % ROUTES.length]}",shard="${i}"} ${i * 1.5}`);
  }
}

/** The body in CHUNK_BYTES pieces, cut anywhere (mid-line, as TCP does). */
function* chunks(targetBytes = TARGET_BYTES) {
  let pending = '';
  for (const line of lines(targetBytes)) {
    pending += line + '\n';
    if (pending.length >= CHUNK_BYTES) {
      yield Buffer.from(pending.slice(0, CHUNK_BYTES));
      pending = pending.slice(CHUNK_BYTES);
    }
  }
  if (pending) yield Buffer.from(pending);
}

const gc = globalThis.gc ?? (() => {});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// 1. In process: validation time and the heap it needs.
let bodyBytes = 0;
let longestLine = 0;
for (const line of lines()) {
  bodyBytes += Buffer.byteLength(line) + 1;
  longestLine = Math.max(longestLine, line.length);
}
const times = [];
let result;
for (let round = 0; round < 5; round++) {
  gc();
  const validator = new ExpositionValidator();
  const started = performance.now();
  for (const chunk of chunks()) validator.push(chunk);
  result = validator.end();
  times.push(performance.now() - started);
}

/**
 * Live memory while validating a body of `targetBytes`: a full collection every 4 chunks, so
 * garbage does not count, only what the validator (and the generator) hold at that moment.
 */
function liveHeapGrowth(targetBytes) {
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const validator = new ExpositionValidator();
  let n = 0;
  for (const chunk of chunks(targetBytes)) {
    validator.push(chunk);
    if (++n % 4 === 0) {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
  }
  validator.end();
  gc();
  return { peak: peak - before, kept: process.memoryUsage().heapUsed - before };
}
const hasGc = typeof globalThis.gc === 'function';
const live5 = hasGc ? liveHeapGrowth(TARGET_BYTES) : null;
const live50 = hasGc ? liveHeapGrowth(10 * TARGET_BYTES) : null;
const series = result.families.reduce((sum, f) => sum + f.sampleCount, 0);

// 2. Over HTTP, streamed by a local server, through scrapeMetrics (the `metrics` command's path).
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  const it = chunks();
  const pump = () => {
    for (;;) {
      const next = it.next();
      if (next.done) return res.end();
      if (!res.write(next.value)) return res.once('drain', pump);
    }
  };
  pump();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/metrics`;
const scrapeTimes = [];
let rssGrowth = 0;
for (let round = 0; round < 5; round++) {
  gc();
  const rssBefore = process.memoryUsage().rss;
  const outcome = await scrapeMetrics(url, { timeoutMs: 30_000 });
  if (!outcome.ok) throw new Error(outcome.message);
  scrapeTimes.push(outcome.durationMs);
  rssGrowth = Math.max(rssGrowth, process.memoryUsage().rss - rssBefore);
}
server.close();

const mib = (b) => `${(b / 1024 / 1024).toFixed(2)} MiB`;
// The process's peak resident set over the whole run (every round, in process and over HTTP):
// what a CI runner or a container limit sees. maxRSS is in KiB.
const peakRss = process.resourceUsage().maxRSS * 1024;
const validateMs = Math.round(median(times));
const scrapeMs = Math.round(median(scrapeTimes));
const rows = [
  ['body', mib(bodyBytes)],
  ['lines', result.lines.toLocaleString('en-US')],
  ['series (samples)', series.toLocaleString('en-US')],
  ['metric families', String(result.families.length)],
  ['problems found', String(result.problemCount)],
  ['longest line', `${longestLine} chars`],
  ['validate (median of 5, in process)', `${validateMs} ms`],
  ['scrape + validate over HTTP (median of 5)', `${scrapeMs} ms (peak RSS of the process ${mib(peakRss)})`],
  ['live heap growth, peak (5 MB body)', live5 ? `${mib(live5.peak)} (${((100 * live5.peak) / bodyBytes).toFixed(1)}% of the body)` : 'run with node --expose-gc'],
  ['live heap growth, peak (50 MB body)', live50 ? mib(live50.peak) : '-'],
  ['heap kept after validating (family summaries)', live5 ? mib(live5.kept) : '-'],
  ['RSS growth during a scrape', mib(rssGrowth)],
  ['peak RSS of the process', mib(peakRss)],
];
for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(48)}${v}\n`);

// "Proportional to one line": the live heap is the current line plus the current family's
// state (its series keys and label values; the largest family here has 1,000 series), so it
// stays well under the body and does not grow when the body grows tenfold.
const heapLimit = bodyBytes / 2;
const targets = [
  { name: 'validate a 5 MB exposition', measured: `${scrapeMs} ms, peak RSS ${mib(peakRss)}`, target: '< 1000 ms', met: scrapeMs < 1000 },
  ...(live5 && live50
    ? [
        { name: 'live heap while validating 5 MB', measured: mib(live5.peak), target: `< ${mib(heapLimit)} (half the body: it is not buffered)`, met: live5.peak < heapLimit },
        // Buffering would need 50 MB here; a tenth of that leaves room for GC timing noise.
        { name: 'live heap at 10x the body (50 MB)', measured: mib(live50.peak), target: `< ${mib(bodyBytes)} (a tenth of that body)`, met: live50.peak < bodyBytes },
      ]
    : []),
];
process.stdout.write(
  JSON.stringify({
    bench: 'metrics',
    bodyBytes,
    lines: result.lines,
    series,
    families: result.families.length,
    problems: result.problemCount,
    validateMedianMs: validateMs,
    scrapeMedianMs: scrapeMs,
    liveHeapPeakBytes: live5?.peak ?? null,
    liveHeapPeakBytesAt10x: live50?.peak ?? null,
    retainedHeapBytes: live5?.kept ?? null,
    rssGrowthBytes: rssGrowth,
    peakRssBytes: peakRss,
    targets,
  }) + '\n',
);
