/**
 * The fleet's small parts, without sshd: TARGET parsing, the remote-shell quoting (checked
 * against a real POSIX shell), what the host's tools print and how it is read back, which
 * machine docker points at, and the fleet's exit code and folded table.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { remoteCommand } from '../../src/ssh.js';
import { BatchFrames, batchWords, RUN_BATCH_SCRIPT } from '../../src/ssh/batch.js';
import { listenersBlock, parseListingMeta, parseOdHex, parseStat, splitBatchOutput } from '../../src/ssh/remote-fs.js';
import { dockerEndpoint, parseTarget, readTargets, sshTargetOf } from '../../src/targets.js';
import { fleetExitCode, fleetTable } from '../../src/fleet/report.js';
import { mapLimit } from '../../src/fleet/run.js';
import type { HostReport } from '../../src/types.js';

describe('TARGET', () => {
  it('reads [ssh://][user@]host[:port] and ssh config aliases', () => {
    expect(parseTarget('gpu1', '--host')).toEqual({ raw: 'gpu1', destination: 'gpu1', port: null });
    expect(parseTarget('ops@gpu1.example.com:2222', '--host')).toEqual({ raw: 'ops@gpu1.example.com:2222', destination: 'ops@gpu1.example.com', port: 2222 });
    expect(parseTarget('ssh://root@10.0.0.7', '--host')).toEqual({ raw: 'ssh://root@10.0.0.7', destination: 'root@10.0.0.7', port: null });
    expect(parseTarget('ssh://[fe80::1]:22', '--host')).toEqual({ raw: 'ssh://[fe80::1]:22', destination: 'fe80::1', port: 22 });
  });

  it('refuses what ssh would read as an option or a second word, naming the option', () => {
    expect(() => parseTarget('', '--host')).toThrow(/^--host: empty target/);
    expect(() => parseTarget('-oProxyCommand=sh', '--host')).toThrow(/starts with "-" and would be read as an ssh option/);
    expect(() => parseTarget('a b', '--host')).toThrow(/--host: "a b" has no valid host name/);
    expect(() => parseTarget('gpu1:0', '--host')).toThrow(/invalid port "0"/);
    expect(() => parseTarget('gpu1:http', '--host')).toThrow(/invalid port "http"/);
    expect(() => parseTarget('r$(id)@gpu1', '--host')).toThrow(/invalid user name/);
    expect(() => parseTarget('gpu1;reboot', '--host')).toThrow(/no valid host name/);
  });

  it('--hosts FILE: comments and blank lines skipped, the bad line named, duplicates once', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-hosts-'));
    try {
      const file = path.join(dir, 'hosts');
      await writeFile(file, '# pool\ngpu1\n\n gpu2 \ngpu1\n');
      expect(readTargets(['gpu2'], file).map((t) => t.raw)).toEqual(['gpu2', 'gpu1']);
      await writeFile(file, 'gpu1\n-bad\n');
      expect(() => readTargets([], file)).toThrow(new RegExp(`--hosts ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} line 2: "-bad" starts with "-"`));
      await writeFile(file, '# nothing\n\n');
      expect(() => readTargets([], file)).toThrow(/names no host/);
      expect(() => readTargets([], path.join(dir, 'missing'))).toThrow(/--hosts: cannot read .*missing: it does not exist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('remote-shell quoting', () => {
  it('hands every word through sh unchanged, running nothing (spaces, quotes, $(...), backticks, non-ASCII)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-quote-'));
    const marker = path.join(dir, 'ran');
    try {
      const words = [`a b`, `$(touch ${marker})`, `\`touch ${marker}\``, `'single'`, `"double"`, `ünï 模型 ✓`, `;touch ${marker}`, `$HOME`, `*`, `\\n`, ''];
      const result = await execa('sh', ['-c', remoteCommand('printf', ['%s\\n', ...words])]);
      expect(result.stdout.split('\n')).toEqual(words);
      expect(existsSync(marker)).toBe(false);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme' }).filter((w) => !w.includes('\0')), { minLength: 1, maxLength: 4 }), async (arbitrary) => {
          const out = await execa('sh', ['-c', `${remoteCommand('printf', ['%s\\0', ...arbitrary])}`], { stripFinalNewline: false });
          expect(out.stdout.split('\0').slice(0, -1)).toEqual(arbitrary);
        }),
        { numRuns: 40 },
      );
      expect(existsSync(marker)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('several commands in one session (the script a host runs)', () => {
  type Frame = { index: number; exitCode: number; stdout: string; stderr: string; at: number };
  /** Runs RUN_BATCH_SCRIPT with this machine's sh, as sshd would on a host, reading frames as they stream in. */
  async function runBatch(batch: Array<{ command: string; args: string[]; options: { timeoutMs: number } }>, chunkBytes = 0) {
    const started = performance.now();
    const frames: Frame[] = [];
    const reader = new BatchFrames('gdt0k3n', (f) => frames.push({ index: f.index, exitCode: f.exitCode, stdout: f.stdout.toString('utf8'), stderr: f.stderr.toString('utf8'), at: performance.now() - started }));
    // A login that prints something first must not confuse the reader.
    const child = execa('sh', ['-c', `echo "welcome to the host"; exec ${remoteCommand('sh', ['-c', RUN_BATCH_SCRIPT, 'sh', ...batchWords('gdt0k3n', batch)])}`], { reject: false, encoding: 'buffer' });
    child.stdout!.on('data', (chunk: Buffer) => {
      // Split into tiny pieces too: frames arrive cut anywhere over a real connection.
      if (chunkBytes === 0) return reader.push(chunk);
      for (let at = 0; at < chunk.length; at += chunkBytes) reader.push(chunk.subarray(at, at + chunkBytes));
    });
    const result = await child;
    return { frames: frames.sort((a, b) => a.index - b.index), exitCode: result.exitCode, count: reader.count, stderr: Buffer.from(result.stderr as Uint8Array).toString() };
  }

  it('runs each command with its own words, output, error output and exit status; nothing in a word runs', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-batch-'));
    const marker = path.join(dir, 'ran');
    try {
      const words = [`a b`, `$(touch ${marker})`, `\`touch ${marker}\``, `'single'`, `"double"`, `ünï 模型 ✓`, `;touch ${marker}`, `$HOME`, `*`, `\${1}`, `"\${2}"`, ''];
      const odd = path.join(dir, `odd $(exit 9) \`exit 9\` 'q' "d" é`);
      await writeFile(odd, 'x'.repeat(100_000));
      for (const chunkBytes of [0, 7]) {
        const { frames, exitCode, count } = await runBatch(
          [
            { command: 'printf', args: ['%s\\n', ...words], options: { timeoutMs: 10_000 } },
            { command: 'sh', args: ['-c', 'printf out; printf err >&2; exit 3'], options: { timeoutMs: 10_000 } },
            { command: 'guard-doctor-no-such-program', args: [], options: { timeoutMs: 10_000 } },
            { command: 'cat', args: ['--', odd], options: { timeoutMs: 10_000 } },
            { command: 'printf', args: ['%s', `gdt0k3n 9 0 1 1\n`], options: { timeoutMs: 10_000 } },
          ],
          chunkBytes,
        );
        expect(exitCode).toBe(0);
        expect(count).toBe(5);
        expect(frames.map((f) => f.index)).toEqual([0, 1, 2, 3, 4]);
        expect(frames[0]).toMatchObject({ exitCode: 0, stdout: words.join('\n') + '\n', stderr: '' });
        expect(frames[1]).toMatchObject({ exitCode: 3, stdout: 'out', stderr: 'err' });
        // `timeout` says 127 for a program that is not there, as a shell does.
        expect(frames[2]!.exitCode).toBe(127);
        expect(frames[3]!.stdout).toBe('x'.repeat(100_000));
        // Output that looks like a frame header is only output.
        expect(frames[4]).toMatchObject({ exitCode: 0, stdout: 'gdt0k3n 9 0 1 1\n' });
      }
      expect(existsSync(marker)).toBe(false);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme' }).filter((w) => !w.includes('\0')), { minLength: 1, maxLength: 4 }), async (arbitrary) => {
          const { frames } = await runBatch([
            { command: 'printf', args: ['%s\\0', ...arbitrary], options: { timeoutMs: 10_000 } },
            { command: 'printf', args: ['%s\\0', ...arbitrary.reverse()], options: { timeoutMs: 10_000 } },
          ]);
          expect(frames[0]!.stdout.split('\0').slice(0, -1)).toEqual(arbitrary.reverse());
          expect(frames[1]!.stdout.split('\0').slice(0, -1)).toEqual(arbitrary.reverse());
        }),
        { numRuns: 15 },
      );
      expect(existsSync(marker)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('each result comes back when its command ends, not when the slowest does; each has its own time limit', async () => {
    const { frames } = await runBatch([
      { command: 'sleep', args: ['30'], options: { timeoutMs: 1_000 } },
      { command: 'sh', args: ['-c', 'sleep 2; echo slow'], options: { timeoutMs: 20_000 } },
      { command: 'echo', args: ['fast'], options: { timeoutMs: 20_000 } },
    ]);
    // `timeout` ended the first at its own limit (exit 124), long before its 30 s.
    expect(frames[0]!.exitCode).toBe(124);
    expect(frames[1]).toMatchObject({ exitCode: 0, stdout: 'slow\n' });
    expect(frames[2]).toMatchObject({ exitCode: 0, stdout: 'fast\n' });
    // Order of arrival, not of asking: fast, then the limited one, then the slow one.
    expect(frames[2]!.at).toBeLessThan(frames[0]!.at);
    expect(frames[0]!.at).toBeLessThan(frames[1]!.at);
  });
});

