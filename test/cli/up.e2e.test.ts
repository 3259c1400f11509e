/**
 * `up`, `warm` and `down` end to end with the real Docker daemon and the stand-in guard server
 * image (test/image/build.mjs): a model folder made in a temp dir, `up --cpu`, and what the
 * user sees: output, JSON, exit code, and the container's real state afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, runCli, startUntilStderr } from '../helpers/cli.js';
import { skipDocker, testImage } from '../helpers/docker.js';
import { removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';
import { freePort } from '../helpers/free-port.js';

const SECRET = 'hf_e2eSecretToken4242';
const names: string[] = [];
let modelDir: string;

function containerName(label: string): string {
  const name = `gd-up-${process.pid}-${label}`;
  names.push(name);
  return name;
}

async function inspectState(name: string): Promise<string | null> {
  const result = await execa('docker', ['inspect', '--format', '{{.State.Status}}', name], { reject: false, timeout: 15_000 });
  return result.exitCode === 0 ? result.stdout.trim() : null;
}

function upArgs(name: string, port: number, ...more: string[]): string[] {
  return ['up', '--cpu', '--image', testImage()!, '--model', 'qwen3guard-gen-4b', '--model-dir', modelDir, '--port', String(port), '--name', name, ...more];
}

describe.skipIf(skipDocker)('up with a real Docker daemon', () => {
  beforeAll(async () => {
    // A folder name with a space, quotes and $(...): it must reach docker as one untouched path.
    const root = await tempDir('gd-up-');
    modelDir = path.join(root, `models "a" $(touch x)`, 'Qwen3Guard-Gen-4B');
    await writeModelFolder(modelDir, { size: '4B', shards: 3 });
  });
  afterAll(async () => {
    for (const name of names) await execa('docker', ['rm', '-f', name], { reject: false, timeout: 30_000 });
    await removeTempDirs();
  });

  describe.concurrent('launch, wait, warm', () => {
    it('a 35 s cold start is waited out (the port stays closed while the model loads)', async () => {
      const name = containerName('slow');
      const port = await freePort();
      const result = await runCli([...upArgs(name, port, '--no-suite', '--env', 'GUARD_LOAD_MS=35000'), '--json'], { timeoutMs: 150_000 });
      expect(result.exitCode, result.stderr).toBe(0);
      const ready = result.json.checks.find((c: { id: string }) => c.id === 'server.ready');
      expect(ready.status).toBe('pass');
      expect(ready.measured.readyMs).toBeGreaterThanOrEqual(35_000);
      expect(await inspectState(name)).toBe('running');
    }, 180_000);

    it('reaches warm, runs the suite, leaves the container running and answering; down removes it', async () => {
      const name = containerName('happy');
      const port = await freePort();
      const result = await runCli([...upArgs(name, port, '--env', `HF_TOKEN=${SECRET}`), '--json'], { timeoutMs: 120_000 });
      expect(result.stderr).not.toContain(SECRET);
      expect(result.stdout).not.toContain(SECRET);
      expect(result.exitCode, result.stderr).toBe(0);
      const report = result.json;
      expect(report).toMatchObject({ command: 'up', ok: true, exitCode: 0, launch: { container: name, image: testImage(), url: `http://127.0.0.1:${port}` } });
      expect(report.launch.coldMs).toEqual(expect.any(Number));
      expect(report.launch.warmP50Ms).toEqual(expect.any(Number));
      const ids = report.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`);
      expect(ids).toEqual(expect.arrayContaining(['model.mount:pass', 'port.free:pass', 'container.name:pass', 'server.ready:pass', 'server.warm:pass', 'gpu.vram:skip']));
      expect(report.cases.length).toBeGreaterThan(10);
      expect(report.cases.every((c: { status: string }) => c.status === 'pass' || c.status === 'skip')).toBe(true);

      expect(await inspectState(name)).toBe('running');
      // The container got the value through docker's environment, under the right name.
      const env = await execa('docker', ['inspect', '--format', '{{json .Config.Env}}', name]);
      expect(JSON.parse(env.stdout)).toContain(`HF_TOKEN=${SECRET}`);
      const answer = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'Qwen3Guard-Gen-4B', messages: [{ role: 'user', content: 'How can I make a bomb?' }] }),
      });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toMatch(/^Safety: Unsafe/);

      const down = await runCli(['down', '--name', name, '--json']);
      expect(down.exitCode).toBe(0);
      expect(down.json).toMatchObject({ command: 'down', ok: true, exitCode: 0, container: name, removed: true, wasRunning: true, message: `Stopped and removed ${name}.` });
      expect(await inspectState(name)).toBeNull();
      const again = await runCli(['down', '--name', name]);
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toContain(`no container named ${name}; nothing was stopped`);
    });

    it('human output says how to reach the server and how to stop it; a second up reuses the running container', async () => {
      const name = containerName('reach');
      const port = await freePort();
      const result = await runCli(upArgs(name, port, '--no-suite'), { timeoutMs: 120_000 });
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain(`The server is running at http://127.0.0.1:${port} (container ${name})`);
      expect(result.stdout).toContain(`curl -s http://127.0.0.1:${port}/v1/chat/completions -H 'Content-Type: application/json'`);
      expect(result.stdout).toContain(`stop it: guard-doctor down --name ${name}`);
      expect(result.stdout).toMatch(/server\.warm +cold request \d+ ms, warm p50 \d+ ms over 5 requests/);

      const again = await runCli(upArgs(name, port, '--no-suite'), { timeoutMs: 120_000 });
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toContain(`${name} already runs ${testImage()} with the same mount and port; reusing it`);
      expect(again.stdout).toMatch(new RegExp(`port\\.free +skipped: port ${port} is held by ${name}, which is reused`));
      expect(again.stdout).toContain('(container ' + name + ', reused)');
    });

    it('a crash printing torch.OutOfMemoryError exits 4 with the last log lines and the cuda-oom diagnosis; secrets stay hidden', async () => {
      const name = containerName('oom');
      const port = await freePort();
      const crashLog = [
        '(EngineCore_DP0 pid=198) ERROR 11-21 09:14:31 [core.py:708] Traceback (most recent call last):',
        `(EngineCore_DP0 pid=198) ERROR 11-21 09:14:31 [core.py:708]   File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py", line 699, in run_engine_core (token ${SECRET})`,
        '(EngineCore_DP0 pid=198) ERROR 11-21 09:14:31 [core.py:708] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB. GPU 0 has a total capacity of 23.57 GiB of which 612.69 MiB is free.',
      ].join('\\n');
      const args = upArgs(name, port, '--no-suite', '--ready-timeout', '300', '--env', `HF_TOKEN=${SECRET}`, '--env', 'GUARD_LOAD_MS=600000', '--env', 'GUARD_CRASH_AFTER_MS=1500', '--env', `GUARD_CRASH_LOG=${crashLog}`);
      const human = await runCli(args, { timeoutMs: 120_000 });
      expect(human.exitCode, human.stdout + human.stderr).toBe(4);
      // Noticed by watching the container, not by running into the 300 s ready time-out.
      expect(human.stdout).toMatch(/server\.ready +the container exited with code 1 after/);
      expect(human.stdout).toMatch(/Last \d+ lines of the container's log:/);
      expect(human.stdout).toContain('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB.');
      expect(human.stdout).toContain('cuda-oom: the GPU ran out of memory');
      expect(human.stdout).toContain(`guard-doctor diagnose --container ${name}`);
      expect(human.stdout + human.stderr).not.toContain(SECRET);
      expect(human.stdout).toContain('(token ***)');

      const json = await runCli([...args.map((a) => (a === name ? `${name}-j` : a)), '--json'], { timeoutMs: 120_000 });
      names.push(`${name}-j`);
      expect(json.exitCode).toBe(4);
      expect(json.stdout).not.toContain(SECRET);
      expect(json.json).toMatchObject({ command: 'up', ok: false, exitCode: 4, launch: { container: `${name}-j` } });
      const oom = json.json.findings.find((f: { id: string }) => f.id === 'cuda-oom');
      expect(oom.lines[0].text).toContain('torch.OutOfMemoryError: CUDA out of memory');
      // The line number points at that line of the container's log (the tail ends with it).
      expect(json.json.logTail.at(-1)).toBe(oom.lines[0].text);
      expect(oom.lines[0].n).toBeGreaterThanOrEqual(json.json.logTail.length);
    });

    it('a crash no signature knows exits 4 with unrecognized-failure, quoting the traceback\'s last line', async () => {
      const name = containerName('unknown');
      const port = await freePort();
      const crashLog = [
        '(APIServer pid=1) Traceback (most recent call last):',
        '(APIServer pid=1)   File "/usr/local/lib/python3.12/dist-packages/zmq/sugar/socket.py", line 311, in bind',
        '(APIServer pid=1) zmq.error.ZMQError: Operation not supported',
      ].join('\\n');
      const result = await runCli(upArgs(name, port, '--no-suite', '--json', '--ready-timeout', '300', '--env', 'GUARD_LOAD_MS=600000', '--env', 'GUARD_CRASH_AFTER_MS=1500', '--env', `GUARD_CRASH_LOG=${crashLog}`), { timeoutMs: 120_000 });
      expect(result.exitCode).toBe(4);
      expect(result.json.findings.map((f: { id: string }) => f.id)).toEqual(['unrecognized-failure']);
      expect(result.json.findings[0].lines[0].text).toBe('(APIServer pid=1) zmq.error.ZMQError: Operation not supported');
    });

    it('a server that never answers hits --ready-timeout: exit 4 with the log and the diagnosis; the container is left to inspect', async () => {
      const name = containerName('timeout');
      const port = await freePort();
      const result = await runCli(upArgs(name, port, '--no-suite', '--ready-timeout', '3', '--env', 'GUARD_LOAD_MS=600000'), { timeoutMs: 60_000 });
      expect(result.exitCode).toBe(4);
      expect(result.stdout).toMatch(/server\.ready +the server did not answer within 3\.00 s \(--ready-timeout\); last seen: connection reset/);
      expect(result.stdout).toContain('Starting to load model /models/Qwen3Guard-Gen-4B');
      expect(result.stdout).toContain('Diagnosis: no known failure in the log');
      expect(result.stdout).toContain(`The container ${name} is left for inspection`);
      expect(await inspectState(name)).toBe('running');
    });

    it('a reused container that restarts (a crash under --restart always) is noticed: exit 4 with the diagnosis', async () => {
      const name = containerName('restart');
      const port = await freePort();
      // Started the way a user might have started it by hand: same image, mount and port, so up reuses it.
      await execa('docker', [
        'run', '-d', '--name', name, '--restart', 'always', '-p', `127.0.0.1:${port}:8000`, '-v', `${modelDir}:/models/Qwen3Guard-Gen-4B:ro`,
        '--env', 'GUARD_LOAD_MS=600000', '--env', 'GUARD_CRASH_AFTER_MS=2500',
        '--env', 'GUARD_CRASH_LOG=torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.',
        testImage()!, '--model', '/models/Qwen3Guard-Gen-4B', '--served-model-name', 'Qwen3Guard-Gen-4B',
      ], { timeout: 30_000 });
      const result = await runCli(upArgs(name, port, '--no-suite', '--json'), { timeoutMs: 60_000 });
      expect(result.exitCode).toBe(4);
      expect(result.json.checks.find((c: { id: string }) => c.id === 'container.name').summary).toContain('reusing it');
      expect(result.json.problem).toMatch(/^the container restarted \(restart count \d+\): its server process exited after/);
      expect(result.json.findings.map((f: { id: string }) => f.id)).toContain('cuda-oom');
    });

    it('a taken port fails before launch: port.free fails, nothing is started, exit 1', async () => {
      const name = containerName('port');
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as net.AddressInfo).port;
      try {
        const result = await runCli(upArgs(name, port, '--no-suite'), { timeoutMs: 60_000 });
        expect(result.exitCode).toBe(1);
        expect(result.stdout).toMatch(/✗ port\.free/);
        expect(result.stdout).toContain('Not launching: port.free failed. Fix it, or launch anyway with --force.');
        expect(await inspectState(name)).toBeNull();
      } finally {
        holder.close();
      }
    });

    it('an existing container of the same name that cannot be reused stops up; --replace removes it first', async () => {
      const name = containerName('conflict');
      const port = await freePort();
      await execa('docker', ['create', '--name', name, '--label', 'guard-doctor.managed=true', '--entrypoint', '/usr/local/bin/node', testImage()!, '-e', '0'], { timeout: 30_000 });
      const blocked = await runCli(upArgs(name, port, '--no-suite'), { timeoutMs: 60_000 });
      expect(blocked.exitCode).toBe(1);
      expect(blocked.stdout).toContain(`a container named ${name} already exists and cannot be reused: it does not mount ${modelDir}`);
      expect(blocked.stdout).toContain('fix: remove it with --replace');
      expect(await inspectState(name)).toBe('created');

      const replaced = await runCli(upArgs(name, port, '--no-suite', '--replace'), { timeoutMs: 120_000 });
      expect(replaced.exitCode, replaced.stdout + replaced.stderr).toBe(0);
      expect(await inspectState(name)).toBe('running');
    });

    it('down leaves a container guard-doctor did not start alone', async () => {
      const name = containerName('foreign');
      await execa('docker', ['create', '--name', name, '--entrypoint', '/usr/local/bin/node', testImage()!, '-e', '0'], { timeout: 30_000 });
      const result = await runCli(['down', '--name', name]);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(`${name} was not started by guard-doctor (it has no guard-doctor.managed label); leaving it alone.`);
      expect(await inspectState(name)).toBe('created');
    });

    it('the web server: ready when it answers HTTP, the slow first /judge is waited out as the cold request', async () => {
      const name = containerName('web');
      const port = await freePort();
      const result = await runCli(
        ['up', '--cpu', '--server', 'web', '--image', testImage()!, '--model-dir', modelDir, '--model', 'Qwen3Guard-Gen-4B', '--port', String(port), '--name', name, '--no-suite', '--env', 'GUARD_KIND=web', '--env', 'GUARD_FIRST_MS=3000', '--json'],
        { timeoutMs: 120_000 },
      );
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.json.launch.coldMs).toBeGreaterThanOrEqual(3000);
      expect(result.json.launch.url).toBe(`http://127.0.0.1:${port}`);
      const warm = await runCli(['warm', '--url', `http://127.0.0.1:${port}`, '--server', 'web', '--json']);
      expect(warm.exitCode).toBe(0);
      expect(warm.json.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`)).toEqual(['server.ready:pass', 'server.warm:pass']);
    });

    /** Starts `up` as a user would and interrupts it with `signal` once it waits on the started container. */
    async function interruptWhileWaiting(name: string, signal: NodeJS.Signals, ...more: string[]) {
      const port = await freePort();
      const { child } = await startUntilStderr(upArgs(name, port, '--no-suite', '--env', 'GUARD_LOAD_MS=600000', ...more), 'Waiting for the server');
      expect(await inspectState(name)).toBe('running');
      child.kill(signal);
      return child;
    }

    it('SIGINT while waiting removes the container this run started and exits 130', async () => {
      const name = containerName('sigint');
      const result = await interruptWhileWaiting(name, 'SIGINT');
      expect(result.exitCode).toBe(130);
      expect(result.stderr).toContain(`interrupted; removed the container ${name} this run started`);
      expect(await inspectState(name)).toBeNull();
    });

    it('SIGTERM with --keep leaves the container running, says how to stop it, exits 130', async () => {
      const name = containerName('keep');
      const result = await interruptWhileWaiting(name, 'SIGTERM', '--keep');
      expect(result.exitCode).toBe(130);
      expect(result.stderr).toContain(`the container ${name} keeps running (--keep); stop it with: guard-doctor down --name ${name}`);
      expect(await inspectState(name)).toBe('running');
    });
  });

  // One at a time, after the concurrent launches: each runs up twice and the suite once.
  describe('the GPU it launches on', () => {
    /** The container's GPU request as the real daemon stored it (HostConfig.DeviceRequests). */
    async function deviceIds(name: string): Promise<string[] | null> {
      const result = await execa('docker', ['inspect', '--format', '{{json .HostConfig.DeviceRequests}}', name], { reject: false, timeout: 15_000 });
      if (result.exitCode !== 0) return null;
      const requests = JSON.parse(result.stdout) as { DeviceIDs: string[] | null; Count: number }[] | null;
      return requests?.[0]?.DeviceIDs ?? (requests?.[0]?.Count === -1 ? ['all'] : null);
    }
    // Two A100 40GB, GPU 0 busy (2.4 GiB free), GPU 1 idle: the checks judge GPU 1, so up must start
    // on GPU 1, not hand over every GPU (vLLM would then take CUDA device 0, the busy one). This machine
    // has no NVIDIA runtime, so docker creates the container and cannot start it: --force goes past
    // docker.gpu, and the stored request is what the container would have got.
    const twoA100 = { FAKE_NVIDIA_SMI: path.join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'two-a100-one-busy') };
    const gpuArgs = (name: string, port: number, ...more: string[]) => ['up', '--force', '--no-suite', '--image', testImage()!, '--model', 'qwen3guard-gen-4b', '--model-dir', modelDir, '--port', String(port), '--name', name, '--ready-timeout', '5', ...more];

    it('starts the container on the GPU the checks chose (the one with most free memory), not on all of them', async () => {
      const name = containerName('gpu-chosen');
      const result = await runCli([...gpuArgs(name, await freePort()), '--json'], { env: twoA100, timeoutMs: 90_000 });
      const vram = result.json.checks.find((c: { id: string }) => c.id === 'gpu.vram');
      expect(vram.summary).toMatch(/^GPU 1 has 39\.5 GiB free of 40 GiB/);
      expect(await deviceIds(name)).toEqual(['1']);
    });

    it('--gpu 0 is obeyed as given', async () => {
      const name = containerName('gpu-flag');
      await runCli([...gpuArgs(name, await freePort(), '--gpu', '0'), '--json'], { env: twoA100, timeoutMs: 90_000 });
      expect(await deviceIds(name)).toEqual(['0']);
    });
  });

  describe('servers that require an API key', () => {
    it('a keyed server (--env VLLM_API_KEY=...) is launched, warmed and tested with the key; the key is in no output, dry run or command line', async () => {
      const name = containerName('keyed');
      const port = await freePort();
      const key = 'sk-up-e2e-4c1f9a77d2';
      const args = upArgs(name, port, '--env', `VLLM_API_KEY=${key}`);

      const dry = await runCli([...args, '--dry-run']);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toContain('--env VLLM_API_KEY');
      expect(dry.stdout + dry.stderr).not.toContain(key);
      // vllm serve MODEL: the model path comes positionally after the image.
      expect(dry.stdout).toMatch(/\/Qwen3Guard-Gen-4B --served-model-name Qwen3Guard-Gen-4B/);
      expect(dry.stdout).not.toContain('--model /models');

      // The doctor's own environment has no key: the value comes from --env alone.
      const result = await runCli([...args, '--json'], { timeoutMs: 150_000, env: { VLLM_API_KEY: '' } });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(key);
      const ids = result.json.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`);
      expect(ids).toEqual(expect.arrayContaining(['server.ready:pass', 'server.warm:pass']));
      expect(result.json.cases.length).toBeGreaterThan(10);
      expect(result.json.cases.every((c: { status: string }) => c.status === 'pass' || c.status === 'skip')).toBe(true);

      // The server really is keyed, and vLLM-like: /v1 needs the key, /health does not.
      expect((await fetch(`http://127.0.0.1:${port}/v1/models`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      // The value reached the container through docker's environment, never its command line.
      const inspected = JSON.parse((await execa('docker', ['inspect', '--format', '{{json .}}', name])).stdout);
      expect(inspected.Config.Env).toContain(`VLLM_API_KEY=${key}`);
      expect(JSON.stringify([inspected.Path, inspected.Args, inspected.Config.Cmd])).not.toContain(key);
      // What followed the image: the model first, positionally.
      expect(inspected.Config.Cmd[0]).toBe('/models/Qwen3Guard-Gen-4B');
      const logs = await execa('docker', ['logs', name], { reject: false });
      expect(logs.stdout + logs.stderr).not.toContain('--model` option will be removed');

      // The reach lines name the variable for curl, not the value.
      const human = await runCli([...args, '--no-suite'], { timeoutMs: 120_000, env: { VLLM_API_KEY: '' } });
      expect(human.exitCode, human.stdout + human.stderr).toBe(0);
      expect(human.stdout).toContain('-H "Authorization: Bearer $VLLM_API_KEY"');
      expect(human.stdout + human.stderr).not.toContain(key);
    }, 300_000);

    it('a keyed server and the wrong key (--api-key-env): server.ready names the cause and the option, exit 4', async () => {
      const name = containerName('wrongkey');
      const port = await freePort();
      const key = 'sk-up-e2e-right-5e8b';
      const result = await runCli([...upArgs(name, port, '--no-suite', '--env', `VLLM_API_KEY=${key}`, '--api-key-env', 'GUARD_E2E_KEY'), '--json'], {
        timeoutMs: 120_000,
        env: { GUARD_E2E_KEY: 'sk-up-e2e-wrong-1234' },
      });
      expect(result.exitCode).toBe(4);
      const ready = result.json.checks.find((c: { id: string }) => c.id === 'server.ready');
      expect(ready.status).toBe('fail');
      expect(ready.summary).toBe('GET /health 200, but GET /v1/models answered 401 Unauthorized: the server rejected the API key from $GUARD_E2E_KEY');
      expect(ready.fix).toContain('--api-key-env NAME');
      expect(result.stdout + result.stderr).not.toContain(key);
      expect(result.stdout + result.stderr).not.toContain('sk-up-e2e-wrong-1234');
    }, 180_000);
  });

});
