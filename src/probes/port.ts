/**
 * Is the host port the server will be published on free? Tried for real: listen on it and
 * close again (what `docker run -p HOST:PORT:...` will need to do). When it is taken, find out
 * who holds it (a container publishing it, else the listening process) and a free neighbour.
 */
import { localHost, type Host, type ListenAttempt } from '../exec.js';
import type { PortInfo } from '../facts.js';
import type { Settings } from '../settings.js';

/** Listen on host:port of this machine and close again. */
export function tryListen(port: number, host: string): Promise<ListenAttempt> {
  return localHost.tryListen(port, host);
}

/** How many ports above the wanted one to try for an alternative. */
const ALTERNATIVE_SPAN = 20;

async function findAlternative(port: number, address: string, host: Host): Promise<number | null> {
  for (let candidate = port + 1; candidate <= Math.min(65535, port + ALTERNATIVE_SPAN); candidate++) {
    if ((await host.tryListen(candidate, address)).ok) return candidate;
  }
  return null;
}

/**
 * Containers whose published host ports include `port`, from `docker ps --format
 * '{{.Names}}\t{{.Ports}}'` lines such as `web\t127.0.0.1:8000->8000/tcp, :::8000->8000/tcp`
 * (ranges read `0.0.0.0:8000-8001->8000-8001/tcp`). Read here rather than with
 * `--filter publish=`, whose meaning (host or container port) differs between versions.
 */
export function containersPublishing(stdout: string, port: number): string[] {
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const [name, ports = ''] = line.split('\t');
    if (!name?.trim()) continue;
    const holds = [...ports.matchAll(/:(\d+)(?:-(\d+))?->/g)].some((m) => {
      const first = Number(m[1]);
      const last = m[2] === undefined ? first : Number(m[2]);
      return port >= first && port <= last;
    });
    if (holds) names.push(name.trim());
  }
  return names;
}

/** `users:(("node",pid=1234,fd=21))` in `ss -Hltnp` output -> "node (pid 1234)". */
export function parseSsHolder(stdout: string): string | null {
  const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(stdout);
  return match ? `${match[1]} (pid ${match[2]})` : null;
}

async function whoHolds(port: number, settings: Settings, host: Host): Promise<string | null> {
  const limit = { timeoutMs: Math.min(settings.probeTimeoutMs, 5000) };
  const [containers, sockets] = await Promise.all([
    host.run(settings.runtime, ['ps', '--format', '{{.Names}}\t{{.Ports}}'], limit),
    // Process names show only for our own processes unless run as root; best effort.
    host.run('ss', ['-Hltnp', 'sport', '=', `:${port}`], limit),
  ]);
  const names = containers.exitCode === 0 ? containersPublishing(containers.stdout, port) : [];
  if (names.length > 0) return `container ${names.join(', ')}`;
  return sockets.exitCode === 0 ? parseSsHolder(sockets.stdout) : null;
}

export async function probePort(settings: Settings, on: Host = localHost): Promise<PortInfo> {
  const { port, publishHost: host } = settings;
  const attempt = await on.tryListen(port, host);
  const base = { port, host, holder: null, alternative: null };
  if (attempt.ok) return { ...base, free: true, state: 'free', message: null };
  switch (attempt.code) {
    case 'EADDRINUSE': {
      const [holder, alternative] = await Promise.all([whoHolds(port, settings, on), findAlternative(port, host, on)]);
      return { ...base, free: false, state: 'in-use', holder, alternative, message: `${host}:${port} is already in use${on.remote ? ` on ${on.label}` : ''}` };
    }
    case 'EACCES':
      return {
        ...base,
        free: true,
        state: 'untested',
        message:
          port < 1024
            ? `could not try port ${port}: ports below 1024 need root (the Docker daemon binds as root, so it may still work)`
            : `could not try port ${port} on ${host}: permission denied`,
      };
    case 'EADDRNOTAVAIL':
      return { ...base, free: false, state: 'address-not-local', message: `${host} is not an address of this machine, so nothing can be published on it` };
    default:
      return { ...base, free: true, state: 'untested', message: `could not try ${host}:${port}: ${attempt.message}` };
  }
}
