/**
 * Rootless podman, the way many users run it: the doctor runs as an ordinary user (with
 * subordinate ids in /etc/subuid), podman keeps that user's images and containers in the
 * user's own storage (~/.local/share/containers), and the server is published on 127.0.0.1
 * through podman's user-mode networking.
 *
 * The user is GUARD_DOCTOR_ROOTLESS_USER (default gd-rootless; `.ci/run` creates it). The
 * tests run as root and start the built CLI as that user with `runuser`, with a clean
 * environment (HOME, PATH, USER), so podman finds the user's own configuration and storage.
 * Outside CI a machine without the user skips these tests; in CI (CI set) that is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { chmod, cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { execa } from 'execa';
import { FAKE_BIN, ROOT } from '../helpers/cli.js';
import { podmanEnv, podmanImage, skipPodman } from '../helpers/podman.js';
import { writeModelFolder } from '../helpers/model-folder.js';
import { freePort } from '../helpers/free-port.js';

const USER = process.env.GUARD_DOCTOR_ROOTLESS_USER ?? 'gd-rootless';

/** Why rootless podman cannot be tested here, or null when it can. */
async function rootlessProblem(): Promise<{ home: string } | string> {
  if (process.getuid?.() !== 0) return 'the tests do not run as root, so they cannot start a process as another user';
  const entry = await execa('getent', ['passwd', USER], { reject: false });
  if (entry.exitCode !== 0) return `there is no user ${USER} (create it: useradd --create-home ${USER})`;
  const subuid = await execa('grep', ['-q', `^${USER}:`, '/etc/subuid'], { reject: false });
  if (subuid.exitCode !== 0) return `${USER} has no range in /etc/subuid`;
  return { home: entry.stdout.split(':')[5] ?? `/home/${USER}` };
}

const setup = skipPodman ? 'podman tests are skipped' : await rootlessProblem();
const skip = typeof setup === 'string' && !process.env.CI;

describe.skipIf(skip)(`rootless podman (as ${USER})`, () => {
  let home = '';
  let work = '';
  let modelDir = '';
  const names: string[] = [];

  /** A command as the rootless user, with only the environment a login would give it. */
  function asUser(command: string, args: string[], timeout = 120_000) {
    const env = [`HOME=${home}`, `USER=${USER}`, `LOGNAME=${USER}`, 'NO_COLOR=1', `PATH=${FAKE_BIN}:${process.env.PATH}`];
    return execa('runuser', ['-u', USER, '--', 'env', '-i', ...env, command, ...args], { reject: false, timeout, cwd: work });
  }
  /** The built program, copied where the user can read it (the checkout may sit in root's home). */
  let bin = '';
  const doctor = (args: string[], timeout?: number) => asUser(process.execPath, [bin, ...args], timeout);

  /** The files `npm pack` ships (package.json "files"): bin, the bundle, the bundled suite. */
  async function copyProgram(to: string): Promise<string> {
    await cp(path.join(ROOT, 'bin'), path.join(to, 'bin'), { recursive: true });
    await cp(path.join(ROOT, 'dist', 'bundle'), path.join(to, 'dist', 'bundle'), { recursive: true });
    await mkdir(path.join(to, 'suites'), { recursive: true });
    for (const name of (await readdir(path.join(ROOT, 'suites'))).filter((n) => n.endsWith('.json'))) {
      await cp(path.join(ROOT, 'suites', name), path.join(to, 'suites', name));
    }
    await cp(path.join(ROOT, 'package.json'), path.join(to, 'package.json'));
    return path.join(to, 'bin', 'guard-doctor.js');
  }

  beforeAll(async () => {
    if (typeof setup === 'string') throw new Error(`CI is set, and rootless podman cannot be tested: ${setup}. .ci/run sets this machine up for it.`);
    home = setup.home;
    work = await mkdtemp(path.join(os.tmpdir(), 'gd-rootless-'));
    await chmod(work, 0o755);
    // The user's own storage: the image travels there as an archive (podman save, then load as the user).
    const archive = path.join(work, 'image.tar');
    const saved = await execa('podman', ['save', '-o', archive, podmanImage()!], { reject: false, timeout: 120_000, env: podmanEnv() });
    if (saved.exitCode !== 0) throw new Error(`podman save: ${saved.stderr}`);
    await chmod(archive, 0o644);
    const loaded = await asUser('podman', ['load', '-i', archive]);
    if (loaded.exitCode !== 0) throw new Error(`podman load as ${USER}: ${loaded.stderr}`);
    modelDir = path.join(work, 'models', 'Qwen3Guard-Gen-4B');
    await writeModelFolder(modelDir, { size: '4B', shards: 3 });
    bin = await copyProgram(path.join(work, 'app'));
    await execa('chmod', ['-R', 'a+rX', work]);
  }, 240_000);

  afterAll(async () => {
    if (!work) return;
    for (const name of names) await asUser('podman', ['rm', '-f', '-t', '0', name], 60_000);
    await rm(work, { recursive: true, force: true });
  });

  it('check sees a rootless podman with the user\'s own storage', async () => {
    const result = await doctor(['check', '--runtime', 'podman', '--probe-timeout', '60', '--cpu', '--image', podmanImage()!, '--model-dir', modelDir, '--model', 'Qwen3Guard-Gen-4B', '--port', String(await freePort()), '--json']);
    const report = JSON.parse(result.stdout);
    const daemon = report.checks.find((c: { id: string }) => c.id === 'docker.daemon');
    expect(daemon.status, daemon.summary).toBe('pass');
    expect(daemon.summary).toMatch(new RegExp(`answers \\(rootless, OCI runtime \\w+, storage \\w+ in ${home}/\\.local/share/containers/storage\\)`));
    expect(daemon.measured.podman).toMatchObject({ rootless: true, uidMapSize: 65537 });
    expect(result.exitCode).toBe(0);
  });

  it('up publishes the server on 127.0.0.1, warms it and runs the suite; the container lives in the user\'s storage; down removes it', async () => {
    const name = `gd-rl-${process.pid}`;
    names.push(name);
    const port = await freePort();
    const up = await doctor(['up', '--runtime', 'podman', '--probe-timeout', '60', '--cpu', '--image', podmanImage()!, '--model-dir', modelDir, '--model', 'Qwen3Guard-Gen-4B', '--port', String(port), '--name', name, '--json'], 240_000);
    expect(up.exitCode, up.stdout + up.stderr).toBe(0);
    const report = JSON.parse(up.stdout);
    expect(report.launch).toMatchObject({ container: name, url: `http://127.0.0.1:${port}` });
    expect(report.cases.every((c: { status: string }) => c.status === 'pass' || c.status === 'skip')).toBe(true);

    // Reachable from outside the user's namespaces, on loopback only.
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const inspected = await asUser('podman', ['container', 'inspect', '--format', '{{json .HostConfig.PortBindings}}', name]);
    expect(JSON.parse(inspected.stdout)['8000/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    // Root's podman does not see it: it is in the user's storage.
    const asRoot = await execa('podman', ['container', 'exists', name], { reject: false, env: podmanEnv() });
    expect(asRoot.exitCode).toBe(1);

    const down = await doctor(['down', '--runtime', 'podman', '--name', name]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout).toContain(`Stopped and removed ${name}.`);
  }, 300_000);
});
