/**
 * Podman's facts and what the doctor says about them, from real podman output captured on
 * the CI machine (test/fixtures/podman/SOURCES): `podman info` as root, rootless, and rootless
 * without subordinate ids; `nvidia-ctk cdi list`; and the errors podman prints when a sandbox
 * or a rootless set-up refuses it, diagnosed as `up` and `diagnose` diagnose them.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { judgeOne } from '../../src/judge.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { runProbe } from '../../src/probes/index.js';
import { parseNvidiaCtkCdiList, parsePodmanInfo, podmanWarnings } from '../../src/probes/runtime.js';
import { dockerDaemon } from '../../checks/docker-daemon.js';
import { dockerGpu } from '../../checks/docker-gpu.js';
import { diagnose } from '../../src/diagnose.js';
import { sameImageRef } from '../../src/launch/container.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { withEnv } from '../helpers/env.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'podman');
const FAKE_DOCKER_DIR = path.join(ROOT, 'test', 'helpers', 'fake-docker');
const fixture = (name: string) => path.join(FIXTURES, name);
const read = (name: string) => readFileSync(fixture(name), 'utf8');

const settingsFor = (flags: Record<string, unknown> = {}): Settings => resolveSettings('check', { runtime: 'podman', ...flags }, {}, ROOT);

/** The stand-in podman (test/helpers/fake-docker/podman) replaying a capture. */
const replaying = (stdout: string, stderr?: string, exit?: number) => ({
  PATH: `${FAKE_DOCKER_DIR}${path.delimiter}${process.env.PATH}`,
  FAKE_DOCKER_STDOUT: stdout,
  FAKE_DOCKER_STDERR: stderr,
  FAKE_DOCKER_EXIT: exit === undefined ? undefined : String(exit),
});

async function judge(check: typeof dockerDaemon | typeof dockerGpu, settings: Settings) {
  const runtime = await runProbe('runtime', settings);
  return judgeOne(check as never, { runtime }, settings);
}

describe('podman info, as podman 4.3 prints it', () => {
  it('root in a nested sandbox: rootful, cgroupfs, file events, CNI, overlay storage', () => {
    expect(parsePodmanInfo(read('podman-info-4.3.1-root-sandbox.json'))).toEqual({
      version: '4.3.1',
      ociRuntime: 'runc',
      host: {
        rootless: false,
        cgroupManager: 'cgroupfs',
        cgroupVersion: 'v1',
        eventLogger: 'file',
        networkBackend: 'cni',
        graphDriver: 'overlay',
        graphRoot: '/var/lib/containers/storage',
        uidMapSize: null,
        rootlessNetwork: null,
      },
    });
  });

  it('rootless with subordinate ids and slirp4netns: user storage, 65537 ids mapped', () => {
    expect(parsePodmanInfo(read('podman-info-4.3.1-rootless.json'))?.host).toMatchObject({
      rootless: true,
      graphDriver: 'vfs',
      graphRoot: '/home/gdrootless/.local/share/containers/storage',
      uidMapSize: 65537,
      rootlessNetwork: '/usr/bin/slirp4netns',
    });
  });

  it("keeps podman's own error lines from a run that still answered", () => {
    expect(podmanWarnings(read('podman-info-4.3.1-rootless-no-subuid.stderr'))).toBe(
      'cannot find UID/GID for user gdnosub: no subuid ranges found for user "gdnosub" in /etc/subuid - check rootless mode in man pages.',
    );
    expect(podmanWarnings('time="x" level=warning msg="only a warning"')).toBeNull();
  });
});

