/**
 * The three model checks, judged from the facts the probe gathers on real folders (and a few
 * edited fact snapshots): status, summary and the fix line the user copies.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { access, chmod, mkdir, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { judgeOne } from '../../src/judge.js';
import { runProbe } from '../../src/probes/index.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { modelMount } from '../../checks/model-mount.js';
import { modelFiles } from '../../checks/model-files.js';
import { modelPermissions } from '../../checks/model-permissions.js';
import type { Facts } from '../../src/facts.js';
import type { ModelFolderFacts } from '../../src/facts.js';
import { LFS_POINTER_TEXT, qwen3Config, removeTempDirs, safetensorsFile, tempDir, writeModelFolder } from '../helpers/model-folder.js';

afterAll(removeTempDirs);

async function judge(flags: Record<string, unknown>) {
  const settings = resolveSettings('check', flags, {}, '/');
  const model = await runProbe('model', settings);
  return judgeWith(settings, model);
}

function judgeWith(settings: Settings, model: Facts['model']) {
  const facts: Partial<Facts> = { model };
  return {
    settings,
    model: model.ok ? (model.value as ModelFolderFacts) : null,
    mount: judgeOne(modelMount, facts, settings),
    files: judgeOne(modelFiles, facts, settings),
    permissions: judgeOne(modelPermissions, facts, settings),
  };
}

describe('model checks', () => {
  it('pass on a healthy 8B folder given with --model-dir', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 5 });
    const r = await judge({ modelDir: built.dir });
    expect(r.mount).toMatchObject({ id: 'model.mount', status: 'pass' });
    expect(r.mount.summary).toBe(`/models/Qwen3Guard-Gen-8B -> ${built.dir} (exact case; config.json and 5 weight files there)`);
    expect(r.files.status).toBe('pass');
    expect(r.files.summary).toContain('5 of 5 shards present');
    expect(r.files.summary).toContain(`${built.totalSize} bytes of tensors = total_size`);
    expect(r.files.summary).toContain('(Qwen3Guard-Gen-8B)');
    expect(r.files.measured).toMatchObject({ shards: 5, shardsPresent: 5, lfsPointers: 0, totalSize: built.totalSize, tensorBytes: built.totalSize, looksLike: 'Qwen3Guard-Gen-8B' });
    expect(r.permissions.status).toBe('pass');
    expect(r.permissions.summary).toMatch(/^all \d+ files and 1 folder are readable by any user$/);
  });

  it('skip all three with the reason when no folder was given and the hub model is not cached yet', async () => {
    const r = judgeWith(resolveSettings('check', {}, {}, '/', { HF_HOME: '/nonexistent/hf' }), { ok: true, value: null, durationMs: 0 });
    for (const result of [r.mount, r.files, r.permissions]) {
      expect(result.status).toBe('skip');
      expect(result.summary).toBe('Qwen/Qwen3Guard-Gen-8B is not in the cache (/nonexistent/hf/hub) yet; the server downloads it at start (see model.source)');
    }
  });

  it('fail a case-only mismatch, naming both spellings, with a rename and a --container-model-dir', async () => {
    const root = await tempDir();
    await writeModelFolder(path.join(root, 'qwen3guard-gen-8b'));
    const r = await judge({ mount: `${root}:/models` });
    expect(r.mount.status).toBe('fail');
    expect(r.mount.summary).toContain('"qwen3guard-gen-8b"');
    expect(r.mount.summary).toContain('"Qwen3Guard-Gen-8B"');
    expect(r.mount.summary).toContain('case-sensitive');
    expect(r.mount.fix).toBe(`rename it: mv ${root}/qwen3guard-gen-8b ${root}/Qwen3Guard-Gen-8B, or tell the server to read --container-model-dir /models/qwen3guard-gen-8b`);
    // The files are judged where the model was found, so the user learns whether it is complete.
    expect(r.files.status).toBe('pass');
    expect(r.files.summary).toContain(`in ${root}/qwen3guard-gen-8b (where the model was found; see model.mount)`);
  });

  it('fail a container path that differs only in case', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const r = await judge({ mount: `${built.dir}:/models/qwen3guard-gen-8b` });
    expect(r.mount.status).toBe('fail');
    expect(r.mount.summary).toContain('the server reads /models/Qwen3Guard-Gen-8B');
    expect(r.mount.fix).toContain(`-v ${built.dir}:/models/Qwen3Guard-Gen-8B`);
  });

  it('fail a mount one level too shallow and print the corrected -v', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const r = await judge({ mount: `${built.dir}:/models` });
    expect(r.mount.status).toBe('fail');
    expect(r.mount.summary).toContain('one level too shallow');
    expect(r.mount.fix).toBe(
      `mount the model folder at the folder the server reads: -v ${built.dir}:/models/Qwen3Guard-Gen-8B (guard-doctor: --mount ${built.dir}:/models/Qwen3Guard-Gen-8B), or tell the server to read --container-model-dir /models`,
    );
  });

  it('fail a mount one level too deep, pointing at the subfolder', async () => {
    const root = await tempDir();
    await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const r = await judge({ modelDir: root });
    expect(r.mount.status).toBe('fail');
    expect(r.mount.summary).toBe(`/models/Qwen3Guard-Gen-8B maps to ${root}, which holds no config.json; the model is one level down, in Qwen3Guard-Gen-8B/`);
    expect(r.mount.fix).toContain(`-v ${root}/Qwen3Guard-Gen-8B:/models/Qwen3Guard-Gen-8B`);
  });

  it('fail a mount that does not cover the container model dir', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const r = await judge({ mount: `${built.dir}:/data` });
    expect(r.mount.status).toBe('fail');
    expect(r.mount.summary).toBe(`the mount puts ${built.dir} at /data, which does not cover /models/Qwen3Guard-Gen-8B (the folder the server reads)`);
    expect(r.mount.fix).toContain(`-v ${built.dir}:/models/Qwen3Guard-Gen-8B`);
    expect(r.mount.fix).toContain('--container-model-dir /data');
  });

  it('fail a missing host path and skip the file checks with the reason', async () => {
    const root = await tempDir();
    const r = await judge({ mount: `${root}/missing:/models` });
    expect(r.mount.status).toBe('fail');
    expect(r.mount.summary).toBe(`the mount's host folder ${root}/missing does not exist`);
    expect(r.files.status).toBe('skip');
    expect(r.files.summary).toMatch(/could not check the model files/);
    expect(r.permissions.status).toBe('skip');
  });

  it('fail an empty server folder, listing nothing made up', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'Qwen3Guard-Gen-8B'));
    const r = await judge({ modelDir: path.join(root, 'Qwen3Guard-Gen-8B') });
    expect(r.mount.status).toBe('fail');
    expect(r.mount.summary).toContain('holds no config.json and no *.safetensors');
    expect(r.files.status).toBe('fail');
    expect(r.files.summary).toMatch(/config\.json is missing/);
  });

  it('fail a missing shard, naming it', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 4 });
    const { rm } = await import('node:fs/promises');
    await rm(path.join(built.dir, built.shardNames[2]!));
    const r = await judge({ modelDir: built.dir });
    expect(r.mount.status).toBe('pass');
    expect(r.files.status).toBe('fail');
    expect(r.files.summary).toBe('1 shard named in model.safetensors.index.json is missing: model-00003-of-00004.safetensors');
    expect(r.files.fix).toBe(`download the missing shards: huggingface-cli download Qwen/Qwen3Guard-Gen-8B --local-dir ${built.dir}`);
  });

  it('fail an LFS pointer shard with the git lfs / huggingface-cli fix', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    await writeFile(path.join(built.dir, built.shardNames[0]!), LFS_POINTER_TEXT('b'.repeat(64), 3_963_750_880));
    const r = await judge({ modelDir: built.dir });
    expect(r.files.status).toBe('fail');
    expect(r.files.summary).toContain('1 file is a Git LFS pointer, not the real data (model-00001-of-00003.safetensors)');
    expect(r.files.fix).toContain('git lfs pull');
    expect(r.files.fix).toContain('huggingface-cli download Qwen/Qwen3Guard-Gen-8B');
    expect(r.files.measured).toMatchObject({ lfsPointers: 1 });
  });

  it('fail shards whose tensor bytes do not add up to total_size exactly', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const indexPath = path.join(built.dir, 'model.safetensors.index.json');
    const index = JSON.parse(await (await import('node:fs/promises')).readFile(indexPath, 'utf8'));
    index.metadata.total_size = built.totalSize + 2;
    await writeFile(indexPath, JSON.stringify(index));
    const r = await judge({ modelDir: built.dir });
    expect(r.files.status).toBe('fail');
    expect(r.files.summary).toBe(
      `the shards hold ${built.totalSize} bytes of tensors, but model.safetensors.index.json says total_size ${built.totalSize + 2} (-2 bytes): the shards do not belong to this index or a download is incomplete`,
    );
  });

  it('fail a shard cut off mid-download (file shorter than its header says)', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const shard = path.join(built.dir, built.shardNames[1]!);
    await truncate(shard, (await stat(shard)).size - 64);
    const r = await judge({ modelDir: built.dir });
    expect(r.files.status).toBe('fail');
    expect(r.files.summary).toMatch(/^model-00002-of-00003\.safetensors is cut off: its header lists \d+ bytes of tensors but the file holds \d+ \(and 1 more problem; -v lists it\)$/);
    expect(r.files.details).toEqual([expect.stringMatching(/^also failing: the shards hold \d+ bytes of tensors, but model.safetensors.index.json says total_size/)]);
  });

  it('fail a file that is not safetensors at all', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 0 });
    await writeFile(path.join(built.dir, 'model.safetensors'), Buffer.from('<html>404 Not Found</html>'.repeat(80)));
    const r = await judge({ modelDir: built.dir });
    expect(r.files.status).toBe('fail');
    expect(r.files.summary).toMatch(/^model\.safetensors: its header claims \d+ bytes but the file holds 2080/);
  });

  it('fail missing tokenizer files and an invalid config.json', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { tokenizer: 'none', config: '{"architectures": [' });
    const r = await judge({ modelDir: built.dir });
    expect(r.files.status).toBe('fail');
    expect(r.files.summary).toMatch(/^config\.json is not valid JSON/);
    expect(r.files.details).toEqual(expect.arrayContaining([expect.stringContaining('also failing: tokenizer files missing: tokenizer_config.json, tokenizer.json (or vocab.json + merges.txt) (fix: download the whole model')]));
  });

  it('accept a single model.safetensors without index, with a BPE tokenizer', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-0.6B'), { size: '0.6B', shards: 0, tokenizer: 'bpe' });
    const r = await judge({ modelDir: built.dir, model: 'Qwen3Guard-Gen-0.6B' });
    expect(r.files.status).toBe('pass');
    expect(r.files.summary).toContain('model.safetensors present');
  });

  it('warn when the folder looks like another size than --model, naming it', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { size: '0.6B' });
    const r = await judge({ modelDir: built.dir });
    expect(r.files.status).toBe('warn');
    expect(r.files.summary).toBe('the folder looks like Qwen3Guard-Gen-0.6B (28 layers, hidden size 1024), not Qwen3Guard-Gen-8B as --model says');
    expect(r.files.fix).toBe('say --model Qwen3Guard-Gen-0.6B, or mount the Qwen3Guard-Gen-8B folder');
  });

  it('warn when config.json is not a Qwen3 causal LM', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { config: { ...qwen3Config('8B'), architectures: ['Qwen3ForGuardModel'], model_type: 'qwen3_guard' } });
    const r = await judge({ modelDir: built.dir });
    expect(r.files.status).toBe('warn');
    expect(r.files.summary).toContain('describes Qwen3ForGuardModel (model_type qwen3_guard), not Qwen3ForCausalLM');
  });

  it('fail files and folders that other users cannot read, with a copyable chmod', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 5 });
    for (const name of built.shardNames) await chmod(path.join(built.dir, name), 0o600);
    const r = await judge({ modelDir: built.dir });
    expect(r.permissions.status).toBe('fail');
    expect(r.permissions.summary).toBe(
      `5 paths are not readable by other users, and the container may not run as the owner: ${built.dir}/model-00001-of-00005.safetensors (mode 0600, owner uid 0, no read for others), ${built.dir}/model-00002-of-00005.safetensors (mode 0600, owner uid 0, no read for others), ${built.dir}/model-00003-of-00005.safetensors (mode 0600, owner uid 0, no read for others) and 2 more`.replaceAll('owner uid 0', `owner uid ${process.getuid!()}`),
    );
    expect(r.permissions.fix).toBe(`chmod -R a+rX ${built.dir}`);
    expect(r.permissions.measured).toMatchObject({ offenders: 5 });
  });

  it('fail a parent folder under the mount that others cannot pass through, fixing from the mount root', async () => {
    const root = await tempDir();
    await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    await chmod(root, 0o700);
    const r = await judge({ mount: `${root}:/models` });
    expect(r.mount.status).toBe('pass');
    expect(r.permissions.status).toBe('fail');
    expect(r.permissions.summary).toContain(`${root} (mode 0700`);
    expect(r.permissions.summary).toContain('others cannot pass through');
    expect(r.permissions.fix).toBe(`chmod -R a+rX ${root}`);
  });

  it('fail links into the Hugging Face cache that leave the mount', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'blobs'), { shards: 2 });
    const snapshot = path.join(root, 'snapshots', 'abc123');
    await mkdir(snapshot, { recursive: true });
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors.index.json', ...built.shardNames]) {
      await symlink(path.join('..', '..', 'blobs', name), path.join(snapshot, name));
    }
    const r = await judge({ modelDir: snapshot });
    expect(r.mount.status).toBe('fail');
    expect(r.mount.summary).toBe(`6 files in ${snapshot} are links to outside the mount (e.g. config.json -> ../../blobs/config.json): inside the container they dangle`);
    expect(r.mount.fix).toContain('--local-dir');
  });

  it('quote odd paths in fix lines so that nothing in them runs when copied', async () => {
    const root = await tempDir();
    const marker = path.join(root, 'pwned');
    const odd = path.join(root, `it's my "models" $(touch ${marker})`);
    const built = await writeModelFolder(path.join(odd, 'Qwen3Guard-Gen-8B'));
    await chmod(path.join(built.dir, 'config.json'), 0o600);
    const r = await judge({ modelDir: built.dir });
    const quoted = `'${built.dir.replace(/'/g, `'\\''`)}'`;
    expect(r.permissions.fix).toBe(`chmod -R a+rX ${quoted}`);
    const shallow = await judge({ mount: `${built.dir}:/models` });
    expect(shallow.mount.fix).toContain(`-v '${built.dir.replace(/'/g, `'\\''`)}:/models/Qwen3Guard-Gen-8B'`);
    // Run the fix line through a real shell: it must chmod that folder and run nothing else.
    const { run } = await import('../../src/exec.js');
    const result = await run('sh', ['-c', r.permissions.fix!], { timeoutMs: 10_000 });
    expect(result.exitCode).toBe(0);
    expect(((await stat(path.join(built.dir, 'config.json'))).mode & 0o777).toString(8)).toBe('644');
    await expect(access(marker)).rejects.toThrow();
  });

  it('turn a probe that crashed into an error result, not a pass', async () => {
    const settings = resolveSettings('check', { mount: '/srv/models:/models' }, {}, '/');
    const r = judgeWith(settings, { ok: false, kind: 'crash', message: 'EIO: i/o error', durationMs: 3 });
    expect(r.mount).toMatchObject({ status: 'error', summary: 'could not tell: EIO: i/o error' });
  });

  it('builds real safetensors bytes (sanity of the test helper)', () => {
    const { bytes, dataBytes } = safetensorsFile([{ name: 'w', dtype: 'BF16', shape: [2, 3] }]);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    expect(header.w).toEqual({ dtype: 'BF16', shape: [2, 3], data_offsets: [0, 12] });
    expect(bytes.length).toBe(8 + headerLength + dataBytes);
  });
});
