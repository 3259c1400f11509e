/**
 * `--prom-file PATH`: the doctor's results as a node_exporter textfile. The output must pass
 * the doctor's own strict validator, be written atomically, and carry no timestamps.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderPromFile, writePromFile } from '../../src/report/promfile.js';
import { validateExposition } from '../../src/prom/parse.js';
import { buildReport } from '../../src/report/outcome.js';
import type { CaseResult, CheckResult } from '../../src/types.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'guard-doctor-prom-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const checks: CheckResult[] = [
  { id: 'gpu.vram', title: 'Free GPU memory', status: 'fail', summary: 'GPU 0 has 22.1 GiB free; Qwen3Guard-Gen-8B needs at least 26 GiB', durationMs: 41 },
  { id: 'gpu.driver', title: 'Driver', status: 'pass', summary: 'ok', durationMs: 12 },
  { id: 'docker.gpu', title: 'GPU in containers', status: 'skip', summary: '--cpu', durationMs: 0 },
];
const cases: CaseResult[] = [
  { id: 'sarcasm-zh', status: 'warn', expected: ['unsafe'], verdict: { safety: 'safe', categories: [], refusal: null }, latencyMs: 812 },
  // Ids from a user's own suite file can hold anything; they must come out escaped.
  { id: 'quote "and" back\\slash\nnew line 安全', status: 'pass', expected: ['safe'], verdict: { safety: 'safe', categories: [], refusal: null }, latencyMs: 95 },
  { id: 'hang', status: 'error', expected: ['safe'], verdict: { safety: 'unknown', categories: [], refusal: null }, latencyMs: null },
];

describe('renderPromFile', () => {
  const report = buildReport('up', { checks, cases, launch: { container: 'guard-doctor-qwen3guard-gen-8b', image: 'vllm/vllm-openai:v0.11.0', url: 'http://127.0.0.1:8000', coldMs: 48210, warmP50Ms: 310 } }, false);
  const text = renderPromFile(report, 1_763_742_918_500);

  it('passes the strict validator with no problem, not even a warning', () => {
    const result = validateExposition(text);
    expect(result.problems).toEqual([]);
    expect(result.families.every((f) => f.help && f.type)).toBe(true);
  });

  it('has one-hot check and case status, with command on every series', () => {
    const lines = text.split('\n');
    expect(lines).toContain('guard_doctor_check_status{command="up",check="gpu.vram",status="fail"} 1');
    expect(lines).toContain('guard_doctor_check_status{command="up",check="gpu.vram",status="pass"} 0');
    expect(lines.filter((l) => l.startsWith('guard_doctor_check_status{') && l.includes('check="gpu.vram"'))).toHaveLength(5);
    expect(lines.filter((l) => l.startsWith('guard_doctor_check_status{') && l.endsWith(' 1'))).toHaveLength(3);
    expect(lines).toContain('guard_doctor_case_status{command="up",case="sarcasm-zh",status="warn"} 1');
    for (const line of lines.filter((l) => l && !l.startsWith('#'))) expect(line).toContain('command="up"');
  });

  it('has latency per answered case, pass ratio, results, exit code and the run time, without timestamps', () => {
    const lines = text.split('\n');
    expect(lines).toContain('guard_doctor_case_latency_seconds{command="up",case="sarcasm-zh"} 0.812');
    expect(lines.some((l) => l.startsWith('guard_doctor_case_latency_seconds{command="up",case="hang"}'))).toBe(false);
    // 2 passed of 5 judged (the skipped check does not count).
    expect(lines).toContain('guard_doctor_pass_ratio{command="up"} 0.4');
    expect(lines).toContain('guard_doctor_results{command="up",status="fail"} 1');
    expect(lines).toContain(`guard_doctor_exit_code{command="up"} ${report.exitCode}`);
    expect(lines).toContain('guard_doctor_ok{command="up"} 0');
    expect(lines).toContain('guard_doctor_last_run_timestamp_seconds{command="up"} 1763742918');
    expect(lines).toContain('guard_doctor_cold_start_seconds{command="up",container="guard-doctor-qwen3guard-gen-8b"} 48.21');
    // No timestamps: after the labels comes the value and nothing else.
    for (const line of lines.filter((l) => l && !l.startsWith('#'))) expect(line.slice(line.lastIndexOf('}') + 1).trim().split(' ')).toHaveLength(line.includes('}') ? 1 : 2);
    expect(text).toContain('# TYPE guard_doctor_check_status gauge');
  });

  it('escapes label values, and the validator reads them back unchanged', () => {
    const result = validateExposition(text, { keepSamples: (f) => f === 'guard_doctor_case_status' });
    const ids = new Set(result.samples.get('guard_doctor_case_status')!.map((s) => s.labels.case));
    expect(ids).toEqual(new Set(cases.map((c) => c.id)));
    expect(text).toContain('case="quote \\"and\\" back\\\\slash\\nnew line 安全"');
  });
});

describe('writePromFile', () => {
  it('writes atomically into a folder whose name has spaces, quotes and $(...) and leaves no temporary file', async () => {
    const dir = path.join(tmp, `text file "collector" $(touch pwned) ü`);
    mkdirSync(dir);
    const file = path.join(dir, 'guard_doctor.prom');
    writeFileSync(file, 'old content\n');
    const report = buildReport('check', { checks }, false);
    await writePromFile(file, report);
    expect(readdirSync(dir)).toEqual(['guard_doctor.prom']);
    const text = readFileSync(file, 'utf8');
    expect(validateExposition(text).problems).toEqual([]);
    expect(text).toContain('guard_doctor_check_status{command="check",check="gpu.vram",status="fail"} 1');
    expect(readdirSync(tmp).some((name) => name === 'pwned')).toBe(false);
  });

  it('fails with the error when the folder does not exist, and creates nothing', async () => {
    const file = path.join(tmp, 'no-such-folder', 'x.prom');
    await expect(writePromFile(file, buildReport('check', { checks }, false))).rejects.toThrow(/ENOENT/);
  });
});

describe('--prom-file on the command line', () => {
  it('check --cpu --prom-file writes a valid file matching the JSON report', async () => {
    const file = path.join(tmp, 'check.prom');
    const { exitCode, json } = await runCli(['check', '--cpu', '--json', '--prom-file', file, '--probe-timeout', '5'], { timeoutMs: 60_000 });
    expect(json.command).toBe('check');
    const text = readFileSync(file, 'utf8');
    expect(validateExposition(text).problems).toEqual([]);
    expect(text).toContain(`guard_doctor_exit_code{command="check"} ${exitCode}`);
    for (const c of json.checks as Array<{ id: string; status: string }>) {
      expect(text).toContain(`guard_doctor_check_status{command="check",check="${c.id}",status="${c.status}"} 1`);
    }
  });

  it('an unwritable --prom-file folder is a clear error, not a stack trace', async () => {
    const file = path.join(tmp, 'missing-folder', 'check.prom');
    const { exitCode, stderr } = await runCli(['check', '--cpu', '--prom-file', file, '--probe-timeout', '5'], { timeoutMs: 60_000 });
    expect(exitCode).toBe(2);
    expect(stderr).toContain('could not write a report file');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
