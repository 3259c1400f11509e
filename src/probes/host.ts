/**
 * The host's memory, OS and free disk where the model lives. systeminformation's `mem()`
 * reads /proc/meminfo (about 2 ms); its `osInfo()` starts several programs (30 ms or more,
 * seconds on some hosts), so the OS name comes from /etc/os-release and the kernel instead.
 */
import path from 'node:path';
import { localHost, type Host } from '../exec.js';
import type { HostInfo } from '../facts.js';
import type { Settings } from '../settings.js';

/** `PRETTY_NAME` from an os-release file, or null. */
export function prettyName(osRelease: string): string | null {
  const match = /^PRETTY_NAME=(.*)$/m.exec(osRelease);
  if (!match?.[1]) return null;
  const value = match[1].trim().replace(/^(["'])(.*)\1$/, '$2');
  return value === '' ? null : value;
}

/** MemTotal and MemAvailable (kB) from /proc/meminfo, in bytes; null when absent. */
export function parseMeminfo(text: string): { total: number; available: number } | null {
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  const total = kib('MemTotal');
  // MemAvailable: what can be had without swapping (page cache counts as reclaimable); kernels before 3.14 lack it.
  const available = kib('MemAvailable') ?? (total === null ? null : (kib('MemFree') ?? 0) + (kib('Cached') ?? 0) + (kib('Buffers') ?? 0));
  return total === null || available === null ? null : { total, available };
}

/** `uname -sr` as the kernel itself says it in /proc (a read, not a process); uname where there is no /proc. */
async function kernel(host: Host, settings: Settings): Promise<[string, string] | null> {
  const [system, release] = await Promise.all(['/proc/sys/kernel/ostype', '/proc/sys/kernel/osrelease'].map((file) => host.fs.readText(file, 4096).then((t) => t.trim(), () => '')));
  if (system && release) return [system, release];
  const uname = await host.run('uname', ['-sr'], { timeoutMs: settings.probeTimeoutMs });
  const [s, r] = uname.exitCode === 0 ? uname.stdout.trim().split(/\s+/) : [];
  return s && r ? [s, r] : null;
}

async function osName(host: Host, settings: Settings): Promise<string> {
  const [uname, ...releases] = await Promise.all([
    kernel(host, settings),
    ...['/etc/os-release', '/usr/lib/os-release'].map((file) => host.fs.readText(file, 64 * 1024).catch(() => '')),
  ]);
  const [system = 'Linux', release = 'unknown'] = (uname as [string, string] | null) ?? [];
  const name = releases.map(prettyName).find((n) => n !== null);
  return name ? `${name}, kernel ${release}` : `${system} ${release}`;
}

/** The folder itself, or its nearest existing parent (a model folder not yet downloaded). */
async function existingAncestor(host: Host, dir: string): Promise<string> {
  let current = path.posix.resolve(dir);
  for (;;) {
    if (await host.fs.stat(current).then(() => true, () => false)) return current;
    const parent = path.posix.dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}

async function memory(host: Host): Promise<{ total: number; available: number }> {
  const fromProc = parseMeminfo(await host.fs.readText('/proc/meminfo', 64 * 1024).catch(() => ''));
  if (fromProc) return fromProc;
  if (host.remote) throw new Error(`could not read /proc/meminfo on ${host.label}`);
  // Not Linux (a developer's laptop): systeminformation knows the other systems.
  const si = await import('systeminformation');
  const mem = await si.default.mem();
  return { total: mem.total, available: mem.available };
}

export async function probeHost(settings: Settings, host: Host = localHost): Promise<HostInfo> {
  const start = settings.mount?.hostPath ?? (host.remote ? '/' : (settings.hub?.cacheDir ?? settings.cwd));
  // Memory and OS do not wait for the disk path (on a host each wait is a round trip); the
  // free space of the likeliest path is asked alongside, and used when that path exists.
  const likely = host.fs.readsAreRoundTrips ? host.fs.freeBytes(path.posix.resolve(start)).catch(() => null) : null;
  const [diskPath, mem, osLabel] = await Promise.all([existingAncestor(host, start), memory(host), osName(host, settings)]);
  const diskFreeBytes = likely && diskPath === path.posix.resolve(start) ? await likely : await host.fs.freeBytes(diskPath).catch(() => null);
  return {
    os: osLabel,
    memTotalBytes: mem.total,
    memAvailableBytes: mem.available,
    diskFreeBytes,
    diskPath,
  };
}
