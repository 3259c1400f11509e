/**
 * The container runtime probe and its checks (docker.daemon, docker.gpu): against the real
 * Docker daemon of this machine and the test image, against recorded `docker info` /
 * `podman info` output replayed by a stand-in CLI for the states a test machine cannot be
 * put in, and through the built program as a user runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { judgeOne } from '../../src/judge.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { findModel } from '../../src/data/models.js';
import { runProbe } from '../../src/probes/index.js';
import {
  dockerCdiDirs,
  nvidiaDevicesInCdiSpec,
  parseDockerInfo,
  parseImageEnv,
  parsePodmanInfo,
  probeImage,
  probeRuntime,
} from '../../src/probes/runtime.js';
import { dockerDaemon } from '../../checks/docker-daemon.js';
import { dockerGpu } from '../../checks/docker-gpu.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { skipDocker, testImage } from '../helpers/docker.js';
// @ts-expect-error plain ESM build script without type declarations
import { IMAGE_CUDA_VERSION, IMAGE_TORCH_CUDA_ARCH_LIST } from '../image/build.mjs';
import { freePort } from '../helpers/free-port.js';
import { withEnv } from '../helpers/env.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'runtime');
const FAKE_DOCKER_DIR = path.join(ROOT, 'test', 'helpers', 'fake-docker');
const fixture = (name: string) => path.join(FIXTURES, name);
const read = (name: string) => readFileSync(fixture(name), 'utf8');

function settingsFor(flags: Record<string, unknown> = {}): Settings {
  return resolveSettings('check', flags, {}, ROOT);
}

/** Judge one check from the facts the probes gather for these settings, as `check` does. */
async function judgeWithProbes(check: typeof dockerDaemon | typeof dockerGpu, settings: Settings) {
  const runtime = await runProbe('runtime', settings);
  return judgeOne(check as never, { runtime }, settings);
}

/** Runs fn with env vars set (PATH edits included) and puts them back after. */

const replaying = (stdout: string | null, options: { stderr?: string; exit?: number } = {}) => ({
  PATH: `${FAKE_DOCKER_DIR}${path.delimiter}${process.env.PATH}`,
  FAKE_DOCKER_STDOUT: stdout ?? undefined,
  FAKE_DOCKER_STDERR: options.stderr,
  FAKE_DOCKER_EXIT: options.exit === undefined ? undefined : String(options.exit),
  FAKE_DOCKER_SLEEP: undefined,
  FAKE_DOCKER_CLIENT_VERSION: undefined,
});

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gd-runtime-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** This machine has the NVIDIA Container Toolkit (then docker.gpu legitimately passes). */
function hostHasNvidiaToolkit(): boolean {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin'];
  if (dirs.some((d) => d && existsSync(path.join(d, 'nvidia-container-runtime-hook')))) return true;
  return ['/etc/cdi', '/var/run/cdi'].some((d) => existsSync(d));
}

