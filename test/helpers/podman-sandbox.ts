/**
 * The podman tests' own containers.conf. Podman's defaults are tried first; a setting goes
 * into the file only when this machine (a nested sandbox, a CI container) refuses the
 * default, and each is the setting podman's own error points at. Nothing is written to /etc
 * or to the user's ~/.config: the file is passed to podman as CONTAINERS_CONF by the tests (and
 * a storage.conf, when needed, as CONTAINERS_STORAGE_CONF).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

interface SandboxSettings {
  ulimits: string[];
  engine: Record<string, string>;
}

export interface SandboxResult {
  ok: boolean;
  /** The settings written, as "table.key = value" lines, for the log. */
  applied: string[];
  problem: string | null;
}

/** The hard limit of this process for a /proc/self/limits row ("Max open files"). */
async function hardLimit(row: string): Promise<number | null> {
  const text = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith(row));
  const hard = line?.slice(row.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? null : Number(hard);
}

function render(settings: SandboxSettings): string {
  const lines = ['# Written by guard-doctor\'s test set-up for this test run only.'];
  if (settings.ulimits.length) lines.push('[containers]', `default_ulimits = [${settings.ulimits.map((u) => JSON.stringify(u)).join(', ')}]`);
  const engine = Object.entries(settings.engine);
  if (engine.length) lines.push('[engine]', ...engine.map(([k, v]) => `${k} = ${JSON.stringify(v)}`));
  return `${lines.join('\n')}\n`;
}

/**
 * Podman's default storage, or, when this machine cannot hold it (overlay on overlayfs inside a
 * container, on NFS), a storage.conf of the tests' own with the vfs driver in a fresh folder
 * under `dir`. Returns the storage.conf path to pass as CONTAINERS_STORAGE_CONF, or null.
 */
export async function podmanSandboxStorage(dir: string, env: Record<string, string | undefined>, log: (line: string) => void = () => {}): Promise<string | null> {
  const info = await execa('podman', ['info', '--format', '{{.Store.GraphDriverName}}'], { env, reject: false, timeout: 120_000 });
  if (info.exitCode === 0) return null;
  const said = `${info.stderr}\n${info.stdout}`;
  if (!/is not supported over|kernel does not support overlay fs/.test(said)) return null;
  const storageConf = path.join(dir, 'storage.conf');
  const lines = ['# Written by guard-doctor\'s test set-up for this test run only.', '[storage]', 'driver = "vfs"', `runroot = ${JSON.stringify(path.join(dir, 'run'))}`, `graphroot = ${JSON.stringify(path.join(dir, 'storage'))}`];
  await writeFile(storageConf, `${lines.join('\n')}\n`);
  log(`this machine cannot hold podman's overlay storage; the tests use vfs storage in ${dir} (${said.trim().split('\n').pop()})`);
  return storageConf;
}

/** Runs a throw-away container with the image and adjusts `confPath` until podman accepts it. */
export async function podmanSandboxConf(image: string, confPath: string, log: (line: string) => void = () => {}, extraEnv: Record<string, string> = {}): Promise<SandboxResult> {
  const settings: SandboxSettings = { ulimits: [], engine: {} };
  const applied: string[] = [];
  await writeFile(confPath, render(settings));
  let problem: string | null = null;
  for (let attempt = 0; attempt < 4; attempt++) {
    const result = await execa('podman', ['run', '--rm', '--entrypoint', '/usr/local/bin/node', image, '-e', 'process.exit(0)'], {
      env: { ...extraEnv, CONTAINERS_CONF: confPath },
      reject: false,
      timeout: 60_000,
    });
    if (result.exitCode === 0) {
      if (applied.length) log(`this machine needs, for the tests only: ${applied.join('; ')}`);
      return { ok: true, applied, problem: null };
    }
    const said = `${result.stderr}\n${result.stdout}`;
    problem = said.trim().split('\n').slice(-2).join(' ') || `podman run exited with code ${result.exitCode}`;
    let changed = false;
    if (/error setting rlimit type \d+: operation not permitted|setrlimit `?RLIMIT_[A-Z]+`?: Operation not permitted/i.test(said) && settings.ulimits.length === 0) {
      // Podman asks for nofile 1048576 and nproc 4194304 as root; a sandbox's hard limits are lower.
      const nofile = Math.min((await hardLimit('Max open files')) ?? 4096, 4096);
      const nproc = Math.min((await hardLimit('Max processes')) ?? 4096, 4096);
      settings.ulimits = [`nofile=${nofile}:${nofile}`, `nproc=${nproc}:${nproc}`];
      applied.push(`containers.default_ulimits = ${settings.ulimits.join(', ')} (${problem})`);
      changed = true;
    }
    if (/systemd cgroup flag passed|cannot open sd-bus|systemd not supported/.test(said) && settings.engine.cgroup_manager === undefined) {
      settings.engine.cgroup_manager = 'cgroupfs';
      applied.push('engine.cgroup_manager = cgroupfs');
      changed = true;
    }
    if (/journal/i.test(said) && settings.engine.events_logger === undefined) {
      settings.engine.events_logger = 'file';
      applied.push('engine.events_logger = file');
      changed = true;
    }
    if (!changed) break;
    await writeFile(confPath, render(settings));
  }
  return { ok: false, applied, problem };
}
