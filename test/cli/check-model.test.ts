/**
 * `guard-doctor check` with real model folders, run as the user runs it (the built program,
 * --cpu so the GPU checks skip). Other checks (docker, port, host memory) depend on this
 * machine, so these tests assert the model.* entries, and exit codes where the model decides.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { access, chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';

afterAll(removeTempDirs);

function modelEntries(result: CliResult): Record<string, { status: string; summary: string; fix?: string; measured?: Record<string, unknown> }> {
  expect(result.json, `stdout was not one JSON document:\n${result.stdout}\n${result.stderr}`).toBeDefined();
  const entries = (result.json.checks as { id: string }[]).filter((c) => c.id.startsWith('model.'));
  return Object.fromEntries(entries.map((c) => [c.id, c])) as never;
}

function expectUsageError(result: CliResult, pattern: RegExp) {
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('guard-doctor check with a model folder', () => {
  it('passes the three model checks for a healthy folder, in order, in the JSON document', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 5 });
    const result = await runCli(['check', '--cpu', '--json', '--model-dir', built.dir]);
    const ids = (result.json.checks as { id: string }[]).map((c) => c.id);
    expect(ids.filter((id) => id.startsWith('model.'))).toEqual(['model.source', 'model.mount', 'model.files', 'model.permissions']);
    const model = modelEntries(result);
    expect(model['model.source']).toMatchObject({ status: 'skip', summary: 'the model is the folder given with --model-dir/--mount (--source dir); model.mount and model.files judge it' });
    expect(model['model.mount']).toMatchObject({ status: 'pass', summary: `/models/Qwen3Guard-Gen-8B -> ${built.dir} (exact case; config.json and 5 weight files there)` });
    expect(model['model.files']!.status).toBe('pass');
    expect(model['model.files']!.measured).toMatchObject({ shards: 5, totalSize: built.totalSize, tensorBytes: built.totalSize, looksLike: 'Qwen3Guard-Gen-8B' });
    expect(model['model.permissions']!.status).toBe('pass');
    // The document's verdict agrees with the exit code, whatever the host checks said.
    expect(result.exitCode).toBe(result.json.exitCode);
    expect([0, 1]).toContain(result.exitCode);
  });

  it('without a folder the model comes from the hub: the checks judge the snapshot in the user\'s cache', async () => {
    // runCli's default user has every size in the Hugging Face cache (test/global-setup.ts).
    const result = await runCli(['check', '--cpu', '--json']);
    const model = modelEntries(result);
    expect(model['model.source']!.status).toBe('pass');
    expect(model['model.source']!.summary).toMatch(/^Qwen\/Qwen3Guard-Gen-8B is complete in the cache \(.*\/hub\/models--Qwen--Qwen3Guard-Gen-8B\/snapshots\/[0-9a-f]{40}: 5 shards, 15\.3 GiB\)/);
    for (const id of ['model.mount', 'model.files', 'model.permissions']) expect(model[id]!.status).toBe('pass');
  });

  it('fails a case-only mismatch with exit 1, naming both spellings (JSON and human)', async () => {
    const root = await tempDir();
    await writeModelFolder(path.join(root, 'qwen3guard-gen-8b'));
    const json = await runCli(['check', '--cpu', '--json', '--mount', `${root}:/models`]);
    expect(json.exitCode).toBe(1);
    expect(json.json).toMatchObject({ ok: false, exitCode: 1, command: 'check' });
    const mount = modelEntries(json)['model.mount']!;
    expect(mount.status).toBe('fail');
    expect(mount.summary).toContain('on disk the folder is spelled "qwen3guard-gen-8b", the server expects "Qwen3Guard-Gen-8B"');
    expect(mount.fix).toBe(`rename it: mv ${root}/qwen3guard-gen-8b ${root}/Qwen3Guard-Gen-8B, or tell the server to read --container-model-dir /models/qwen3guard-gen-8b`);

    const human = await runCli(['check', '--cpu', '--mount', `${root}:/models`]);
    expect(human.exitCode).toBe(1);
    expect(human.stdout).toMatch(/✗ model\.mount\s+\/models\/Qwen3Guard-Gen-8B maps to .*Qwen3Guard-Gen-8B, which does not exist: on disk the folder is spelled "qwen3guard-gen-8b"/);
    expect(human.stdout).toContain(`fix: rename it: mv ${root}/qwen3guard-gen-8b ${root}/Qwen3Guard-Gen-8B`);
    expect(human.stdout).toMatch(/\d+ failed, .*exit 1/);
  });

  it('passes once the server is pointed at the folder as spelled on disk', async () => {
    const root = await tempDir();
    await writeModelFolder(path.join(root, 'qwen3guard-gen-8b'));
    const result = await runCli(['check', '--cpu', '--json', '--mount', `${root}:/models`, '--container-model-dir', '/models/qwen3guard-gen-8b']);
    expect(modelEntries(result)['model.mount']!.status).toBe('pass');
  });

  it('fails a mount one level too shallow and prints the corrected -v', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-4B'), { size: '4B' });
    const result = await runCli(['check', '--cpu', '--json', '--model', 'qwen3guard-gen-4b', '--mount', `${built.dir}:/models:ro`]);
    expect(result.exitCode).toBe(1);
    const mount = modelEntries(result)['model.mount']!;
    expect(mount.status).toBe('fail');
    expect(mount.summary).toContain('one level too shallow');
    expect(mount.fix).toContain(`-v ${built.dir}:/models/Qwen3Guard-Gen-4B:ro`);
    expect(mount.measured).toMatchObject({ suggestedMount: `${built.dir}:/models/Qwen3Guard-Gen-4B:ro` });
  });

  it('fails a mount that does not cover the folder the server reads', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    const result = await runCli(['check', '--cpu', '--json', '--mount', `${built.dir}:/data`]);
    expect(result.exitCode).toBe(1);
    expect(modelEntries(result)['model.mount']!.summary).toBe(`the mount puts ${built.dir} at /data, which does not cover /models/Qwen3Guard-Gen-8B (the folder the server reads)`);
  });

  it('fails a missing shard and an LFS pointer with exit 1 and the download fix', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'), { shards: 5 });
    await writeFile(path.join(built.dir, built.shardNames[4]!), 'version https://git-lfs.github.com/spec/v1\noid sha256:0000\nsize 1241513984\n');
    const { rm } = await import('node:fs/promises');
    await rm(path.join(built.dir, built.shardNames[0]!));
    const result = await runCli(['check', '--cpu', '--json', '--model-dir', built.dir]);
    expect(result.exitCode).toBe(1);
    const files = modelEntries(result)['model.files']!;
    expect(files.status).toBe('fail');
    expect(files.summary).toBe('1 file is a Git LFS pointer, not the real data (model-00005-of-00005.safetensors): the weights were never downloaded (and 1 more problem; -v lists it)');
    expect(files.fix).toBe(`fetch the real files: git lfs pull (in ${built.dir}), or huggingface-cli download Qwen/Qwen3Guard-Gen-8B --local-dir ${built.dir}`);
  });

  it('fails an unreadable file (chmod 600) with a chmod fix, judged from the mode bits', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'Qwen3Guard-Gen-8B'));
    await chmod(path.join(built.dir, 'tokenizer.json'), 0o600);
    const result = await runCli(['check', '--cpu', '--json', '--model-dir', built.dir]);
    expect(result.exitCode).toBe(1);
    const permissions = modelEntries(result)['model.permissions']!;
    expect(permissions.status).toBe('fail');
    expect(permissions.summary).toContain(`1 path is not readable by other users, and the container may not run as the owner: ${built.dir}/tokenizer.json (mode 0600`);
    expect(permissions.fix).toBe(`chmod -R a+rX ${built.dir}`);
  });

  it('works with spaces, non-ASCII letters, quotes and $(...) in the path, and runs nothing from it', async () => {
    const root = await tempDir();
    const marker = path.join(root, 'pwned');
    const odd = path.join(root, `Modèles "d'été" $(touch ${marker}) \`touch ${marker}\``);
    const built = await writeModelFolder(path.join(odd, 'Qwen3Guard-Gen-8B'));
    await chmod(path.join(built.dir, 'config.json'), 0o640);
    const result = await runCli(['check', '--cpu', '--json', '--model-dir', built.dir]);
    const model = modelEntries(result);
    expect(model['model.mount']!.status).toBe('pass');
    expect(model['model.files']!.status).toBe('pass');
    expect(model['model.permissions']!.fix).toBe(`chmod -R a+rX '${built.dir.replace(/'/g, `'\\''`)}'`);
    const human = await runCli(['check', '--cpu', '--mount', `${odd}:/models`]);
    expect(human.stdout).toContain(`✓ model.mount`);
    await expect(access(marker)).rejects.toThrow();
  });

  it('reads the model folder from the config file', async () => {
    const root = await tempDir();
    const built = await writeModelFolder(path.join(root, 'models', 'Qwen3Guard-Gen-8B'));
    await writeFile(path.join(root, 'guard-doctor.config.json'), JSON.stringify({ modelDir: './models/Qwen3Guard-Gen-8B', cpu: true }));
    const result = await runCli(['check', '--json'], { cwd: root });
    expect(modelEntries(result)['model.mount']!.summary).toContain(`-> ${built.dir} (exact case`);
  });

  it('rejects a --model-dir that does not exist with exit 2 naming the option', async () => {
    const root = await tempDir();
    expectUsageError(await runCli(['check', '--cpu', '--json', '--model-dir', path.join(root, 'Qwen3Guard-Gen-8B')]), /--model-dir: .*Qwen3Guard-Gen-8B does not exist/);
  });

  it('rejects malformed mounts and a relative --container-model-dir with exit 2', async () => {
    expectUsageError(await runCli(['check', '--cpu', '--mount', '/srv/models']), /--mount: "\/srv\/models" is not HOST_PATH:CONTAINER_PATH/);
    expectUsageError(await runCli(['check', '--cpu', '--mount', '/srv/models:models']), /--mount: .*container path must be absolute/);
    expectUsageError(await runCli(['check', '--cpu', '--mount', 'hf-cache:/models']), /--mount: "hf-cache" looks like a named volume/);
    expectUsageError(await runCli(['check', '--cpu', '--container-model-dir', 'models/x']), /--container-model-dir: "models\/x" must be an absolute path/);
    expectUsageError(await runCli(['check', '--cpu', '--model-dir', '/tmp', '--mount', '/tmp:/models']), /--mount and --model-dir both name the model volume/);
  });
});
