/**
 * A fleet of real SSH hosts on this machine for the fleet tests: Debian's sshd started on
 * 127.0.0.1 ports, each with its own sshd_config, a host key, an authorized key, and a test
 * ssh config for the client (UserKnownHostsFile in the temp folder, StrictHostKeyChecking on).
 *
 * Each "GPU host" differs for real: sshd's ForceCommand runs every command through a wrapper
 * that puts the host's own bin folder (its own nvidia-smi) first on PATH, and, in a private
 * mount namespace (`unshare -m`), mounts a tmpfs over /srv and binds the host's own model
 * folder at /srv/models. So every host has its model at the same path, /srv/models, while
 * this machine has none there (and no nvidia-smi): a doctor that probes locally fails.
 *
 * Also: a host whose sshd refuses the client's key, and a port where nothing listens.
 * Needs root (sshd, unshare, mount); the tests run as root here and in CI.
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './cli.js';
import { freePort } from './free-port.js';

export const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => existsSync(p)) ?? null;
/** Why the fleet tests cannot run here, or null. */
export function fleetUnavailable(): string | null {
  if (!SSHD) return 'sshd is not installed (apt-get install openssh-server)';
  if (process.getuid?.() !== 0) return 'the fleet tests start sshd and mount namespaces, which needs root';
  return null;
}

export const FAKE_SMI = path.join(ROOT, 'test', 'helpers', 'bin', 'nvidia-smi');
export const SMI_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi');
/** Where every test host has its model folder (and this machine has nothing). */
export const HOST_MODELS = '/srv/models';

export interface HostSpec {
  /** The ssh config alias. */
  alias: string;
  /** test/fixtures/nvidia-smi/<name>, replayed by the host's nvidia-smi; null: no nvidia-smi there. */
  smi: string | null;
  /** Seconds the host's nvidia-smi sleeps before answering (the bench's slow hosts). */
  smiDelayS?: number;
  /** No ForceCommand: the host is this machine itself (for the probe tests that compare both ways). */
  plain?: boolean;
  /** test/fixtures/runtime/<file> that the host's `docker info` prints (other docker commands go to the real docker). */
  dockerInfo?: string;
  /** Variables in the host's login environment (e.g. HF_HOME), as a user sets them in its profile. */
  env?: Record<string, string>;
}

export interface TestHost {
  alias: string;
  port: number;
  /** The folder that the host sees as /srv/models (write its model folders here). */
  modelsDir: string;
  dir: string;
}

