/**
 * Loading a suite: the bundled suites/suite.json or the user's `--cases FILE`, validated
 * against the schema's rules (every problem with its JSON path; exit 2), obfuscations
 * generated from their seeds, and `--tag` applied.
 */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError, describeReadError } from '../errors.js';
import type { GuardInput } from '../guard-client.js';
import type { ServerKind } from '../types.js';
import { obfuscate, type ObfuscateSpec } from './obfuscate.js';
import { validateSuite, type CaseExpectation, type ProbeSpec, type SuiteSpec } from './schema.js';

export interface SuiteCase {
  id: string;
  description?: string;
  tags: string[];
  severity: 'fail' | 'warn';
  maxLatencyMs?: number;
  servers?: ServerKind[];
  /** What is sent; null for a probe (the runner builds its request). */
  input: GuardInput | null;
  probe?: ProbeSpec;
  expect?: CaseExpectation;
  /** The spec the text was generated from, for reports. */
  obfuscation?: ObfuscateSpec;
}

export interface Suite {
  name: string;
  /** The file it came from. */
  file: string;
  bundled: boolean;
  cases: SuiteCase[];
  /** Cases in the file before --tag. */
  totalCases: number;
}

/** suites/suite.json, found from src/suite (tests) and from dist/src/suite (the built program). */
export function bundledSuitePath(): string {
  // src/suite/ (tests), dist/src/suite/ (tsc), dist/bundle/chunks/ (the bundle bin/ loads)
  const candidates = ['../../suites/suite.json', '../../../suites/suite.json'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

export function loadSuite(options: { casesFile: string | null; tags: readonly string[] }): Suite {
  const bundled = options.casesFile === null;
  const file = options.casesFile ?? bundledSuitePath();
  const option = bundled ? 'the bundled suite' : '--cases';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const why = describeReadError(error);
    throw new UsageError(`${option}: cannot read ${file}: ${why}. Give the path of a suite JSON file (format: suites/suite.schema.json)`);
  }
  const data = parseJsonWithPosition(text, file, option);
  const problems = validateSuite(data);
  if (problems.length > 0) {
    const shown = problems.slice(0, 50).map((p) => `  ${p.path}: ${p.message}`);
    if (problems.length > 50) shown.push(`  ... and ${problems.length - 50} more`);
    throw new UsageError(
      `${option}: ${file} is not a valid suite file (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n${shown.join('\n')}\n  the format is described by suites/suite.schema.json`,
    );
  }
  const spec = data as SuiteSpec;
  const all = spec.cases.map((c): SuiteCase => {
    const input: GuardInput | null = c.probe
      ? null
      : c.messages
        ? { messages: c.messages.map((m) => ({ role: m.role, content: m.content })) }
        : { text: c.obfuscate ? obfuscate(c.obfuscate) : (c.text ?? '') };
    return {
      id: c.id,
      ...(c.description !== undefined ? { description: c.description } : {}),
      tags: c.tags ?? [],
      severity: c.severity ?? 'fail',
      ...(c.maxLatencyMs !== undefined ? { maxLatencyMs: c.maxLatencyMs } : {}),
      ...(c.servers ? { servers: c.servers } : {}),
      input,
      ...(c.probe ? { probe: c.probe } : {}),
      ...(c.expect ? { expect: c.expect } : {}),
      ...(c.obfuscate ? { obfuscation: c.obfuscate } : {}),
    };
  });
  let cases = all;
  if (options.tags.length > 0) {
    cases = all.filter((c) => c.tags.some((t) => options.tags.includes(t)));
    if (cases.length === 0) {
      const known = [...new Set(all.flatMap((c) => c.tags))].sort();
      throw new UsageError(`--tag ${options.tags.join(', ')}: no case in ${file} has ${options.tags.length === 1 ? 'this tag' : 'these tags'}. Tags in this suite: ${known.join(', ') || '(none)'}`);
    }
  }
  return { name: spec.name ?? (bundled ? 'guard-doctor bundled suite' : file), file, bundled, cases, totalCases: all.length };
}

function parseJsonWithPosition(text: string, file: string, option: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    let where = '';
    if (position) {
      const offset = Number(position[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column}`;
    }
    throw new UsageError(`${option}: ${file} is not valid JSON${where}: ${message.replace(/^[^:]*JSON[^:]*: /, '')}`);
  }
}
