/**
 * Download progress while `up` waits on a hub source: the lines real vLLM / huggingface_hub
 * logs print (test/fixtures/logs, SOURCES in test/fixtures/hub), and the cache measured on
 * disk as a download fills it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseDownloadLog, watchDownload } from '../../src/launch/download.js';
import { resolveHubSettings } from '../../src/hub-settings.js';
import { findModel } from '../../src/data/models.js';
// @ts-expect-error plain ESM test server without type declarations
import { startGuardServer, StartupError } from '../server/guard-server.mjs';
import { ROOT } from '../helpers/cli.js';
import { writeHfCache } from '../helpers/hub.js';
import { removeTempDirs, tempDir } from '../helpers/model-folder.js';

afterAll(removeTempDirs);

const fixture = (name: string) => readFile(path.join(ROOT, 'test/fixtures/logs', name), 'utf8');

describe('download lines in the server log', () => {
  it('reads huggingface_hub\'s per-file bars (vLLM 0.7.2)', async () => {
    const log = parseDownloadLog(await fixture('vllm-hub-download-tqdm.txt'));
    expect([...log.files.entries()]).toEqual([
      ['model-00002-of-00002.safetensors', { percent: 100, done: '1.75G', total: '1.75G' }],
      ['model-00001-of-00002.safetensors', { percent: 100, done: '5.00G', total: '5.00G' }],
    ]);
    expect(log.downloadSeconds).toBeNull();
  });

  it('reads vLLM\'s download time, and ignores the loading bars', async () => {
    const log = parseDownloadLog(await fixture('vllm-hub-download-time.txt'));
    expect(log.downloadSeconds).toBeCloseTo(14.584169, 6);
    expect(log.files.size).toBe(0);
  });

  it('takes the latest redraw of a bar written with carriage returns (docker logs of a non-TTY)', () => {
    const log = parseDownloadLog('model-00001-of-00005.safetensors:   0%|          | 0.00/3.96G [00:00<?, ?B/s]\rmodel-00001-of-00005.safetensors:  42%|████▏     | 1.66G/3.96G [00:55<01:17, 29.8MB/s]\n');
    expect(log.files.get('model-00001-of-00005.safetensors')).toEqual({ percent: 42, done: '1.66G', total: '3.96G' });
  });
});

describe('the cache as the download fills it', () => {
  it('describes shards and bytes while the download runs, then splits download from load by the cache', async () => {
    const home = await tempDir('gd-dl-');
    const hub = resolveHubSettings('hf', findModel('Qwen3Guard-Gen-8B')!, { HF_HOME: home }, '/');
    let now = 0;
    const watch = watchDownload(hub, 9_000, 3, () => now);
    expect((await watch.sample()).complete).toBe(false);
    expect(watch.describe()).toBeNull();

    // Part-way: one shard done, one half-way in blobs/*.incomplete.
    const partial = await writeHfCache(home, { size: '8B', state: 'partial' });
    now = 2_000;
    const mid = await watch.sample();
    expect(mid).toMatchObject({ shardsDone: 1, complete: false });
    expect(watch.describe()).toMatch(/^downloading Qwen\/Qwen3Guard-Gen-8B into the cache: 1 of 3 shards, [\d.]+ KiB of 8\.8 KiB$/);

    // Done: the same cache, complete.
    await rm(partial.repoDir, { recursive: true });
    await writeHfCache(home, { size: '8B' });
    now = 5_000;
    expect((await watch.sample()).complete).toBe(true);
    expect(watch.describe()).toBeNull();
    expect(watch.split(8_000, 'INFO 11-30 16:00:00 [api_server.py:1880] Starting vLLM API server 0 on http://0.0.0.0:8000\n')).toEqual({ downloadMs: 5_000, loadMs: 3_000, from: 'the cache' });
    // vLLM's own figure wins when it printed one.
    expect(watch.split(8_000, await fixture('vllm-hub-download-time.txt'))).toEqual({ downloadMs: 8_000, loadMs: 0, from: 'the server log' });
  });

  it('a cache complete before the launch is no download', async () => {
    const home = await tempDir('gd-dl-');
    await writeHfCache(home, { size: '4B' });
    const watch = watchDownload(resolveHubSettings('hf', findModel('Qwen3Guard-Gen-4B')!, { HF_HOME: home }, '/'), 9_000, 3);
    expect((await watch.sample()).complete).toBe(true);
    expect(watch.describe()).toBeNull();
    expect(watch.split(1_200, '')).toEqual({ downloadMs: 0, loadMs: 1_200, from: 'the cache (complete before the launch)' });
  });
});

describe('the stand-in server with a hub id', () => {
  it('loads Qwen/<model> from the Hugging Face cache, as vLLM does', async () => {
    const home = await tempDir('gd-dl-');
    await writeHfCache(home, { size: '4B' });
    const lines: string[] = [];
    const server = await startGuardServer({ model: 'Qwen/Qwen3Guard-Gen-4B', servedModelName: 'Qwen3Guard-Gen-4B', env: { HF_HOME: home }, log: (l: string) => lines.push(l) });
    try {
      await server.ready;
      const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data[0]!.id).toBe('Qwen3Guard-Gen-4B');
      expect(lines.some((l) => /Time spent downloading weights for Qwen\/Qwen3Guard-Gen-4B: [\d.]+ seconds/.test(l))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('offline with nothing cached fails with huggingface_hub\'s own error', async () => {
    const home = await tempDir('gd-dl-');
    const error = await startGuardServer({ model: 'Qwen/Qwen3Guard-Gen-8B', env: { HF_HOME: home, HF_HUB_OFFLINE: '1' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupError);
    expect((error as StartupError & { log: string }).log).toContain(
      "huggingface_hub.errors.LocalEntryNotFoundError: Cannot find an appropriate cached snapshot folder for the specified revision on the local disk and outgoing traffic has been disabled. To enable repo look-ups and downloads online, pass 'local_files_only=False' as input.",
    );
    // Moving the cache in makes it start.
    const other = await tempDir('gd-dl-');
    await writeHfCache(other, { size: '8B' });
    await rm(home, { recursive: true });
    await rename(other, home);
    const server = await startGuardServer({ model: 'Qwen/Qwen3Guard-Gen-8B', env: { HF_HOME: home, HF_HUB_OFFLINE: '1' } });
    await server.ready;
    await server.close();
  });
});
