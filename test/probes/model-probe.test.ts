/**
 * The model-folder probe on real folders: what the container will see under the mount as
 * given. Every test runs twice: on this machine (node:fs) and on a host over SSH (a real sshd
 * on 127.0.0.1 whose file system is this one, read with the host's own stat/find/od/head), so
 * both executors must reach the same facts from the same probe code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmod, mkdir, rename, stat, symlink, truncate, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { probeModelFolder, inspectMount } from '../../src/probes/model.js';
import { judgeOne } from '../../src/judge.js';
import { modelFiles } from '../../checks/model-files.js';
import { modelMount } from '../../checks/model-mount.js';
import { modelPermissions } from '../../checks/model-permissions.js';
import { parseMount, resolveSettings } from '../../src/settings.js';
import { LFS_POINTER_TEXT, removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';
import { fleetUnavailable, startFleet, type Fleet } from '../helpers/sshd.js';
import { localHost, type Host } from '../../src/exec.js';
import { SshSession } from '../../src/ssh.js';
import { parseTarget } from '../../src/targets.js';

afterAll(removeTempDirs);

const EXPECTED = '/models/Qwen3Guard-Gen-8B';
const LOCAL = 'this machine';
const OVER_SSH = 'a host over SSH';
// Generous: the SSH runs share a slow machine at times; these are not timings.
const T = 600_000;

describe.each([LOCAL, OVER_SSH])('model folder probe on %s', (where) => {
  let host: Host = localHost;
  let fleet: Fleet | null = null;
  let session: SshSession | null = null;
  const skipSsh = where === OVER_SSH && fleetUnavailable() !== null;

  beforeAll(async () => {
    if (where === LOCAL || skipSsh) return;
    fleet = await startFleet([{ alias: 'self', smi: null, plain: true }]);
    session = new SshSession({ connectTimeoutMs: 60_000, readTimeoutMs: 300_000, configFile: fleet.sshConfig });
    const ssh = session.host(parseTarget('self', '--host'));
    const connection = await ssh.connect();
    if (!connection.ok) throw new Error(`could not reach the test sshd: ${connection.message}`);
    host = ssh;
  }, 120_000);
  afterAll(async () => {
    await session?.close();
    await fleet?.stop();
  }, T);

  async function probeWith(flags: Record<string, unknown>) {
    const settings = resolveSettings('check', flags, {}, '/');
    const facts = await probeModelFolder(settings, host);
    if (!facts) throw new Error('expected model facts');
    return facts;
  }

  it.runIf(where === OVER_SSH && !skipSsh)('closing the session ends its master connection (no ssh left behind)', async () => {
    const own = new SshSession({ connectTimeoutMs: 60_000, configFile: fleet!.sshConfig });
    const ssh = own.host(parseTarget('self', '--host'));
    expect((await ssh.connect()).ok).toBe(true);
    const dir = await own.controlDir();
    const check = await execa('ssh', ['-F', fleet!.sshConfig, '-o', `ControlPath=${path.join(dir, 'c0')}`, '-O', 'check', 'self'], { reject: false });
    const pid = Number(/pid=(\d+)/.exec(check.stderr)?.[1]);
    expect(pid, check.stderr).toBeGreaterThan(0);
    await own.close();
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  }, T);

  it.skipIf(skipSsh)('gives null when no mount or model dir was given', async () => {
    expect(await probeModelFolder(resolveSettings('check', {}, {}, '/'), host)).toBeNull();
  }, T);

  it.skipIf(skipSsh)('reads a healthy sharded folder: config, index, tokenizer, shard headers and sizes', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 5 });
    const facts = await probeWith({ modelDir: built.dir });

    expect(facts.relativeDir).toBe('');
    expect(facts.hostModelDir).toBe(built.dir);
    expect(facts.hostModelDirExists).toBe(true);
    expect(facts.inspectedRole).toBe('model-dir');
    expect(facts.caseMismatch).toBeNull();
    expect(facts.configJson).toMatchObject({ architectures: ['Qwen3ForCausalLM'], num_hidden_layers: 36, hidden_size: 4096, num_key_value_heads: 8, head_dim: 128 });
    expect(facts.index).toEqual({ shardNames: built.shardNames, totalSize: built.totalSize });
    expect(facts.tokenizer).toEqual({ tokenizerJson: true, tokenizerConfig: true, vocabAndMerges: false });

    expect(facts.shards).toHaveLength(5);
    let fileBytes = 0;
    for (const shard of facts.shards) {
      const size = (await stat(path.join(built.dir, shard.name))).size;
      fileBytes += size;
      expect(shard).toMatchObject({ present: true, lfsPointer: false, sizeBytes: size, problem: null });
      expect(shard.headerBytes! % 8).toBe(0);
      expect(shard.dataBytes).toBe(size - 8 - shard.headerBytes!);
      expect(shard.declaredDataBytes).toBe(shard.dataBytes);
    }
    expect(facts.shards.reduce((sum, s) => sum + s.dataBytes!, 0)).toBe(built.totalSize);
    expect(facts.weightBytes).toBe(fileBytes);
    expect(facts.diskFreeBytes).toBeGreaterThan(0);

    const config = facts.files.find((f) => f.path === 'config.json')!;
    expect(config).toMatchObject({ type: 'file', symlink: false, lfsPointer: false, readableByOthers: true });
    expect(config.mode & 0o777).toBe((await stat(path.join(built.dir, 'config.json'))).mode & 0o777);
    expect(facts.pathFolders.map((f) => f.hostPath)).toEqual([built.dir]);
  }, T);

  it.skipIf(skipSsh)('takes a single model.safetensors without an index as the weights', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-0.6B'), { size: '0.6B', shards: 0, tokenizer: 'bpe' });
    const facts = await probeWith({ modelDir: built.dir, model: 'qwen3guard-gen-0.6b' });
    expect(facts.index).toBeNull();
    expect(facts.shards.map((s) => s.name)).toEqual(['model.safetensors']);
    expect(facts.shards[0]!.dataBytes).toBe(built.totalSize);
    expect(facts.tokenizer).toEqual({ tokenizerJson: false, tokenizerConfig: true, vocabAndMerges: true });
  }, T);

  it.skipIf(skipSsh)('finds a folder that differs only in letter case, naming both spellings', async () => {
    const root = await tempDir();
    await writeModelFolder(path.join(root, 'qwen3guard-gen-8b'));
    const facts = await probeWith({ mount: `${root}:/models` });
    expect(facts.relativeDir).toBe('Qwen3Guard-Gen-8B');
    expect(facts.hostModelDir).toBe(path.join(root, 'Qwen3Guard-Gen-8B'));
    expect(facts.hostModelDirExists).toBe(false);
    expect(facts.caseMismatch).toEqual({ side: 'host', expected: 'Qwen3Guard-Gen-8B', found: 'qwen3guard-gen-8b', parentHostPath: root });
    expect(facts.inspectedDir).toBe(path.join(root, 'qwen3guard-gen-8b'));
    expect(facts.inspectedRole).toBe('case-mismatch');
    expect(facts.suggestedContainerModelDir).toBe('/models/qwen3guard-gen-8b');
    expect(facts.configJson).not.toBeNull();
  }, T);

  it.skipIf(skipSsh)('sees a container path that differs from the server folder only in case', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'model'));
    const facts = await probeWith({ mount: `${built.dir}:/models/qwen3guard-gen-8b` });
    expect(facts.relativeDir).toBeNull();
    expect(facts.caseMismatch).toMatchObject({ side: 'container', expected: EXPECTED, found: '/models/qwen3guard-gen-8b' });
    expect(facts.suggestedMount).toBe(`${built.dir}:${EXPECTED}`);
    expect(facts.suggestedContainerModelDir).toBe('/models/qwen3guard-gen-8b');
  }, T);

  it.skipIf(skipSsh)('spots a mount one level too shallow and computes the corrected -v', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const facts = await probeWith({ mount: `${built.dir}:/models:ro` });
    expect(facts.tooShallow).toBe(true);
    expect(facts.hostModelDirExists).toBe(false);
    expect(facts.missingHostPath).toBe(path.join(built.dir, 'Qwen3Guard-Gen-8B'));
    expect(facts.suggestedMount).toBe(`${built.dir}:${EXPECTED}:ro`);
    expect(facts.suggestedContainerModelDir).toBe('/models');
    expect(facts.inspectedRole).toBe('mount-root');
  }, T);

  it.skipIf(skipSsh)('spots a model one level too deep (in a single subfolder of the mounted folder)', async () => {
    const root = await tempDir();
    await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const facts = await probeWith({ modelDir: root });
    expect(facts.hostModelDirExists).toBe(true);
    expect(facts.tooDeepSubfolder).toBe('Qwen3Guard-Gen-8B');
    expect(facts.suggestedMount).toBe(`${path.join(root, 'Qwen3Guard-Gen-8B')}:${EXPECTED}`);
    expect(facts.inspectedRole).toBe('subfolder');
    expect(facts.pathFolders.map((f) => f.hostPath)).toEqual([root, path.join(root, 'Qwen3Guard-Gen-8B')]);
  }, T);

  it.skipIf(skipSsh)('picks the subfolder named like the model among several', async () => {
    const root = await tempDir();
    await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-4B'), { size: '4B' });
    await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const facts = await probeWith({ modelDir: root });
    expect(facts.modelSubfolders).toEqual(['Qwen3Guard-Gen-4B', 'Qwen3Guard-Gen-8B']);
    expect(facts.tooDeepSubfolder).toBe('Qwen3Guard-Gen-8B');
  }, T);

  it.skipIf(skipSsh)('says when the mount does not cover the server folder, and where the model would fit', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const facts = await probeWith({ mount: `${built.dir}:/data` });
    expect(facts.relativeDir).toBeNull();
    expect(facts.hostModelDir).toBeNull();
    expect(facts.caseMismatch).toBeNull();
    expect(facts.suggestedMount).toBe(`${built.dir}:${EXPECTED}`);
    expect(facts.suggestedContainerModelDir).toBe('/data');
  }, T);

  it.skipIf(skipSsh)('records a missing host path as a fact, not a crash', async () => {
    const root = await tempDir();
    const facts = await probeWith({ mount: `${path.join(root, 'nope')}:/models` });
    expect(facts.hostPathState).toBe('missing');
    expect(facts.hostPathMessage).toContain('does not exist');
    expect(facts.inspectedDir).toBeNull();
    const file = path.join(root, 'file');
    await writeFile(file, 'x');
    expect((await probeWith({ mount: `${file}:/models` })).hostPathState).toBe('not-a-folder');
  }, T);

  it.skipIf(skipSsh)('recognises Git LFS pointers, leaves them out of weightBytes, and spots a cut-off shard', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 3 });
    const [first, second, third] = built.shardNames as [string, string, string];
    await writeFile(path.join(built.dir, first), LFS_POINTER_TEXT('a'.repeat(64), 3_963_750_880));
    const secondPath = path.join(built.dir, second);
    await truncate(secondPath, (await stat(secondPath)).size - 10);
    const facts = await probeWith({ modelDir: built.dir });
    const byName = new Map(facts.shards.map((s) => [s.name, s]));
    expect(byName.get(first)).toMatchObject({ present: true, lfsPointer: true, headerBytes: null });
    expect(byName.get(second)!.declaredDataBytes! - byName.get(second)!.dataBytes!).toBe(10);
    expect(byName.get(third)!.declaredDataBytes).toBe(byName.get(third)!.dataBytes);
    expect(facts.files.find((f) => f.path === first)!.lfsPointer).toBe(true);
    const realSizes = (await stat(secondPath)).size + (await stat(path.join(built.dir, third))).size;
    expect(facts.weightBytes).toBe(realSizes);
  }, T);

  it.skipIf(skipSsh)('judges "readable by others" from mode bits, one level down too (tests run as root)', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    await chmod(path.join(built.dir, 'config.json'), 0o600);
    await mkdir(path.join(built.dir, 'original'), { mode: 0o700 });
    await chmod(path.join(built.dir, 'original'), 0o700);
    await writeFile(path.join(built.dir, 'original', 'params.json'), '{}', { mode: 0o640 });
    await chmod(path.join(built.dir, 'original', 'params.json'), 0o640);
    const facts = await probeWith({ modelDir: built.dir });
    const entry = (p: string) => facts.files.find((f) => f.path === p)!;
    expect(entry('config.json')).toMatchObject({ mode: 0o600, readableByOthers: false });
    expect(entry('original')).toMatchObject({ type: 'folder', mode: 0o700, readableByOthers: false });
    expect(entry('original/params.json')).toMatchObject({ mode: 0o640, readableByOthers: false });
    expect(entry('tokenizer.json').readableByOthers).toBe(true);
    // The probe still read config.json: root can, and the server's user may not; that is the permission check's call.
    expect(facts.configJson).not.toBeNull();
  }, T);

  it.skipIf(skipSsh)('flags links that point outside the mount (the Hugging Face cache layout)', async () => {
    const root = await tempDir();
    const blobs = path.join(root, 'blobs');
    const snapshot = path.join(root, 'snapshots', 'abc123');
    const built = await writeModelFolder(blobs, { shards: 2 });
    await mkdir(snapshot, { recursive: true });
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors.index.json', ...built.shardNames]) {
      await symlink(path.join('..', '..', 'blobs', name), path.join(snapshot, name));
    }
    await symlink('../../blobs/gone', path.join(snapshot, 'generation_config.json'));
    const facts = await probeWith({ modelDir: snapshot });
    const config = facts.files.find((f) => f.path === 'config.json')!;
    expect(config).toMatchObject({ symlink: true, linkTarget: '../../blobs/config.json', linkEscapesMount: true, type: 'file' });
    expect(facts.files.find((f) => f.path === 'generation_config.json')!.type).toBe('broken-link');
    // On the host the links resolve, so the model itself reads as complete.
    expect(facts.shards.every((s) => s.present && s.declaredDataBytes === s.dataBytes)).toBe(true);
  }, T);

  it.skipIf(skipSsh)('handles paths with spaces, non-ASCII letters, quotes and $(...) without running anything', async () => {
    const root = await tempDir();
    const marker = path.join(root, 'pwned');
    const odd = path.join(root, `my models "ünï'cødé" $(touch ${marker}) \`touch ${marker}\``);
    const built = await writeModelFolder(path.join(odd, 'Qwen3Guard-Gen-8B'));
    const viaDir = await probeWith({ modelDir: built.dir });
    expect(viaDir.hostModelDirExists).toBe(true);
    expect(viaDir.configJson).not.toBeNull();
    const viaMount = await inspectMount(parseMount(`${odd}:/models`, '--mount', '/'), EXPECTED, 'Qwen3Guard-Gen-8B', host.fs);
    expect(viaMount.hostModelDir).toBe(built.dir);
    expect(viaMount.shards.every((s) => s.present)).toBe(true);
    await expect(access(marker)).rejects.toThrow();
  }, T);

  it.skipIf(skipSsh)('lists only the model folder and one level below it', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    await mkdir(path.join(built.dir, 'a', 'b', 'c'), { recursive: true });
    await writeFile(path.join(built.dir, 'a', 'b', 'c', 'deep.txt'), 'x');
    await rename(path.join(built.dir, 'generation_config.json'), path.join(built.dir, 'a', 'generation_config.json'));
    const facts = await probeWith({ modelDir: built.dir });
    const paths = facts.files.map((f) => f.path);
    expect(paths).toContain('a/b');
    expect(paths).toContain('a/generation_config.json');
    expect(paths.some((p) => p.startsWith('a/b/'))).toBe(false);
  }, T);

  // 150 runs: on this machine only (the SSH executor reads the same bytes with the same parsers).
  it.skipIf(where !== LOCAL)('never throws on arbitrary file contents, and the checks judge them without crashing', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'Qwen3Guard-Gen-8B');
    const settings = resolveSettings('check', { modelDir: (await mkdir(dir, { recursive: true }), dir) }, {}, '/');
    const jsonish = fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ weight_map: v, metadata: { total_size: v } })));
    const header = (text: string) => {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
      return Buffer.concat([length, Buffer.from(text)]);
    };
    const shard = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.string().map((t) => header(t)),
      fc.jsonValue().map((v) => header(JSON.stringify({ t: v }))),
      fc.string().map((t) => Buffer.from(`version https://git-lfs${t}`)),
    );
    await fc.assert(
      fc.asyncProperty(jsonish, jsonish, shard, fc.constantFrom(0o600, 0o644, 0o000), async (config, index, shardBytes, mode) => {
        await writeFile(path.join(dir, 'config.json'), config);
        await writeFile(path.join(dir, 'model.safetensors.index.json'), index);
        await writeFile(path.join(dir, 'model.safetensors'), shardBytes);
        await chmod(path.join(dir, 'model.safetensors'), mode);
        const facts = await probeModelFolder(settings);
        const outcome = { model: { ok: true as const, value: facts, durationMs: 0 } };
        for (const check of [modelMount, modelFiles, modelPermissions]) {
          const result = judgeOne(check, outcome, settings);
          expect(result.status, result.summary).not.toBe('error');
          expect(result.summary.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 150 },
    );
  }, T);
});