describe("reading the host's tools", () => {
  it('stat -c "%f %s %u", find -printf "%y %m %s %U", od -tx1', () => {
    expect(parseStat('81a4 729 0\n')).toEqual({ kind: 'file', sizeBytes: 729, mode: 0o644, uid: 0 });
    expect(parseStat('41ed 4096 1000')).toEqual({ kind: 'folder', sizeBytes: 4096, mode: 0o755, uid: 1000 });
    expect(parseStat('a1ff 12 0')).toEqual({ kind: 'symlink', sizeBytes: 12, mode: 0o777, uid: 0 });
    expect(parseStat('stat: cannot statx')).toBeNull();
    expect(parseListingMeta('f 600 7 0')).toEqual({ kind: 'file', sizeBytes: 7, mode: 0o600, uid: 0 });
    expect(parseListingMeta('l 777 20 0')!.kind).toBe('symlink');
    expect(parseOdHex(' 76 65 72 73\n 69 6f 6e\n').toString()).toBe('version');
  });

  it('splits a batch by its token, keeping outputs that lack a final newline or hold NULs', () => {
    const t = 'gdabc123';
    const out = `a\0b\0\n${t} 0\nno newline\n${t} 1\n\n${t} 0\n`;
    expect(splitBatchOutput(out, t, 3)).toEqual([
      { exitCode: 0, output: 'a\0b\0' },
      { exitCode: 1, output: 'no newline' },
      { exitCode: 0, output: '' },
    ]);
  });

  it('ss -Hltn: a wildcard listener or the same address holds the port', () => {
    const ss = ['LISTEN 0 4096 127.0.0.1:8000 0.0.0.0:*', 'LISTEN 0 511 *:7860 *:*', 'LISTEN 0 4096 [::]:9000 [::]:*'].join('\n');
    expect(listenersBlock(ss, 8000, '127.0.0.1')).toBe(true);
    expect(listenersBlock(ss, 8000, '0.0.0.0')).toBe(true);
    expect(listenersBlock(ss, 8001, '127.0.0.1')).toBe(false);
    expect(listenersBlock(ss, 7860, '127.0.0.1')).toBe(true);
    expect(listenersBlock(ss, 9000, '127.0.0.1')).toBe(true);
  });
});