export interface Fleet {
  dir: string;
  /** The ssh config to hand the doctor (GUARD_DOCTOR_SSH_CONFIG). */
  sshConfig: string;
  hosts: Record<string, TestHost>;
  /** An alias whose sshd refuses the key. */
  refusing: string;
  /** An alias of a port where nothing listens. */
  dead: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function waitForPort(port: number, limitMs: number): Promise<void> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${limitMs} ms`);
}

function d0(file: string): boolean {
  return file.startsWith('/') && existsSync(file);
}

function shq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export async function startFleet(specs: HostSpec[]): Promise<Fleet> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-fleet-'));
  await mkdir('/run/sshd', { recursive: true });
  const keygen = (file: string, type = 'ed25519') => execa('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'guard-doctor-test', '-f', file]);
  await Promise.all([keygen(path.join(dir, 'client_key')), keygen(path.join(dir, 'other_key')), keygen(path.join(dir, 'host_key'))]);
  const clientPub = await readFile(path.join(dir, 'client_key.pub'), 'utf8');
  const otherPub = await readFile(path.join(dir, 'other_key.pub'), 'utf8');
  const hostPub = (await readFile(path.join(dir, 'host_key.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  await writeFile(path.join(dir, 'authorized_keys'), clientPub);
  await writeFile(path.join(dir, 'other_authorized_keys'), otherPub);
  const nodeDir = path.dirname(process.execPath);

  const children: Array<ReturnType<typeof execa>> = [];
  const knownHosts: string[] = [];
  const config: string[] = [];
  const hosts: Record<string, TestHost> = {};

  const startSshd = async (name: string, port: number, extra: string[]) => {
    const sshdConfig = path.join(dir, `${name}.sshd_config`);
    await writeFile(
      sshdConfig,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(dir, 'host_key')}`,
        `PidFile ${path.join(dir, `${name}.pid`)}`,
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'AllowTcpForwarding yes',
        'MaxSessions 10',
        'MaxStartups 100',
        'LogLevel ERROR',
        ...extra,
        '',
      ].join('\n'),
    );
    // The test hosts log in with clean shells: bash runs ~/.bashrc for every ssh command, and this
    // machine's own (pyenv init on the CI machine) costs seconds a command under load. In a private
    // mount namespace the rc files read as empty for sshd's sessions alone; nothing on the machine changes.
    const child = execa(
      'unshare',
      ['-m', '--propagation', 'private', '/bin/sh', '-c', 'for f in "$HOME/.bashrc" "$HOME/.bash_profile" "$HOME/.bash_login" "$HOME/.profile"; do [ -f "$f" ] && mount --bind /dev/null "$f"; done; exec "$0" "$@"', SSHD!, '-D', '-e', '-f', sshdConfig],
      { reject: false, stdio: 'ignore' },
    );
    children.push(child);
    await waitForPort(port, 10_000);
    knownHosts.push(`[127.0.0.1]:${port} ${hostPub}`);
  };

  const hostEntry = (alias: string, port: number, key = 'client_key') => [
    `Host ${alias}`,
    '  HostName 127.0.0.1',
    `  Port ${port}`,
    '  User root',
    `  IdentityFile ${path.join(dir, key)}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${path.join(dir, 'known_hosts')}`,
    '  StrictHostKeyChecking yes',
    '',
  ];

  for (const spec of specs) {
    const hostDir = path.join(dir, spec.alias);
    const bin = path.join(hostDir, 'bin');
    const modelsDir = path.join(hostDir, 'models');
    await mkdir(bin, { recursive: true });
    await mkdir(modelsDir, { recursive: true });
    await mkdir(path.join(hostDir, 'state'), { recursive: true });
    if (spec.smi) {
      const fakeEnv = `FAKE_NVIDIA_SMI=${shq(path.join(SMI_FIXTURES, spec.smi))} FAKE_NVIDIA_SMI_STATE=${shq(path.join(hostDir, 'state'))}`;
      const fake = `${shq(process.execPath)} ${shq(FAKE_SMI)} "$@"`;
      // A slow host's nvidia-smi answers after smiDelayS in all: the fake's own start-up (a
      // Node process, a good part of a second on a busy machine) runs inside that time, not after it.
      // The probe's own GPU query is answered from a recording made here first: a real nvidia-smi
      // is a small C program that spends its second waiting on NVML, not a Node process burning a
      // core of this 2-core machine while three hosts and the doctor share it.
      const recorded = spec.smiDelayS ? await recordProbeQuery(fakeEnvVars(path.join(SMI_FIXTURES, spec.smi), path.join(hostDir, 'state')), path.join(hostDir, 'state', 'probe-query.out')) : null;
      const slow = (seconds: number) => [
        ...(recorded ? [`if [ "$*" = ${shq(recorded.args)} ]; then sleep ${seconds}; exec cat ${shq(recorded.file)}; fi`] : []),
        `t=${shq(path.join(hostDir, 'state'))}/smi.$$`,
        `${fakeEnv} ${fake} >"$t.o" 2>"$t.e" & p=$!`,
        `sleep ${seconds}`,
        'wait "$p"; c=$?',
        'cat "$t.o"; cat "$t.e" >&2; rm -f "$t.o" "$t.e"; exit "$c"',
      ];
      await writeFile(path.join(bin, 'nvidia-smi'), ['#!/bin/sh', ...(spec.smiDelayS ? slow(spec.smiDelayS) : [`${fakeEnv} exec ${fake}`]), ''].join('\n'));
      await chmod(path.join(bin, 'nvidia-smi'), 0o755);
    }
    if (spec.dockerInfo) {
      const realDocker = (process.env.PATH ?? '').split(':').map((d) => path.join(d, 'docker')).find((p) => d0(p)) ?? '/usr/bin/docker';
      const fixture = path.join(ROOT, 'test', 'fixtures', 'runtime', spec.dockerInfo);
      await writeFile(
        path.join(bin, 'docker'),
        ['#!/bin/sh', `if [ "\${1:-}" = info ]; then exec cat ${shq(fixture)}; fi`, `exec ${shq(realDocker)} "$@"`, ''].join('\n'),
      );
      await chmod(path.join(bin, 'docker'), 0o755);
    }
    const wrapper = path.join(hostDir, 'login');
    await writeFile(
      wrapper,
      [
        '#!/bin/sh',
        '# This host: its own PATH (its nvidia-smi) and, in a private mount namespace, its own /srv/models.',
        `PATH=${shq(`${bin}:${SYSTEM_PATH}:${nodeDir}`)}; export PATH`,
        ...Object.entries(spec.env ?? {}).map(([key, value]) => `${key}=${shq(value)}; export ${key}`),
        `exec unshare -m --propagation private /bin/sh -c 'mount -t tmpfs -o size=1m guard-doctor-test /srv && mkdir /srv/models && mount --bind "$0" /srv/models && exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"' ${shq(modelsDir)}`,
        '',
      ].join('\n'),
    );
    await chmod(wrapper, 0o755);
    const port = await freePort();
    await startSshd(spec.alias, port, [`AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`, ...(spec.plain ? [] : [`ForceCommand ${wrapper}`])]);
    config.push(...hostEntry(spec.alias, port));
    hosts[spec.alias] = { alias: spec.alias, port, modelsDir, dir: hostDir };
  }

  const refusingPort = await freePort();
  await startSshd('refusing', refusingPort, [`AuthorizedKeysFile ${path.join(dir, 'other_authorized_keys')}`]);
  config.push(...hostEntry('gpu-refusing', refusingPort));
  const deadPort = await freePort();
  config.push(...hostEntry('gpu-dead', deadPort));

  await writeFile(path.join(dir, 'known_hosts'), knownHosts.join('\n') + '\n');
  const sshConfig = path.join(dir, 'ssh_config');
  await writeFile(sshConfig, config.join('\n'));
  await chmod(sshConfig, 0o600);
  await chmod(path.join(dir, 'client_key'), 0o600);

  return {
    dir,
    sshConfig,
    hosts,
    refusing: 'gpu-refusing',
    dead: 'gpu-dead',
    env: { GUARD_DOCTOR_SSH_CONFIG: sshConfig },
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children.map((c) => c.catch(() => undefined)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Run a command on a test host the way a user would, for setting up and checking state. */
export async function onHost(fleet: Fleet, alias: string, command: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa('ssh', ['-F', fleet.sshConfig, '-o', 'BatchMode=yes', alias, command], { reject: false, timeout: 20_000 });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

function fakeEnvVars(fixture: string, state: string): Record<string, string> {
  return { FAKE_NVIDIA_SMI: fixture, FAKE_NVIDIA_SMI_STATE: state };
}

/** Runs the fake nvidia-smi once with the GPU probe's first query and keeps its answer (for the slow hosts). */
async function recordProbeQuery(env: Record<string, string>, file: string): Promise<{ args: string; file: string } | null> {
  const { PROBE_FIELDS, queryGpuArgs } = await import('../../src/probes/nvidia.js');
  const args = queryGpuArgs(PROBE_FIELDS);
  if (args.some((a) => /\s/.test(a))) return null;
  const result = await execa(process.execPath, [FAKE_SMI, ...args], { env, reject: false, timeout: 30_000 });
  if (result.exitCode !== 0) return null;
  await writeFile(file, result.stdout + '\n');
  return { args: args.join(' '), file };
}
