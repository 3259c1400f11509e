/**
 * `check`, `up`, `warm`, `down` and `diagnose --container` with `--runtime podman`, end to end
 * with the real podman of this machine and the stand-in guard server image imported into
 * podman's storage (`podman import`, no pulls). The doctor runs with podman's defaults; only
 * podman itself reads the tests' own containers.conf (CONTAINERS_CONF), which holds what this
 * machine's sandbox refuses (test/helpers/podman-sandbox.ts).
 *
 * Where podman differs from docker, the test says so: the image name it records
 * (`localhost/...`), its inspect output for a missing container (`[]`, exit 125), its logs
 * (stderr lines stay on stderr), CDI devices instead of --gpus, short image names, and the
 * errors of a sandboxed or rootless machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { ROOT, runCli, startUntilStderr } from '../helpers/cli.js';
import { podmanEnv, podmanImage, skipPodman } from '../helpers/podman.js';
import { removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';
// @ts-expect-error plain ESM build script without type declarations
import { IMAGE_CUDA_VERSION } from '../image/build.mjs';
import { freePort } from '../helpers/free-port.js';

const SECRET = 'hf_podmanSecretToken4242';
const names: string[] = [];
let modelDir: string;
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'podman');

function containerName(label: string): string {
  const name = `gd-pm-${process.pid}-${label}`;
  names.push(name);
  return name;
}

function podman(args: string[], timeout = 30_000) {
  return execa('podman', args, { reject: false, timeout, env: podmanEnv() });
}

async function podmanState(name: string): Promise<string | null> {
  const result = await podman(['container', 'inspect', '--format', '{{.State.Status}}', name], 15_000);
  return result.exitCode === 0 ? result.stdout.trim() : null;
}

// `podman info` gathers storage usage on every call: seconds on a busy shared test machine.
const PROBE_TIMEOUT = ['--probe-timeout', '60'];

function upArgs(name: string, port: number, ...more: string[]): string[] {
  return ['up', '--runtime', 'podman', ...PROBE_TIMEOUT, '--cpu', '--image', podmanImage()!, '--model', 'qwen3guard-gen-4b', '--model-dir', modelDir, '--port', String(port), '--name', name, ...more];
}

const cli = (args: string[], timeoutMs = 120_000, env: Record<string, string> = podmanEnv()) => runCli(args, { timeoutMs, env });

// podman is slower to start containers than dockerd, and the test machine is shared: generous limits.
describe.skipIf(skipPodman)('podman as the container runtime', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    // A folder name with a space, quotes and $(...): it must reach podman as one untouched path.
    const root = await tempDir('gd-podman-');
    modelDir = path.join(root, `models "a" $(touch x)`, 'Qwen3Guard-Gen-4B');
    await writeModelFolder(modelDir, { size: '4B', shards: 3 });
  });
  afterAll(async () => {
    for (const name of names) await podman(['rm', '-f', '-t', '0', name]);
    await removeTempDirs();
  });

  describe('check --runtime podman', () => {
    /** A stand-in nvidia-ctk that prints the recorded `nvidia-ctk cdi list` of a one-GPU host. */
    async function fakeNvidiaCtk(): Promise<string> {
      const dir = await tempDir('gd-ctk-');
      const script = `#!/bin/sh\n[ "$1 $2" = "cdi list" ] || exit 2\ncat '${path.join(FIXTURES, 'nvidia-ctk-cdi-list.stdout')}'\ncat '${path.join(FIXTURES, 'nvidia-ctk-cdi-list.stderr')}' >&2\n`;
      await writeFile(path.join(dir, 'nvidia-ctk'), script);
      await chmod(path.join(dir, 'nvidia-ctk'), 0o755);
      return dir;
    }

    it('podman info answers, the image environment comes from podman image inspect, and the GPU goes through the CDI devices nvidia-ctk lists', async () => {
      const ctk = await fakeNvidiaCtk();
      const port = await freePort();
      const result = await runCli(['check', '--runtime', 'podman', ...PROBE_TIMEOUT, '--image', podmanImage()!, '--model', 'Qwen3Guard-Gen-4B', '--port', String(port), '--json'], { pathPrepend: [ctk], env: podmanEnv() });
      const byId = Object.fromEntries(result.json.checks.map((c: { id: string }) => [c.id, c]));
      const version = (await podman(['version', '--format', '{{.Client.Version}}'])).stdout.trim();
      expect(byId['docker.daemon'].status).toBe('pass');
      expect(byId['docker.daemon'].summary).toMatch(new RegExp(`^podman ${version.replace(/\./g, '\\.')} answers \\((rootful|rootless), OCI runtime \\w+, storage \\w+ in /`));
      expect(byId['docker.gpu']).toMatchObject({
        status: 'pass',
        summary: 'NVIDIA CDI devices nvidia.com/gpu=0, nvidia.com/gpu=GPU-3eb87630-93d5-b2b6-b8ff-9b359caf4ee2, nvidia.com/gpu=all are available to Podman (from nvidia-ctk cdi list); the run uses --device nvidia.com/gpu=all',
      });
      // The test image carries CUDA_VERSION in its environment; podman image inspect is where it was read.
      expect(byId['gpu.driver'].measured).toMatchObject({ cuda: IMAGE_CUDA_VERSION, cudaSource: 'image' });

      const chosen = await runCli(['check', '--runtime', 'podman', ...PROBE_TIMEOUT, '--image', podmanImage()!, '--gpu', '0', '--port', String(port), '--json'], { pathPrepend: [ctk], env: podmanEnv() });
      expect(chosen.json.checks.find((c: { id: string }) => c.id === 'docker.gpu').summary).toContain('the run uses --device nvidia.com/gpu=0');
    });

    it('a GPU the CDI spec does not declare fails docker.gpu with the devices it does declare', async () => {
      const ctk = await fakeNvidiaCtk();
      const result = await runCli(['check', '--runtime', 'podman', ...PROBE_TIMEOUT, '--image', podmanImage()!, '--gpu', '1', '--port', String(await freePort()), '--json'], { pathPrepend: [ctk], env: podmanEnv() });
      const gpu = result.json.checks.find((c: { id: string }) => c.id === 'docker.gpu');
      expect(gpu.status).toBe('fail');
      expect(gpu.summary).toContain('declares nvidia.com/gpu=0, nvidia.com/gpu=GPU-3eb87630-93d5-b2b6-b8ff-9b359caf4ee2, nvidia.com/gpu=all but not nvidia.com/gpu=1, which the run asks for (--gpu 1)');
      expect(gpu.fix).toContain('nvidia-ctk cdi generate');
      expect(result.exitCode).toBe(1);
    });
  });

  describe('up --dry-run', () => {
    it('prints the podman command with the CDI device, and the default image fully qualified (podman does not guess registries)', async () => {
      const dry = await cli(['up', '--runtime', 'podman', '--dry-run', '--model-dir', modelDir, '--model', 'Qwen3Guard-Gen-4B', '--gpu', '0', '--env', `HF_TOKEN=${SECRET}`]);
      expect(dry.exitCode).toBe(0);
      expect(dry.stdout).toContain('podman run -d --name guard-doctor-qwen3guard-gen-4b');
      expect(dry.stdout).toContain('--device nvidia.com/gpu=0');
      expect(dry.stdout).not.toContain('--gpus');
      expect(dry.stdout).toContain('docker.io/vllm/vllm-openai:v0.11.0');
      expect(dry.stdout).not.toContain(SECRET);
      const all = await cli(['up', '--runtime', 'podman', '--dry-run', '--json']);
      expect(all.json.launch.command).toContain('--device nvidia.com/gpu=all');
    });
  });

  // One at a time: podman serialises on its storage lock, and the test machine is shared.
  describe('launch, wait, warm, stop', () => {
    it('up reaches warm and runs the suite; a second up reuses the container podman recorded as localhost/...; down removes it', async () => {
      const name = containerName('happy');
      const port = await freePort();
      const result = await cli([...upArgs(name, port, '--env', `HF_TOKEN=${SECRET}`), '--json']);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.json).toMatchObject({ command: 'up', ok: true, launch: { container: name, image: podmanImage(), url: `http://127.0.0.1:${port}` } });
      expect(result.json.launch.warmP50Ms).toEqual(expect.any(Number));
      expect(result.json.cases.length).toBeGreaterThan(10);
      expect(result.json.cases.every((c: { status: string }) => c.status === 'pass' || c.status === 'skip')).toBe(true);
      expect(await podmanState(name)).toBe('running');
      const inspected = JSON.parse((await podman(['container', 'inspect', name])).stdout)[0];
      // Podman records the image fully qualified, not as it was given.
      expect(inspected.Config.Image).toBe(`localhost/${podmanImage()}`);
      expect(inspected.Config.Env).toContain(`HF_TOKEN=${SECRET}`);
      expect(inspected.HostConfig.PortBindings['8000/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(port) }]);

      const again = await cli(upArgs(name, port, '--no-suite'));
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toContain(`${name} already runs ${podmanImage()} with the same mount and port; reusing it`);
      // The follow-up commands it prints reach podman, not docker.
      expect(again.stdout).toContain(`stop it: guard-doctor down --runtime podman --name ${name}`);

      const warm = await runCli(['warm', '--url', `http://127.0.0.1:${port}`, '--json']);
      expect(warm.exitCode).toBe(0);
      expect(warm.json.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`)).toEqual(['server.ready:pass', 'server.warm:pass']);

      const down = await cli(['down', '--runtime', 'podman', '--name', name, '--json']);
      expect(down.exitCode).toBe(0);
      expect(down.json).toMatchObject({ command: 'down', ok: true, removed: true, wasRunning: true, message: `Stopped and removed ${name}.` });
      expect(await podmanState(name)).toBeNull();
      // podman inspect of a missing container prints [] and exits 125: still "no such container".
      const gone = await cli(['down', '--runtime', 'podman', '--name', name]);
      expect(gone.exitCode).toBe(1);
      expect(gone.stderr).toContain(`no container named ${name}; nothing was stopped`);
      expect(gone.stderr).toContain('podman ps -a --filter label=guard-doctor.managed=true');
    }, 180_000);

    it('a container that dies while up waits: exit 4, the log tail read through podman logs, the cuda-oom diagnosis; diagnose --container reads the same', async () => {
      const name = containerName('oom');
      const port = await freePort();
      const crashLog = [
        '(EngineCore_DP0 pid=198) ERROR 11-21 09:14:31 [core.py:708] Traceback (most recent call last):',
        `(EngineCore_DP0 pid=198) ERROR 11-21 09:14:31 [core.py:708] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB. (token ${SECRET})`,
      ].join('\\n');
      const result = await cli(upArgs(name, port, '--no-suite', '--ready-timeout', '300', '--env', `HF_TOKEN=${SECRET}`, '--env', 'GUARD_LOAD_MS=600000', '--env', 'GUARD_CRASH_AFTER_MS=1500', '--env', `GUARD_CRASH_LOG=${crashLog}`));
      expect(result.exitCode, result.stdout + result.stderr).toBe(4);
      expect(result.stdout).toMatch(/server\.ready +the container exited with code 1 after/);
      expect(result.stdout).toContain('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB. (token ***)');
      expect(result.stdout).toContain('cuda-oom: the GPU ran out of memory');
      expect(result.stdout).toContain(`The container ${name} is left for inspection: guard-doctor diagnose --runtime podman --container ${name}`);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
      expect(await podmanState(name)).toBe('exited');

      const diagnosed = await cli(['diagnose', '--runtime', 'podman', '--container', name, '--json']);
      expect(diagnosed.exitCode).toBe(1);
      expect(diagnosed.json.containerState).toMatchObject({ status: 'exited', exitCode: 1 });
      expect(diagnosed.json.findings.map((f: { id: string }) => f.id)).toContain('cuda-oom');
      // The stand-in prints its start-up lines on stdout and the crash on stderr: both streams arrive.
      expect(diagnosed.json.sources.find((s: { name: string }) => s.name === `container ${name}`).lines).toBeGreaterThan(1);
      const missing = await cli(['diagnose', '--runtime', 'podman', '--container', `${name}-nope`]);
      expect(missing.exitCode).toBe(2);
      expect(missing.stderr).toContain(`no container named ${name}-nope. List them with \`podman ps -a\``);
    });

    it('an existing container of the same name blocks up; --replace removes it first', async () => {
      const name = containerName('replace');
      const port = await freePort();
      await podman(['create', '--name', name, '--label', 'guard-doctor.managed=true', '--entrypoint', '/usr/local/bin/node', podmanImage()!, '-e', '0']);
      const blocked = await cli(upArgs(name, port, '--no-suite'), 60_000);
      expect(blocked.exitCode).toBe(1);
      expect(blocked.stdout).toContain(`a container named ${name} already exists and cannot be reused: it does not mount ${modelDir}`);
      expect(await podmanState(name)).toBe('created');
      const replaced = await cli(upArgs(name, port, '--no-suite', '--replace'));
      expect(replaced.exitCode, replaced.stdout + replaced.stderr).toBe(0);
      expect(replaced.stdout).toContain('--replace removes it before the launch');
      expect(await podmanState(name)).toBe('running');
    });

    it('SIGINT while waiting removes the container this run started and exits 130', async () => {
      const name = containerName('sigint');
      const port = await freePort();
      const { child } = await startUntilStderr(upArgs(name, port, '--no-suite', '--env', 'GUARD_LOAD_MS=600000'), 'Waiting for the server', podmanEnv());
      expect(await podmanState(name)).toBe('running');
      child.kill('SIGINT');
      const result = await child;
      expect(result.exitCode).toBe(130);
      expect(result.stderr).toContain(`interrupted; removed the container ${name} this run started`);
      expect(await podmanState(name)).toBeNull();
    });

    it('podman refused a resource limit (a sandbox): exit 4 naming the limit and the containers.conf setting that lifts it', async () => {
      const name = containerName('rlimit');
      // A limit above the kernel's nr_open cannot be set by anyone: the same refusal podman's
      // default (nofile 1048576) meets inside a sandbox with lower hard limits.
      const nrOpen = Number((await readFile('/proc/sys/fs/nr_open', 'utf8')).trim());
      const dir = await tempDir('gd-rlimit-');
      const conf = path.join(dir, 'containers.conf');
      await writeFile(conf, `[containers]\ndefault_ulimits = ["nofile=${nrOpen + 1}:${nrOpen + 1}"]\n`);
      const result = await cli([...upArgs(name, await freePort(), '--no-suite'), '--json'], 60_000, { ...podmanEnv(), CONTAINERS_CONF: conf });
      expect(result.exitCode).toBe(4);
      expect(result.json.problem).toMatch(/^podman run failed \(exit code 126\)/);
      const finding = result.json.findings.find((f: { id: string }) => f.id === 'podman-rlimit');
      expect(finding.cause).toContain('RLIMIT_NOFILE (rlimit type 7)');
      expect(finding.fix).toContain('default_ulimits = ["nofile=N:N"]');
      expect(finding.fix).toContain('ulimit -Hn');
      expect(finding.lines[0].text).toContain('error setting rlimit type 7: operation not permitted');
    });

    it.skipIf(['/etc/cdi', '/var/run/cdi'].some((d) => existsSync(d)))('without an NVIDIA CDI spec, a forced GPU launch fails in podman run with the CDI diagnosis (exit 4)', async () => {
      const name = containerName('cdi');
      const args = upArgs(name, await freePort(), '--no-suite', '--force', '--json').filter((a) => a !== '--cpu');
      const result = await cli(args, 60_000);
      expect(result.exitCode).toBe(4);
      expect(result.json.checks.find((c: { id: string }) => c.id === 'docker.gpu').status).toBe('fail');
      expect(result.json.problem).toMatch(/^podman run failed \(exit code \d+\)$/);
      expect(result.json.logTail.join('\n')).toContain('unresolvable CDI devices nvidia.com/gpu=all');
      expect(result.json.findings.map((f: { id: string }) => f.id)).toContain('container-toolkit-missing');
    });

    it('a short image name podman cannot resolve: exit 4 with the fully qualified name to use, and nothing pulled', async () => {
      const name = containerName('short');
      const result = await cli([...upArgs(name, await freePort(), '--no-suite').map((a) => (a === podmanImage() ? 'guard-doctor-test/not-here:v1' : a)), '--json'], 60_000);
      expect(result.exitCode).toBe(4);
      expect(result.json.problem).toBe('podman pull guard-doctor-test/not-here:v1 failed');
      const finding = result.json.findings.find((f: { id: string }) => f.id === 'podman-short-name');
      expect(finding.fix).toContain('--image docker.io/guard-doctor-test/not-here:v1');
      expect(await podmanState(name)).toBeNull();
    });
  });
});