describe('docker.daemon and docker.gpu for podman', () => {
  it('rootful podman passes and says how it runs', async () => {
    const result = await withEnv(replaying(fixture('podman-info-4.3.1-root-sandbox.json')), () => judge(dockerDaemon, settingsFor()));
    expect(result).toMatchObject({ status: 'pass', summary: 'podman 4.3.1 answers (rootful, OCI runtime runc, storage overlay in /var/lib/containers/storage)' });
  });

  it('rootless podman with subuids and a network helper passes, naming the user storage', async () => {
    const result = await withEnv(replaying(fixture('podman-info-4.3.1-rootless.json')), () => judge(dockerDaemon, settingsFor()));
    expect(result).toMatchObject({ status: 'pass', summary: 'podman 4.3.1 answers (rootless, OCI runtime runc, storage vfs in /home/gdrootless/.local/share/containers/storage)' });
  });

  it('rootless podman without subordinate ids warns with podman\'s own words and the usermod fix', async () => {
    const env = replaying(fixture('podman-info-4.3.1-rootless-no-subuid.json'), fixture('podman-info-4.3.1-rootless-no-subuid.stderr'));
    const result = await withEnv(env, () => judge(dockerDaemon, settingsFor()));
    expect(result.status).toBe('warn');
    expect(result.summary).toContain('maps only your own uid: no subordinate uid ranges (podman: cannot find UID/GID for user gdnosub: no subuid ranges found for user "gdnosub"');
    expect(result.fix).toBe('give the user subordinate ids: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER", then podman system migrate');
  });

  it('rootless podman without slirp4netns or pasta warns that it cannot publish the port', async () => {
    const doc = JSON.parse(read('podman-info-4.3.1-rootless.json'));
    doc.host.slirp4netns = { executable: '', package: '', version: '' };
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const dir = await mkdtemp(path.join((await import('node:os')).tmpdir(), 'gd-pinfo-'));
    await writeFile(path.join(dir, 'info.json'), JSON.stringify(doc));
    const result = await withEnv(replaying(path.join(dir, 'info.json')), () => judge(dockerDaemon, settingsFor()));
    expect(result.status).toBe('warn');
    expect(result.summary).toContain('has no user-mode network helper, so it cannot publish the server\'s port');
    expect(result.fix).toContain('apt-get install -y slirp4netns');
  });

  it('podman info failing outright fails docker.daemon with its message', async () => {
    const env = replaying(fixture('podman-run-rootless-tun.stderr'), fixture('podman-run-rootless-tun.stderr'), 125);
    const result = await withEnv(env, () => judge(dockerDaemon, settingsFor()));
    expect(result.status).toBe('fail');
    expect(result.summary).toMatch(/^podman is installed but `podman info` failed: Error: \/usr\/bin\/slirp4netns failed/);
  });

  it('podman info failing on its storage: the fix names the storage.conf setting', async () => {
    const env = replaying(fixture('podman-info-overlay-unsupported.stderr'), fixture('podman-info-overlay-unsupported.stderr'), 125);
    const result = await withEnv(env, () => judge(dockerDaemon, settingsFor()));
    expect(result.status).toBe('fail');
    expect(result.summary).toMatch(/^podman is installed but `podman info` failed: .*kernel does not support overlay fs: 'overlay' is not supported over nfs/);
    expect(result.fix).toContain('driver = "vfs" in the [storage] table of storage.conf');
    expect(result.measured).toMatchObject({ finding: 'podman-storage-driver' });
  });

  it('reads the device names nvidia-ctk cdi list prints', () => {
    expect(parseNvidiaCtkCdiList(read('nvidia-ctk-cdi-list.stdout'))).toEqual(['nvidia.com/gpu=0', 'nvidia.com/gpu=GPU-3eb87630-93d5-b2b6-b8ff-9b359caf4ee2', 'nvidia.com/gpu=all']);
    expect(parseNvidiaCtkCdiList(read('nvidia-ctk-cdi-list.stderr'))).toEqual([]);
  });
});

