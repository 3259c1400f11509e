/**
 * The check tables in checks/index.ts against the code: every check id a report can show is
 * in a table, and every id and title in a table is one the code really emits. When a branch
 * adds a result (say host.reachable), this fails until the table names it.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CHECK_TABLES, PREFLIGHT_CHECKS, selectChecks } from '../../checks/index.js';
import { ROOT } from '../helpers/cli.js';

function sources(dir: string): { file: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith('.ts') ? [{ file: path.relative(ROOT, full), text: readFileSync(full, 'utf8') }] : [];
  });
}

const code = [...sources(path.join(ROOT, 'src')), ...sources(path.join(ROOT, 'checks'))].filter((s) => s.file !== path.join('checks', 'index.ts'));
const all = Object.values(CHECK_TABLES).flat();
const fixed = all.filter((e) => !e.id.includes('<'));

/**
 * Ids the code builds a result with: `id: 'x.y'`, an `_ID = 'x.y'` constant, or a builder's
 * first argument `('x.y'` (outside probes and data, where `('memory.total'` is an nvidia-smi field).
 */
function emittedIds(): Map<string, string> {
  const found = new Map<string, string>();
  const declared = /(?:\bid:\s*|_ID\s*=\s*)'([a-z]+\.[a-z][a-z0-9.-]*)'/g;
  const argument = /[A-Za-z]\(\s*'([a-z]+\.[a-z][a-z0-9.-]*)'/g;
  const template = /`([a-z]+\.[a-z]+)\.\$\{/g;
  for (const { file, text } of code) {
    for (const m of text.matchAll(declared)) found.set(m[1]!, file);
    if (/^src\/(probes|data)\//.test(file)) continue;
    // Not ids: a file name ('config.json') or a well-known symbol ('nodejs.util.inspect.custom').
    for (const m of text.matchAll(argument)) if (!/\.(json|txt|log)$|^nodejs\./.test(m[1]!)) found.set(m[1]!, file);
    for (const m of text.matchAll(template)) found.set(`${m[1]}.<`, file);
  }
  return found;
}

describe('the check tables', () => {
  it('name every check id the code emits', () => {
    const emitted = emittedIds();
    expect(emitted.size).toBeGreaterThan(20);
    const listed = (id: string) => all.some((e) => (id.endsWith('<') ? e.id.startsWith(id) : e.id === id));
    const missing = [...emitted].filter(([id]) => !listed(id)).map(([id, file]) => `${id} (${file})`);
    expect(missing, 'ids the code emits that checks/index.ts CHECK_TABLES does not list').toEqual([]);
  });

  it('list only ids and titles that the code really uses', () => {
    const text = code.map((s) => s.text).join('\n');
    for (const e of fixed) {
      expect(text.includes(`'${e.id}'`), e.id).toBe(true);
      expect(text.includes(`'${e.title}'`), `${e.id}: title "${e.title}"`).toBe(true);
    }
    for (const e of all.filter((x) => x.id.includes('<'))) {
      const prefix = e.id.slice(0, e.id.indexOf('<'));
      expect(text.includes(`\`${prefix}\${`), e.id).toBe(true);
      expect(text.includes(`\`${e.title.slice(0, e.title.indexOf('<'))}\${`), `${e.id}: title "${e.title}"`).toBe(true);
    }
  });

  it('take the preflight rows from the check objects themselves, in their order', () => {
    expect(CHECK_TABLES.check.map((e) => [e.group, e.id, e.title])).toEqual(PREFLIGHT_CHECKS.map((c) => [c.id.split('.')[0], c.id, c.title]));
    expect(new Set(CHECK_TABLES.check.map((e) => e.id)).size).toBe(CHECK_TABLES.check.length);
  });
});

describe('selectChecks (--only)', () => {
  it('keeps table order and takes groups and ids together', () => {
    expect(selectChecks(['port.free', 'docker', 'gpu.driver']).map((c) => c.id)).toEqual(['gpu.driver', 'docker.daemon', 'docker.gpu', 'port.free']);
    expect(selectChecks([])).toBe(PREFLIGHT_CHECKS);
  });

  it('refuses a name that is neither, with the option in the message', () => {
    expect(() => selectChecks(['gpus'])).toThrow(/^--only: unknown group or check id "gpus"\. Valid groups: gpu, docker, model, host, port; valid ids: gpu\.driver,/);
    expect(() => selectChecks(['watch'])).toThrow('(watch is reported by watch, not by check)');
  });
});

describe('test/README.md', () => {
  const map = readFileSync(path.join(ROOT, 'test', 'README.md'), 'utf8');

  it('names the tests of every check id in the tables', () => {
    const rows = new Set([...map.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]));
    expect(all.map((e) => e.id).filter((id) => !rows.has(id))).toEqual([]);
  });

  it('names only test files that exist', () => {
    const files = [...new Set([...map.matchAll(/`(test\/[^`<]+\.test\.ts)`/g)].map((m) => m[1]!))];
    expect(files.length).toBeGreaterThan(15);
    expect(files.filter((f) => !existsSync(path.join(ROOT, f)))).toEqual([]);
  });
});
