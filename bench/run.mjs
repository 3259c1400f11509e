#!/usr/bin/env node
// `npm run bench`: runs each benchmark in its own process (so one's warm caches do not help
// another), prints their figures, and ends with a table of target vs measured.
// `npm run bench -- check suite` runs only those.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const all = ['check', 'suite', 'metrics', 'up', 'diagnose', 'fleet'];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : all;

function runOne(name) {
  const file = path.join(here, `${name}.mjs`);
  if (!existsSync(file)) return Promise.resolve({ name, missing: true });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    // A benchmark must end by itself; this is the net under it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{"bench"'));
      resolve({ name, code, result: line ? JSON.parse(line) : null });
    });
  });
}

const results = [];
for (const name of names) {
  process.stdout.write(`\n== bench ${name}\n`);
  results.push(await runOne(name));
}

process.stdout.write('\n== summary\n');
let failed = false;
for (const r of results) {
  if (r.missing) {
    process.stdout.write(`  ${r.name}: no benchmark file\n`);
    continue;
  }
  if (!r.result) {
    failed = true;
    process.stdout.write(`  ${r.name}: did not report (exit ${r.code})\n`);
    continue;
  }
  for (const t of r.result.targets ?? []) {
    if (!t.met) failed = true;
    process.stdout.write(`  ${t.met ? 'met ' : 'MISS'} ${r.name}: ${t.name}: ${t.measured} (target ${t.target})\n`);
  }
}
process.exitCode = failed ? 1 : 0;