describe('what podman prints when a machine refuses it, as diagnosed', () => {
  const findingOf = (file: string) => diagnose([{ name: 'podman run', text: read(file) }]);

  it('a refused resource limit names the limit, the setting and the shell command that shows the ceiling', () => {
    const [finding] = findingOf('podman-run-rlimit-runc.stderr');
    expect(finding).toMatchObject({ id: 'podman-rlimit' });
    expect(finding!.cause).toContain('may not set RLIMIT_NOFILE (rlimit type 7) for the container');
    expect(finding!.fix).toContain('default_ulimits = ["nofile=N:N"]');
    expect(finding!.fix).toContain('ulimit -Hn');
    // crun names the limit itself (podman issue #19634).
    const crun = diagnose([{ name: 'podman start', text: "Error: OCI runtime error: crun: setrlimit `RLIMIT_NPROC`: Operation not permitted: OCI permission denied\n" }]);
    expect(crun[0]!.fix).toContain('default_ulimits = ["nproc=N:N"]');
    expect(crun[0]!.fix).toContain('ulimit -Hu');
  });

  it('rootless networking without /dev/net/tun access', () => {
    const [finding] = findingOf('podman-run-rootless-tun.stderr');
    expect(finding).toMatchObject({ id: 'podman-rootless-network' });
    expect(finding!.fix).toContain('chmod 0666 /dev/net/tun');
  });

  it('rootless --ipc=host without /dev/mqueue', () => {
    const [finding] = findingOf('podman-run-rootless-mqueue.stderr');
    expect(finding).toMatchObject({ id: 'podman-ipc-host-mqueue' });
    expect(finding!.fix).toContain('mount -t mqueue mqueue /dev/mqueue');
  });

  it('no NVIDIA CDI spec for --device nvidia.com/gpu=all', () => {
    const [finding] = findingOf('podman-run-cdi-unresolvable.stderr');
    expect(finding).toMatchObject({ id: 'container-toolkit-missing' });
    expect(finding!.fix).toContain('nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml');
  });

  it('a short image name without unqualified-search registries', () => {
    const [finding] = findingOf('podman-pull-short-name.stderr');
    expect(finding).toMatchObject({ id: 'podman-short-name' });
    expect(finding!.fix).toBe('give the image fully qualified, e.g. --image docker.io/guard-doctor-test/nope:x (or add unqualified-search-registries = ["docker.io"] to registries.conf)');
  });

  it('no subordinate ids', () => {
    const [finding] = findingOf('podman-info-4.3.1-rootless-no-subuid.stderr');
    expect(finding).toMatchObject({ id: 'podman-no-subuid' });
  });

  it('the systemd cgroup manager and the journald events logger where systemd does not run (podman issues #1534, #10987)', () => {
    const text = [
      'Error: container create failed: systemd cgroup flag passed, but systemd support for managing cgroups is not available',
      'Error: Cannot get exit code: failed to get journal cursor: failed to get cursor: cannot assign requested address',
    ].join('\n');
    const ids = diagnose([{ name: 'podman run', text }]);
    expect(ids.map((f) => f.id)).toEqual(['podman-cgroup-manager', 'podman-events-logger']);
    expect(ids[0]!.fix).toContain('cgroup_manager = "cgroupfs"');
    expect(ids[1]!.fix).toContain('events_logger = "file"');
  });

  it('the same through the built CLI: diagnose --log on a captured podman error', async () => {
    const result = await runCli(['diagnose', '--log', fixture('podman-run-rlimit-runc.stderr'), '--json']);
    expect(result.exitCode).toBe(1);
    expect(result.json.findings.map((f: { id: string }) => f.id)).toEqual(['podman-rlimit']);
  });
});

describe('image references as each runtime records them', () => {
  it('podman stores imported and pulled images fully qualified; docker keeps the name given', () => {
    expect(sameImageRef('localhost/guard-doctor-test/guard-server:dev-1', 'guard-doctor-test/guard-server:dev-1')).toBe(true);
    expect(sameImageRef('docker.io/vllm/vllm-openai:v0.11.0', 'vllm/vllm-openai:v0.11.0')).toBe(true);
    expect(sameImageRef('docker.io/library/ubuntu:latest', 'ubuntu')).toBe(true);
    expect(sameImageRef('registry.example.com:5000/qwen/web:1', 'registry.example.com:5000/qwen/web:1')).toBe(true);
    expect(sameImageRef('vllm/vllm-openai:v0.11.0', 'vllm/vllm-openai:v0.10.2')).toBe(false);
    expect(sameImageRef('quay.io/vllm/vllm-openai:v0.11.0', 'vllm/vllm-openai:v0.11.0')).toBe(false);
  });
});