describe('parsers of recorded runtime output', () => {
  it('reads a Docker 20.10 daemon without a GPU runtime', () => {
    const info = parseDockerInfo(read('docker-info-20.10-no-gpu.json'));
    expect(info).toEqual({
      daemonVersion: '20.10.24+dfsg1',
      cliVersion: '28.2.2',
      runtimes: ['io.containerd.runc.v2', 'io.containerd.runtime.v1.linux', 'runc'],
      defaultRuntime: 'runc',
      cdiSpecDirs: null,
    });
    expect(dockerCdiDirs(info!)).toBeNull();
  });

  it('reads the nvidia runtime key and Docker 28 CDI folders', () => {
    expect(parseDockerInfo(read('docker-info-20.10-nvidia-runtime.json'))?.runtimes).toContain('nvidia');
    const docker28 = parseDockerInfo(read('docker-info-28-cdi.json'))!;
    expect(docker28.daemonVersion).toBe('28.3.2');
    expect(dockerCdiDirs(docker28)).toEqual(['/etc/cdi', '/var/run/cdi']);
    // Docker 28+ reads the default folders even when docker info lists none.
    expect(dockerCdiDirs({ ...docker28, cdiSpecDirs: null })).toEqual(['/etc/cdi', '/var/run/cdi']);
  });

  it('sees no server in the document the CLI prints when the daemon is down', () => {
    const info = parseDockerInfo(read('docker-info-daemon-down.stdout'));
    expect(info?.daemonVersion).toBeNull();
    expect(info?.cliVersion).toBe('28.2.2');
    expect(info?.runtimes).toEqual([]);
  });

  it('reads podman info', () => {
    expect(parsePodmanInfo(read('podman-info-4.3.json'))).toMatchObject({ version: '4.3.1', ociRuntime: 'crun', host: { rootless: true, graphDriver: 'overlay' } });
    expect(parsePodmanInfo('Error: cannot set up namespace')).toBeNull();
  });

  it('finds the NVIDIA devices in CDI specs as nvidia-ctk writes them, by hand, and as JSON', () => {
    expect(nvidiaDevicesInCdiSpec(read('cdi-nvidia-ctk.yaml'))).toEqual([
      'nvidia.com/gpu=0',
      'nvidia.com/gpu=1',
      'nvidia.com/gpu=GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c',
      'nvidia.com/gpu=GPU-7a4bd667-88bd-7172-28ba-fd8f4bf55a3f',
      'nvidia.com/gpu=all',
    ]);
    expect(nvidiaDevicesInCdiSpec(read('cdi-nvidia-hand.yaml'))).toEqual(['nvidia.com/gpu=0', 'nvidia.com/gpu=all']);
    expect(nvidiaDevicesInCdiSpec(read('cdi-nvidia.json'))).toEqual(['nvidia.com/gpu=0', 'nvidia.com/gpu=all']);
    expect(nvidiaDevicesInCdiSpec(read('cdi-amd.yaml'))).toEqual([]);
  });

  it('reads CUDA_VERSION, TORCH_CUDA_ARCH_LIST and the start gate (NVIDIA_REQUIRE_*, NVIDIA_DISABLE_REQUIRE) from an image environment', () => {
    const none = { requireCuda: null, otherRequires: {}, disableRequire: null };
    expect(parseImageEnv('["PATH=/usr/bin","CUDA_VERSION=12.8.1","TORCH_CUDA_ARCH_LIST=7.5 8.0 8.6 8.9 9.0 10.0 12.0"]\n')).toEqual({
      cudaVersion: '12.8.1',
      torchCudaArchList: ['7.5', '8.0', '8.6', '8.9', '9.0', '10.0', '12.0'],
      ...none,
    });
    expect(parseImageEnv('["TORCH_CUDA_ARCH_LIST=8.0;8.6+PTX"]')).toEqual({ cudaVersion: null, torchCudaArchList: ['8.0', '8.6+PTX'], ...none });
    expect(parseImageEnv('null\n')).toEqual({ cudaVersion: null, torchCudaArchList: null, ...none });
    expect(
      parseImageEnv(
        '["NVIDIA_REQUIRE_CUDA=cuda>=12.8 brand=tesla,driver>=550,driver<551","NVIDIA_REQUIRE_ARCH=arch>=7.5","NVIDIA_REQUIRE_JETPACK=csv-mounts=all","NVIDIA_DISABLE_REQUIRE=true","CUDA_VERSION=12.8.1"]',
      ),
    ).toEqual({
      cudaVersion: '12.8.1',
      torchCudaArchList: null,
      requireCuda: 'cuda>=12.8 brand=tesla,driver>=550,driver<551',
      otherRequires: { NVIDIA_REQUIRE_ARCH: 'arch>=7.5' },
      disableRequire: 'true',
    });
  });

  it('never throw on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        parseDockerInfo(text);
        parsePodmanInfo(text);
        nvidiaDevicesInCdiSpec(text);
        nvidiaDevicesInCdiSpec(`kind: nvidia.com/gpu\ndevices:\n${text}`);
        parseImageEnv(text);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('docker.daemon and docker.gpu from replayed CLI output', () => {
  it('passes docker.gpu when the nvidia runtime is registered', async () => {
    const result = await withEnv(replaying(fixture('docker-info-20.10-nvidia-runtime.json')), () => judgeWithProbes(dockerGpu, settingsFor()));
    expect(result.status).toBe('pass');
    expect(result.summary).toContain('nvidia runtime is registered');
  });

  it('passes docker.gpu through CDI on Docker 28 with an nvidia-ctk spec in the daemon\'s folder', async () => {
    const cdiDir = tempDir();
    copyFileSync(fixture('cdi-nvidia-ctk.yaml'), path.join(cdiDir, 'nvidia.yaml'));
    const info = JSON.parse(read('docker-info-28-cdi.json')) as Record<string, unknown>;
    info.CDISpecDirs = [cdiDir];
    const infoFile = path.join(tempDir(), 'info.json');
    writeFileSync(infoFile, JSON.stringify(info));
    const result = await withEnv(replaying(infoFile), () => judgeWithProbes(dockerGpu, settingsFor()));
    expect(result.status).toBe('pass');
    expect(result.summary).toContain('nvidia.com/gpu=all');
    expect(result.measured?.cdiSpecDirs).toEqual([cdiDir]);
  });

  it('reads Debian\'s docker.io 20.10 CLI, which leaves the client version out of docker info', async () => {
    const env = { ...replaying(fixture('docker-info-20.10-debian-cli.json')), FAKE_DOCKER_CLIENT_VERSION: '20.10.24+dfsg1' };
    const result = await withEnv(env, () => judgeWithProbes(dockerDaemon, settingsFor()));
    expect(result).toMatchObject({ status: 'pass', summary: 'docker 20.10.24+dfsg1, daemon 20.10.24+dfsg1 answers' });
  });

  it('sees a down daemon behind the exit code 0 and ServerErrors document of the 20.10 CLI', async () => {
    const env = { ...replaying(fixture('docker-info-20.10-debian-cli-daemon-down.stdout'), { exit: 0 }), FAKE_DOCKER_CLIENT_VERSION: '20.10.24+dfsg1' };
    const result = await withEnv(env, () => judgeWithProbes(dockerDaemon, settingsFor()));
    expect(result.status).toBe('fail');
    expect(result.summary).toBe(
      'docker 20.10.24+dfsg1 is installed but the daemon does not answer: Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?',
    );
    expect(result.fix).toContain('start the daemon');
  });

  it.skipIf(hostHasNvidiaToolkit())('podman answering without an NVIDIA CDI spec: runtime passes, GPU fails with the CDI fix', async () => {
    const podman = settingsFor({ runtime: 'podman' });
    const env = replaying(fixture('podman-info-4.3.json'));
    const daemon = await withEnv(env, () => judgeWithProbes(dockerDaemon, podman));
    expect(daemon).toMatchObject({ status: 'pass', summary: 'podman 4.3.1 answers (rootless, OCI runtime crun, storage overlay in /home/alice/.local/share/containers/storage)' });
    const gpu = await withEnv(env, () => judgeWithProbes(dockerGpu, podman));
    expect(gpu.status).toBe('fail');
    expect(gpu.summary).toBe('Podman hands GPUs over only through CDI, and there is no NVIDIA CDI spec in /etc/cdi or /var/run/cdi (nvidia-ctk cdi list names none, or is not installed)');
    expect(gpu.fix).toContain('sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml');
    expect(gpu.fix).toContain('--device nvidia.com/gpu=all');
  });

  it('tells a user outside the docker group to join it', async () => {
    const env = replaying(fixture('docker-info-permission-denied.stdout'), { stderr: fixture('docker-info-permission-denied.stderr'), exit: 1 });
    const result = await withEnv(env, () => judgeWithProbes(dockerDaemon, settingsFor()));
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock');
    expect(result.fix).toContain('usermod -aG docker');
  });

  it('turns a hung docker into an error result within the probe time limit', async () => {
    const env = { ...replaying(null), FAKE_DOCKER_SLEEP: '30' };
    const result = await withEnv(env, () => judgeWithProbes(dockerDaemon, settingsFor({ probeTimeout: '1' })));
    expect(result.status).toBe('error');
    expect(result.summary).toContain('did not answer within 1 s');
  });

  it('fails clearly when podman (or docker) is not installed', async () => {
    const emptyPath = tempDir();
    const podman = settingsFor({ runtime: 'podman' });
    const daemon = await withEnv({ PATH: emptyPath }, () => judgeWithProbes(dockerDaemon, podman));
    expect(daemon).toMatchObject({ status: 'fail', summary: 'podman is not installed (not found on PATH)' });
    expect(daemon.fix).toContain('apt-get install -y podman');
    const gpu = await withEnv({ PATH: emptyPath }, () => judgeWithProbes(dockerGpu, podman));
    expect(gpu.status).toBe('fail');
    expect(gpu.summary).toContain('podman is not installed');

    const docker = await withEnv({ PATH: emptyPath }, () => judgeWithProbes(dockerDaemon, settingsFor()));
    expect(docker.summary).toBe('docker is not installed (not found on PATH)');
    expect(docker.fix).toContain('apt-get install -y docker.io');
  });
});

describe.skipIf(skipDocker)('against the real Docker daemon', () => {
  let serverVersion = '';
  const serverContainer = `gd-test-image-${process.pid}`;
  beforeAll(async () => {
    serverVersion = (await execa('docker', ['version', '--format', '{{.Server.Version}}'])).stdout.trim();
  });
  // Also when a test timed out before its own clean-up ran.
  afterAll(async () => {
    await execa('docker', ['rm', '-f', serverContainer], { reject: false, timeout: 60_000 });
  });

  it('docker.daemon passes and names the daemon version', async () => {
    const facts = await probeRuntime(settingsFor());
    expect(facts).toMatchObject({ runtime: 'docker', cliInstalled: true, daemonAnswering: true, daemonVersion: serverVersion, daemonMessage: null });
    const result = judgeOne(dockerDaemon as never, { runtime: { ok: true, value: facts, durationMs: 1 } }, settingsFor());
    expect(result.status).toBe('pass');
    expect(result.summary).toContain(`daemon ${serverVersion} answers`);
  });

  it('reads CUDA_VERSION and TORCH_CUDA_ARCH_LIST from the test image', async () => {
    const image = await probeImage(settingsFor({ image: testImage()! }));
    expect(image).toEqual({
      ref: testImage(),
      present: true,
      cudaVersion: IMAGE_CUDA_VERSION,
      torchCudaArchList: IMAGE_TORCH_CUDA_ARCH_LIST.split(' '),
      requireCuda: null,
      otherRequires: {},
      disableRequire: null,
    });
  });

  it('reports an image that is not local as not present, not as an error', async () => {
    const outcome = await runProbe('image', settingsFor({ image: 'guard-doctor-test/not-built-anywhere:never' }));
    expect(outcome).toMatchObject({ ok: true, value: { present: false, cudaVersion: null, torchCudaArchList: null } });
  });

  it('the test image hands the arguments after it to the stand-in server, as the vLLM image does', async () => {
    const missing = await execa('docker', ['run', '--rm', testImage()!, '--model', '/models/Not There', '--max-model-len', '4096'], { reject: false, timeout: 60_000 });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('/models/Not There');
    expect(missing.stderr).toContain('No such file or directory');

    const modelDir = tempDir();
    writeFileSync(path.join(modelDir, 'config.json'), '{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3"}');
    const port = await freePort();
    const name = serverContainer;
    await execa('docker', ['run', '-d', '--rm', '--name', name, '-p', `127.0.0.1:${port}:8000`, '-v', `${modelDir}:/models/Qwen3Guard-Gen-0.6B:ro`, testImage()!, '--model', '/models/Qwen3Guard-Gen-0.6B', '--served-model-name', 'Qwen3Guard-Gen-0.6B', '--max-model-len', '4096'], { timeout: 60_000 });
    try {
      let models: unknown = null;
      for (let attempt = 0; attempt < 100 && models === null; attempt++) {
        models = await fetch(`http://127.0.0.1:${port}/v1/models`, { signal: AbortSignal.timeout(2000) }).then((r) => (r.ok ? r.json() : null), () => null);
        if (models === null) await new Promise((r) => setTimeout(r, 200));
      }
      expect(models).toMatchObject({ object: 'list', data: [{ id: 'Qwen3Guard-Gen-0.6B' }] });
    } finally {
      await execa('docker', ['rm', '-f', name], { reject: false, timeout: 60_000 });
    }
  }, 180_000);

  it.skipIf(hostHasNvidiaToolkit())('docker.gpu fails on this machine without the NVIDIA Container Toolkit, with the install fix', async () => {
    const result = await judgeWithProbes(dockerGpu, settingsFor());
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('no nvidia runtime');
    expect(result.fix).toContain('nvidia-container-toolkit');
    expect(result.fix).toContain('nvidia-ctk runtime configure --runtime=docker');
    expect(result.fix).toContain('nvidia-ctk cdi generate');
  });

  it('with DOCKER_HOST naming no daemon, fails with the CLI\'s own words', async () => {
    const result = await withEnv({ DOCKER_HOST: 'unix:///nonexistent.sock' }, () => judgeWithProbes(dockerDaemon, settingsFor()));
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?');
    expect(result.fix).toContain('sudo systemctl start docker');
  });
});

describe.skipIf(skipDocker)('guard-doctor check (the built program) on this machine', () => {
  it('check --cpu --json: Docker passes, port and host memory judged, every GPU check skipped', async () => {
    const port = await freePort();
    const { exitCode, json, stderr } = await runCli(['check', '--cpu', '--json', '--model', 'Qwen3Guard-Gen-0.6B', '--port', String(port)]);
    expect(stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    const byId = Object.fromEntries((json.checks as Array<{ id: string }>).map((c) => [c.id, c])) as Record<string, any>;
    expect(byId['docker.daemon']).toMatchObject({ status: 'pass', measured: { runtime: 'docker', cliVersion: expect.any(String) } });
    expect(byId['docker.gpu']).toMatchObject({ status: 'skip', summary: expect.stringContaining('--cpu') });
    for (const id of ['gpu.driver', 'gpu.vram', 'gpu.compute-capability']) expect(byId[id]?.status, id).toBe('skip');
    expect(byId['port.free']).toMatchObject({ status: 'pass', summary: `127.0.0.1:${port} is free` });
    // 0.6B on CPU: the weights + 2 GiB for the server + 4 GiB of KV cache (about 7.4 GiB),
    // against this machine's /proc/meminfo (test machines have more than that free).
    const requiredMiB = Math.ceil((findModel('Qwen3Guard-Gen-0.6B')!.weightBytes + 6 * 1024 ** 3) / 1024 ** 2);
    const host = byId['host.memory'];
    expect(host.measured).toMatchObject({ requiredMiB, memTotalMiB: Math.floor(memInfoKiB('MemTotal') / 1024) });
    expect(host.measured.memAvailableMiB).toBeGreaterThan(requiredMiB);
    expect(host.status).toBe('pass');
    expect(host.summary).toMatch(/GiB of [\d.]+ GiB RAM available, serving needs about 7\.\d GiB; [\d.]+ GiB free disk at /);
    expect(json.exitCode).toBe(exitCode);
    expect(exitCode).toBe(json.checks.some((c: { status: string }) => c.status === 'fail') ? 1 : 0);
  });

  it.skipIf(hostHasNvidiaToolkit())('check --json without --cpu: docker.gpu fails here with the toolkit fix', async () => {
    const { exitCode, json } = await runCli(['check', '--json', '--port', String(await freePort())]);
    expect(exitCode).toBe(1);
    const gpu = (json.checks as Array<{ id: string; status: string; fix?: string }>).find((c) => c.id === 'docker.gpu')!;
    expect(gpu.status).toBe('fail');
    expect(gpu.fix).toContain('nvidia-ctk runtime configure --runtime=docker');
  });

  it('check with DOCKER_HOST naming no daemon: docker.daemon fails with the CLI message, exit 1', async () => {
    const { exitCode, json, stdout, stderr } = await runCli(['check', '--json', '--cpu', '--port', String(await freePort())], {
      env: { DOCKER_HOST: 'unix:///nonexistent.sock' },
    });
    expect(exitCode, stderr).toBe(1);
    const daemon = (json.checks as Array<{ id: string; status: string; summary: string; fix?: string }>).find((c) => c.id === 'docker.daemon')!;
    expect(daemon.status).toBe('fail');
    expect(daemon.summary).toContain('Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?');
    expect(daemon.fix).toContain('start the daemon');
    expect(stdout.trim().startsWith('{')).toBe(true);
  });

  it('human output names the daemon problem and its fix', async () => {
    const { exitCode, stdout, stderr } = await runCli(['check', '--cpu', '--port', String(await freePort())], {
      env: { DOCKER_HOST: 'unix:///nonexistent.sock' },
    });
    expect(exitCode).toBe(1);
    const text = stdout + stderr;
    expect(text).toContain('Cannot connect to the Docker daemon at unix:///nonexistent.sock');
    expect(text).toContain('sudo systemctl start docker');
  });

  it.skipIf(onPath('podman'))('check --runtime podman without podman installed fails docker.daemon clearly', async () => {
    const { exitCode, json } = await runCli(['check', '--json', '--cpu', '--runtime', 'podman', '--port', String(await freePort())]);
    expect(exitCode).toBe(1);
    const daemon = (json.checks as Array<{ id: string; status: string; summary: string; fix?: string }>).find((c) => c.id === 'docker.daemon')!;
    expect(daemon).toMatchObject({ status: 'fail', summary: 'podman is not installed (not found on PATH)' });
  });
});

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d !== '' && existsSync(path.join(d, program)));
}

function memInfoKiB(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(match?.[1]);
}

