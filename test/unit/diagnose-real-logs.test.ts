/**
 * diagnose on real logs: every file listed in test/fixtures/logs/real/expected.json is a log
 * pasted in a public issue (SOURCES.md there names each one's thread). The built CLI runs on
 * each as a user would (`diagnose --json --log FILE`), and the verdict must be the thread's:
 * the root cause is the FIRST finding, nothing outside `finding` + `also` appears, a healthy
 * start-up exits 0 with no finding, and a failure no signature knows fails closed (exit 3).
 *
 * GD_REAL_LOGS points the test at another copy of the corpus (while it is being collected).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { runCli, ROOT } from '../helpers/cli.js';

const REAL = process.env.GD_REAL_LOGS ?? path.join(ROOT, 'test', 'fixtures', 'logs', 'real');
const EXPECTED_FILE = path.join(REAL, 'expected.json');

interface Expectation {
  finding: string;
  also?: string[];
  source?: string;
}

// The corpus is part of the repository: a missing expected.json is an error, never a skip.
const expected: Record<string, Expectation> = JSON.parse(readFileSync(EXPECTED_FILE, 'utf8'));
const entries = Object.entries(expected);
const failures = entries.filter(([, e]) => e.finding !== 'healthy');
const healthy = entries.filter(([, e]) => e.finding === 'healthy');

describe(`diagnose on the real logs in ${path.relative(ROOT, REAL) || REAL}`, () => {
  it('the corpus is what issue 9 asks for: 40+ failures, 5+ healthy start-ups, every file listed and present', () => {
    expect(failures.length).toBeGreaterThanOrEqual(40);
    expect(healthy.length).toBeGreaterThanOrEqual(5);
    const logs = readdirSync(REAL).filter((f) => f.endsWith('.log'));
    expect(logs.sort()).toEqual(entries.map(([f]) => f).sort());
  });

  describe.concurrent('failures: the root cause first, with a cause and a fix', () => {
    it.each(failures)('%s', async (file, want) => {
      const result = await runCli(['diagnose', '--json', '--log', path.join(REAL, file)]);
      expect(result.stderr).toBe('');
      const ids: string[] = result.json.findings.map((f: { id: string }) => f.id);
      expect(ids[0], `findings: ${ids.join(', ') || 'none'}`).toBe(want.finding);
      for (const id of ids) expect([want.finding, ...(want.also ?? [])], `unexpected finding ${id}`).toContain(id);
      expect(result.json.ok).toBe(false);
      expect(result.exitCode).toBe(want.finding === 'unrecognized-failure' ? 3 : 1);
      expect(result.json.exitCode).toBe(result.exitCode);
      const first = result.json.findings[0];
      expect(first.cause.length).toBeGreaterThan(20);
      expect(first.fix.length).toBeGreaterThan(20);
      // The quoted line is the log's own text, at its line number.
      const lines = readFileSync(path.join(REAL, file), 'utf8').split('\n');
      expect(first.lines.length).toBeGreaterThan(0);
      for (const l of first.lines as { n: number; text: string }[]) {
        expect(lines[l.n - 1]!.replace(/\r$/, '').replace(/\x1b\[[0-9;]*m/g, '')).toContain(l.text.replace(/…$/, ''));
      }
    });
  });

  describe.concurrent('healthy start-ups: exit 0, no finding, and the line that shows it', () => {
    it.each(healthy)('%s', async (file) => {
      const result = await runCli(['diagnose', '--json', '--log', path.join(REAL, file)]);
      expect(result.json).toMatchObject({ ok: true, exitCode: 0, diagnosis: 'healthy', findings: [] });
      expect(result.exitCode).toBe(0);
      expect(result.json.evidence.length).toBeGreaterThan(0);
    });
  });
});