describe('where docker points', () => {
  it('DOCKER_HOST and the current docker context; local sockets are this machine', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-dctx-'));
    try {
      expect(dockerEndpoint({ DOCKER_HOST: 'unix:///var/run/docker.sock' })).toBeNull();
      expect(dockerEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2376' })).toEqual({ source: 'DOCKER_HOST', host: 'tcp://10.0.0.5:2376' });
      const ssh = dockerEndpoint({ DOCKER_HOST: 'ssh://ops@gpu7:2222' })!;
      expect(sshTargetOf(ssh)).toEqual({ raw: 'ssh://ops@gpu7:2222', destination: 'ops@gpu7', port: 2222 });
      // A context made by `docker context create gpu7 --docker host=ssh://gpu7`, as docker stores it.
      const meta = path.join(dir, 'contexts', 'meta', createHash('sha256').update('gpu7').digest('hex'));
      await mkdir(meta, { recursive: true });
      await writeFile(path.join(meta, 'meta.json'), JSON.stringify({ Name: 'gpu7', Metadata: {}, Endpoints: { docker: { Host: 'ssh://gpu7', SkipTLSVerify: false } } }));
      await writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths: {}, currentContext: 'gpu7' }));
      expect(dockerEndpoint({ DOCKER_CONFIG: dir })).toEqual({ source: 'docker context "gpu7"', host: 'ssh://gpu7' });
      expect(dockerEndpoint({ DOCKER_CONFIG: dir, DOCKER_CONTEXT: 'default' })).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the fleet verdict', () => {
  const host = (name: string, exitCode: number, failing: string[] = []): HostReport => ({
    host: name,
    ok: exitCode === 0,
    exitCode,
    checks: failing.map((id) => ({ id, title: id, status: id === 'host.reachable' ? ('error' as const) : ('fail' as const), summary: 'x', durationMs: 0 })),
    summary: { pass: 0, warn: 0, fail: failing.length, skip: 0, error: 0 },
  });

  it('4 beats 1 beats 3 beats 0', () => {
    expect(fleetExitCode([0, 0])).toBe(0);
    expect(fleetExitCode([0, 3])).toBe(3);
    expect(fleetExitCode([3, 1, 0])).toBe(1);
    expect(fleetExitCode([1, 4, 3])).toBe(4);
  });

  it('folds hosts with the same verdict into one row', () => {
    const rows = fleetTable([host('a', 0), host('b', 1, ['gpu.vram']), host('c', 0), host('d', 1, ['gpu.vram']), host('e', 3, ['host.reachable'])]).map((r) => r.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/✓ a, c\s+ok exit 0/);
    expect(rows[1]).toMatch(/✗ b, d\s+failed: gpu\.vram exit 1/);
    expect(rows[2]).toMatch(/\? e\s+could not tell: host\.reachable exit 3/);
  });

  it('runs at most N at once and keeps the order', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, n * 5));
      running -= 1;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });
});
