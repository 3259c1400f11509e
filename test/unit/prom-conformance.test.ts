/**
 * `metrics` held against the reference parsers' own test cases: 89 text-format expositions from
 * prometheus/common `expfmt`, Prometheus' scrape parser and the OpenMetrics suite (judged as the
 * text format), each with the reference verdict. They are read from the shared conformance
 * folder beside the repository (../shared/conformance/prometheus), never copied in.
 *
 * Valid means `metrics.format` does not fail (a warning is still valid: the references accept
 * what the doctor only warns about). Where the references disagree among themselves (`either`),
 * the doctor must agree with at least one of the parsers that were run on the same bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ExpositionValidator } from '../../src/prom/parse.js';
import { judgeOne } from '../../src/judge.js';
import { metricsFormat } from '../../checks/metrics/format.js';
import { metricsNaming } from '../../checks/metrics/naming.js';
import { metricsFacts, metricsSettings, scraped } from '../helpers/metrics-facts.js';
import { ROOT, runCli } from '../helpers/cli.js';

const DIR = path.join(ROOT, '..', 'shared', 'conformance', 'prometheus');

interface Case {
  file: string;
  valid: boolean;
  source: string;
  why: string;
  either?: boolean;
  observed: Record<string, string>;
}

function loadCases(): Case[] {
  const file = path.join(DIR, 'expected.json');
  if (!existsSync(file)) throw new Error(`the conformance cases are missing: ${file} (the shared folder sits beside the repository)`);
  return JSON.parse(readFileSync(file, 'utf8')) as Case[];
}

const CASES = loadCases();

const SETTINGS = metricsSettings();

/** The verdict as a user reads it: the format check of the bytes, fed in chunks like a scrape. */
function judge(bytes: Buffer, chunkSize = 64 * 1024) {
  const validator = new ExpositionValidator();
  for (let i = 0; i < bytes.length; i += chunkSize) validator.push(bytes.subarray(i, i + chunkSize));
  const result = validator.end();
  const facts = metricsFacts(scraped(result, 'text/plain; version=0.0.4; charset=utf-8'));
  return { result, format: judgeOne(metricsFormat, facts, SETTINGS), naming: judgeOne(metricsNaming, facts, SETTINGS) };
}

/** An observed verdict that accepted the bytes. */
const accepted = (observed: string) => /^(parse-ok|up|ok)$/.test(observed);

describe('the reference parsers\' conformance cases', () => {
  it('holds all 89 cases', () => {
    expect(CASES).toHaveLength(89);
  });

  it.each(CASES.map((c) => [path.basename(c.file), c] as const))('%s', (_name, c) => {
    const bytes = readFileSync(path.join(DIR, c.file));
    const { format, naming } = judge(bytes);
    const valid = format.status !== 'fail';
    // Lints never decide validity.
    expect(naming.status).not.toBe('fail');
    if (c.either) {
      const agreeing = Object.entries(c.observed).filter(([, said]) => accepted(said) === valid);
      expect(agreeing.length, `${c.file}: the doctor says ${valid ? 'valid' : 'invalid'}; the parsers said ${JSON.stringify(c.observed)}`).toBeGreaterThan(0);
    } else {
      expect(valid, `${c.file} (${c.why}): ${format.summary}`).toBe(c.valid);
    }
    // Whatever the chunk boundaries of the scrape, the verdict is the same.
    expect(judge(bytes, 3).format.status).toBe(format.status);
  });

  it('an invalid case names its line and what is wrong', () => {
    const { format } = judge(readFileSync(path.join(DIR, 'cases', '28-expfmt-err-invalid-utf8-label-value.txt')));
    expect(format.status).toBe('fail');
    expect(format.summary).toBe('1 error; first: line 1: invalid UTF-8 in this label value: the text format is UTF-8 (the bytes show as \uFFFD here)');
  });
});

describe('through the command line, over HTTP', () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    // Serves each case's bytes at /<file name>, exactly as stored.
    server = http.createServer((req, res) => {
      const name = path.basename(new URL(req.url ?? '/', 'http://x').pathname);
      const file = path.join(DIR, 'cases', name);
      if (!name.endsWith('.txt') || !existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('untyped samples are valid: the format passes and metrics.naming says the TYPE is missing', async () => {
    const { json } = await runCli(['metrics', '--url', `${base}/02-expfmt-minimal.txt`, '--json']);
    const format = json.checks.find((c: any) => c.id === 'metrics.format');
    const naming = json.checks.find((c: any) => c.id === 'metrics.naming');
    expect(format.status).toBe('pass');
    expect(naming.status).toBe('warn');
    expect(naming.measured.problems).toContainEqual(expect.objectContaining({ line: 2, message: expect.stringContaining('no TYPE line for minimal_metric, so Prometheus stores it as untyped') }));
  });

  it('invalid UTF-8 in a label value fails metrics.format (exit 1)', async () => {
    const { exitCode, stdout } = await runCli(['metrics', '--url', `${base}/28-expfmt-err-invalid-utf8-label-value.txt`]);
    expect(exitCode).toBe(1);
    expect(stdout).toMatch(/✗ metrics\.format\s+1 error; first: line 1: invalid UTF-8 in this label value/);
  });
});
