/**
 * `check --list-checks`: every check id per command, in report order (npm doctor's table:
 * group, id, title), as text or as one JSON document.
 */
import type { CheckEntry } from '../../checks/index.js';
import { reportHead } from './outcome.js';
import { padEnd } from './format.js';
import { paint } from './style.js';

export function renderCheckList(tables: Readonly<Record<string, readonly CheckEntry[]>>): string[] {
  const all = Object.values(tables).flat();
  const groupWidth = Math.max(...all.map((e) => e.group.length), 'group'.length) + 2;
  const idWidth = Math.max(...all.map((e) => e.id.length), 'id'.length) + 2;
  const row = (e: CheckEntry) => `  ${padEnd(e.group, groupWidth)}${padEnd(e.id, idWidth)}${e.title}`;
  const lines = [paint.bold('guard-doctor checks, per command, in the order reports print them'), ''];
  const preflight = tables.check ?? [];
  for (const [command, table] of Object.entries(tables)) {
    // `up` starts with the preflight table: say so instead of printing it twice.
    const own = command !== 'check' && preflight.length && preflight.every((e, i) => table[i]?.id === e.id) ? table.slice(preflight.length) : table;
    const heading =
      command === 'check' ? 'check (--only takes a group or an id of this table)'
      : command === 'fleet' ? 'fleet (any command with --host; docker.host when DOCKER_HOST points elsewhere)'
      : own === table ? command : `${command}: the check table, then`;
    lines.push(paint.bold(heading), paint.dim(`  ${padEnd('group', groupWidth)}${padEnd('id', idWidth)}title`), ...own.map(row), '');
  }
  lines.push(`${new Set(all.map((e) => e.id)).size} check ids in ${Object.keys(tables).length} tables ${paint.dim('exit 0')}`);
  return lines;
}

export function checkListDocument(tables: Readonly<Record<string, readonly CheckEntry[]>>): Record<string, unknown> {
  return { ...reportHead('check', 0), tables };
}
