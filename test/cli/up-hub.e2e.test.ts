/**
 * `up` with the model from the hub, end to end with the real Docker daemon and the stand-in
 * server image: the server is told `Qwen/<model>` and finds it in the user's cache, mounted
 * read-write; a model not cached yet is downloaded into that cache while `up` waits, and the
 * next launch finds it there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { skipDocker, testImage } from '../helpers/docker.js';
import { startHubServer, writeHfCache, type HubServer } from '../helpers/hub.js';
import { removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';
import { freePort } from '../helpers/free-port.js';

const SECRET = 'hf_e2eHubSecretToken9876';
const names: string[] = [];

function containerName(label: string): string {
  const name = `gd-uphub-${process.pid}-${label}`;
  names.push(name);
  return name;
}

async function inspect(name: string): Promise<{ Config: { Cmd: string[]; Env: string[] }; Mounts: { Source: string; Destination: string; RW: boolean }[] }> {
  const result = await execa('docker', ['inspect', name], { timeout: 15_000 });
  return JSON.parse(result.stdout)[0];
}

describe.skipIf(skipDocker)('up with a hub source and a real Docker daemon', () => {
  let hub: HubServer;
  beforeAll(async () => {
    hub = await startHubServer();
  });
  afterAll(async () => {
    for (const name of names) await execa('docker', ['rm', '-f', name], { reject: false, timeout: 30_000 });
    await hub.close();
    await removeTempDirs();
  });

  it('a complete cache: the server is given Qwen/<model>, finds the snapshot through the mounted cache, and the token stays secret', async () => {
    const home = await tempDir('gd-uphub-');
    await writeHfCache(home, { size: '4B' });
    const name = containerName('cached');
    const port = await freePort();
    const result = await runCli(['up', '--cpu', '--image', testImage()!, '--model', 'qwen3guard-gen-4b', '--port', String(port), '--name', name, '--no-suite', '--json'], {
      env: { HF_HOME: home, HF_HUB_OFFLINE: '1', HF_TOKEN: SECRET },
      timeoutMs: 120_000,
    });
    expect(result.stdout + result.stderr).not.toContain(SECRET);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    const checks = result.json.checks as { id: string; status: string; summary: string; measured?: Record<string, unknown> }[];
    expect(checks.find((c) => c.id === 'model.source')!.summary).toContain('Qwen/Qwen3Guard-Gen-4B is complete in the cache');
    const ready = checks.find((c) => c.id === 'server.ready')!;
    expect(ready.status).toBe('pass');
    expect(ready.measured).toMatchObject({ downloadMs: 0, downloadFrom: 'the cache (complete before the launch)' });
    expect(result.json.launch).toMatchObject({ downloadMs: 0 });

    const info = await inspect(name);
    expect(info.Config.Cmd.slice(0, 3)).toEqual(['Qwen/Qwen3Guard-Gen-4B', '--served-model-name', 'Qwen3Guard-Gen-4B']);
    expect(info.Mounts).toContainEqual(expect.objectContaining({ Source: home, Destination: '/root/.cache/huggingface', RW: true }));
    expect(info.Config.Env).toEqual(expect.arrayContaining([`HF_TOKEN=${SECRET}`, 'HF_HUB_OFFLINE=1']));
  }, 150_000);

  it('not cached: the server downloads into the mounted cache while up waits, server.ready counts the download apart, and the next launch reuses the cache', async () => {
    const home = await tempDir('gd-uphub-');
    await chmod(home, 0o755);
    // The stand-in "downloads" from a folder it can see inside the mount (it cannot reach a hub).
    const remote = path.join(home, '.guard-remote', 'Qwen3Guard-Gen-4B');
    await writeModelFolder(remote, { size: '4B', shards: 3 });
    const name = containerName('download');
    const port = await freePort();
    const args = ['up', '--cpu', '--image', testImage()!, '--model', 'Qwen3Guard-Gen-4B', '--port', String(port), '--name', name, '--no-suite', '--json'];
    const env = { HF_HOME: home, HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: undefined };
    const first = await runCli([...args, '--env', 'GUARD_HUB_DOWNLOAD_FROM=/root/.cache/huggingface/.guard-remote/Qwen3Guard-Gen-4B', '--env', 'GUARD_HUB_DOWNLOAD_MS=4000'], { env, timeoutMs: 150_000 });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    const firstChecks = first.json.checks as { id: string; status: string; summary: string; measured?: Record<string, unknown> }[];
    expect(firstChecks.find((c) => c.id === 'model.source')!.summary).toMatch(/^Qwen\/Qwen3Guard-Gen-4B is not in the cache .*; the server downloads about/);
    const ready = firstChecks.find((c) => c.id === 'server.ready')!;
    expect(ready.measured).toMatchObject({ downloadFrom: 'the server log' });
    expect(ready.measured!.downloadMs as number).toBeGreaterThanOrEqual(3_500);
    expect(ready.summary).toMatch(/; model download \d+\.\d+ s \(from the server log\), load \d+/);

    // The download stayed in the user's cache: the second launch loads it from there.
    expect((await runCli(['down', '--name', name])).exitCode).toBe(0);
    const again = await runCli(args, { env, timeoutMs: 150_000 });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    const source = (again.json.checks as { id: string; summary: string }[]).find((c) => c.id === 'model.source')!;
    expect(source.summary).toContain('Qwen/Qwen3Guard-Gen-4B is complete in the cache');
    const readyAgain = (again.json.checks as { id: string; measured: Record<string, number> }[]).find((c) => c.id === 'server.ready')!;
    expect(readyAgain.measured.downloadMs).toBeLessThan(1_000);
  }, 330_000);

  it('a download that fails inside the container (the hub answers this host, not the container): exit 4 with huggingface_hub\'s error in the log tail', async () => {
    const home = await tempDir('gd-uphub-');
    await chmod(home, 0o755);
    const name = containerName('nohub');
    const result = await runCli(['up', '--cpu', '--image', testImage()!, '--model', 'Qwen3Guard-Gen-4B', '--port', String(await freePort()), '--name', name, '--no-suite', '--json'], {
      env: { HF_HOME: home, HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: undefined },
      timeoutMs: 120_000,
    });
    expect(result.exitCode, result.stdout + result.stderr).toBe(4);
    expect(result.json.problem).toMatch(/^the container exited with code 1/);
    expect((result.json.logTail as string[]).join('\n')).toContain('huggingface_hub.errors.LocalEntryNotFoundError: An error happened while trying to locate the files on the Hub');
  }, 150_000);

  it('offline with nothing cached: check refuses before any launch, with the fix', async () => {
    const home = await tempDir('gd-uphub-');
    const name = containerName('offline');
    const result = await runCli(['up', '--cpu', '--image', testImage()!, '--port', String(await freePort()), '--name', name], { env: { HF_HOME: home, HF_HUB_OFFLINE: '1' }, timeoutMs: 60_000 });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('✗ model.source');
    expect(result.stdout).toMatch(/Not launching: (.*, )?model\.source(, .*)? failed/);
    const exists = await execa('docker', ['inspect', name], { reject: false, timeout: 15_000 });
    expect(exists.exitCode).not.toBe(0);
  });
});
