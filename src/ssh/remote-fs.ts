/**
 * A host's file reads for the probes (HostFs) with its own POSIX tools over the shared
 * connection, in batches; and what `ss -Hltn` says about a port. The same verdicts as node:fs.
 */
import path from 'node:path';
import { FsError, type ExecResult, type FileStat, type HostFs } from '../exec.js';
import type { SshHost } from '../ssh.js';
import { firstLine, trace } from './trace.js';

/** Does a listener in `ss -Hltn` output keep address:port from being bound? (wildcards clash with everything) */
export function listenersBlock(ssOutput: string, port: number, address: string): boolean {
  const wildcard = (a: string) => a === '0.0.0.0' || a === '::' || a === '*' || a === '';
  const want = address.replace(/^\[|\]$/g, '');
  for (const line of ssOutput.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const at = local.lastIndexOf(':');
    if (Number(local.slice(at + 1)) !== port) continue;
    const bound = local.slice(0, at).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    if (wildcard(bound) || wildcard(want) || bound === want) return true;
  }
  return false;
}

/** stat's, find's and readlink's complaints, as the errno codes node:fs would give. */
function fsErrorFrom(result: ExecResult, p: string): FsError {
  const text = `${result.stderr}\n${result.stdout}`;
  if (result.timedOut) return new FsError('ETIMEDOUT', `reading ${p} on the host did not finish in time`);
  if (/No such file or directory/i.test(text)) return new FsError('ENOENT', `${p}: no such file or directory`);
  if (/Not a directory/i.test(text)) return new FsError('ENOTDIR', `${p}: not a directory`);
  if (/Permission denied/i.test(text)) return new FsError('EACCES', `${p}: permission denied`);
  if (/Invalid argument/i.test(text)) return new FsError('EINVAL', `${p}: invalid argument`);
  if (/Too many levels of symbolic links/i.test(text)) return new FsError('ELOOP', `${p}: too many levels of symbolic links`);
  return new FsError('EIO', `${p}: ${firstLine(result)}`);
}

const S_IFMT = 0o170000;
function kindOf(rawMode: number): FileStat['kind'] {
  switch (rawMode & S_IFMT) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'folder';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}

/** `%f %s %u`: raw mode in hex, size, owner. */
export function parseStat(line: string): FileStat | null {
  const m = /^([0-9a-f]+) (\d+) (\d+)\s*$/i.exec(line.trim());
  if (!m) return null;
  const raw = parseInt(m[1]!, 16);
  return { kind: kindOf(raw), sizeBytes: Number(m[2]), mode: raw & 0o7777, uid: Number(m[3]) };
}

/** How long a listing's facts about an entry stand in for a stat of it. */
const STAT_CACHE_MS = 60_000;

/** find's `%y %m %s %U` for one entry: type letter, permission bits (octal), size, owner. */
export function parseListingMeta(text: string): FileStat | null {
  const m = /^([a-zA-Z]) ([0-7]+) (\d+) (\d+)$/.exec(text.trim());
  if (!m) return null;
  const kind: FileStat['kind'] = m[1] === 'f' ? 'file' : m[1] === 'd' ? 'folder' : m[1] === 'l' ? 'symlink' : 'other';
  return { kind, mode: parseInt(m[2]!, 8) & 0o7777, sizeBytes: Number(m[3]), uid: Number(m[4]) };
}

/** `od -An -v -tx1` output back to bytes. */
export function parseOdHex(text: string): Buffer {
  const hex = text.replace(/[^0-9a-f]/gi, '');
  return Buffer.from(hex, 'hex');
}

/**
 * One shell loop that runs a batch of file reads with the host's own tools. The operations
 * and paths arrive as positional parameters ("$p" is always quoted), never as script text, so
 * nothing in a path is run. Each result ends with a line holding the batch's random token
 * and the exit status.
 */
const FS_BATCH_SCRIPT = [
  'LC_ALL=C; export LC_ALL; t=$1; shift',
  'while [ $# -ge 4 ]; do',
  '  op=$1; p=$2; a=$3; b=$4; shift 4',
  '  case $op in',
  "    stat) stat -L -c '%f %s %u' -- \"$p\" ;;",
  "    lstat) stat -c '%f %s %u' -- \"$p\" ;;",
  "    readdir) find -H \"$p\" -mindepth 1 -maxdepth 1 -printf '%f\\0%y %m %s %U\\0' ;;",
  '    readlink) readlink -- "$p" ;;',
  '    realpath) realpath -e -- "$p" ;;',
  '    read) od -An -v -tx1 -j "$a" -N "$b" -- "$p" ;;',
  '    text) head -c "$b" -- "$p" ;;',
  "    free) stat -f -c '%a %S' -- \"$p\" ;;",
  '    *) echo "unknown operation" >&2; false ;;',
  '  esac 2>&1',
  "  printf '\\n%s %s\\n' \"$t\" \"$?\"",
  'done',
].join('\n');

type FsOp = 'stat' | 'lstat' | 'readdir' | 'readlink' | 'realpath' | 'read' | 'text' | 'free';
interface Pending {
  op: FsOp;
  path: string;
  a: number;
  b: number;
  resolve(value: { exitCode: number; output: string }): void;
  reject(error: unknown): void;
}

/** At most this many operations share one remote command. */
const FS_BATCH_MAX = 200;

/** Splits a batch's output into each operation's output and exit status. */
export function splitBatchOutput(stdout: string, token: string, count: number): Array<{ exitCode: number; output: string }> {
  const results: Array<{ exitCode: number; output: string }> = [];
  const marker = new RegExp(`\\n${token} (\\d+)\\n`, 'g');
  let from = 0;
  for (const m of stdout.matchAll(marker)) {
    results.push({ exitCode: Number(m[1]), output: stdout.slice(from, m.index) });
    from = m.index! + m[0].length;
    if (results.length === count) break;
  }
  return results;
}

/**
 * The file reads of the probes, done with the host's own POSIX tools (stat, find, readlink,
 * realpath, od, head). Reads asked for at the same moment (a probe's Promise.all) travel
 * together in one remote command: one round trip per step of the probe, not one per file.
 */
export function remoteFs(host: SshHost, timeoutMs: number): HostFs {
  const queue: Pending[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = queue.splice(0, FS_BATCH_MAX);
    if (queue.length > 0) schedule();
    if (batch.length > 0) void readBatch(batch);
  };
  const readBatch = async (batch: Pending[]) => {
    const token = `gd${Math.random().toString(16).slice(2, 10)}${Date.now().toString(16)}`;
    const args = [token, ...batch.flatMap((op) => [op.op, op.path, String(op.a), String(op.b)])];
    const maxBuffer = 16 * 1024 * 1024 + batch.reduce((n, op) => n + (op.op === 'read' ? op.b * 4 : op.op === 'text' ? op.b : 4096), 0);
    try {
      const result = await host.run('sh', ['-c', FS_BATCH_SCRIPT, 'sh', ...args], { timeoutMs, maxBuffer });
      if (process.env.GUARD_DOCTOR_DEBUG) process.stderr.write(`[ssh ${host.label}] ${batch.length} reads (${batch.map((b) => `${b.op} ${b.path}`).join(', ')}) in ${result.durationMs} ms\n`);
      const parts = splitBatchOutput(result.stdout, token, batch.length);
      batch.forEach((op, i) => {
        const part = parts[i];
        if (part) op.resolve(part);
        else op.reject(result.timedOut ? new FsError('ETIMEDOUT', `reading ${op.path} on ${host.label} did not finish within ${Math.round(timeoutMs / 1000)} s`) : new FsError('EIO', `reading ${op.path} on ${host.label} failed: ${firstLine(result)}`));
      });
    } catch (error) {
      for (const op of batch) op.reject(error);
    }
  };
  // The reads leave with the commands asked for in the same turn (one session for both).
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    host.scheduleFlush();
  };
  host.onFlush(() => {
    if (scheduled) void flush();
  });
  // The probe asks some things twice (a folder's listing while it looks for the model, then
  // while it describes it): within a run, the host's first answer stands.
  const answers = new Map<string, { at: number; answer: Promise<{ exitCode: number; output: string }> }>();
  const call = (op: FsOp, p: string, a = 0, b = 0) => {
    const key = `${op}\0${p}\0${a}\0${b}`;
    const hit = answers.get(key);
    if (hit && performance.now() - hit.at < STAT_CACHE_MS) return hit.answer;
    const answer = new Promise<{ exitCode: number; output: string }>((resolve, reject) => {
      queue.push({ op, path: p, a, b, resolve, reject });
      schedule();
    });
    answers.set(key, { at: performance.now(), answer });
    return answer;
  };
  // What a listing already said about each entry (type, mode, size, owner): the probe's lstat
  // of every entry, and its stat of those that are not links, need no second round trip.
  const known = new Map<string, { at: number; lstat: FileStat }>();
  const cached = (p: string, follow: boolean): FileStat | null => {
    const hit = known.get(p);
    if (!hit || performance.now() - hit.at > STAT_CACHE_MS) return null;
    return follow && hit.lstat.kind === 'symlink' ? null : hit.lstat;
  };
  const fail = (p: string, output: string) => fsErrorFrom({ stdout: '', stderr: output, exitCode: 1, timedOut: false } as ExecResult, p);
  const statWith = async (op: 'stat' | 'lstat', p: string): Promise<FileStat> => {
    const hit = cached(p, op === 'stat');
    if (hit) return hit;
    const r = await call(op, p);
    const parsed = r.exitCode === 0 ? parseStat(r.output) : null;
    if (!parsed) throw fail(p, r.output);
    return parsed;
  };
  return {
    readsAreRoundTrips: true,
    stat: (p) => statWith('stat', p),
    lstat: (p) => statWith('lstat', p),
    async readdir(p) {
      // -H follows the folder itself when it is a link, as readdir does; NUL-separated names survive anything.
      const r = await call('readdir', p);
      if (r.exitCode !== 0) throw fail(p, r.output);
      const parts = r.output.split('\0');
      const names: string[] = [];
      const at = performance.now();
      for (let i = 0; i + 1 < parts.length; i += 2) {
        const name = parts[i]!;
        if (name === '') continue;
        names.push(name);
        const meta = parseListingMeta(parts[i + 1]!);
        if (meta) known.set(path.posix.join(p, name), { at, lstat: meta });
      }
      return names;
    },
    async readlink(p) {
      const r = await call('readlink', p);
      if (r.exitCode !== 0) throw fail(p, r.output);
      return r.output.replace(/\n$/, '');
    },
    async realpath(p) {
      const r = await call('realpath', p);
      if (r.exitCode !== 0) throw fail(p, r.output);
      return r.output.replace(/\n$/, '');
    },
    async read(p, offset, length) {
      const r = await call('read', p, offset, length);
      if (r.exitCode !== 0) throw fail(p, r.output);
      return parseOdHex(r.output);
    },
    async readText(p, maxBytes = 16 * 1024 * 1024) {
      const r = await call('text', p, 0, maxBytes);
      if (r.exitCode !== 0) throw fail(p, r.output);
      return r.output;
    },
    async freeBytes(p) {
      const r = await call('free', p);
      const m = /^(\d+) (\d+)/.exec(r.output.trim());
      if (r.exitCode !== 0 || !m) throw fail(p, r.output);
      return Number(m[1]) * Number(m[2]);
    },
  };
}
