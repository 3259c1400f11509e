/**
 * The host's memory, OS and free disk where the model lives. systeminformation's `mem()`
 * reads /proc/meminfo (about 2 ms); its `osInfo()` starts several programs (30 ms or more,
 * seconds on some hosts), so the OS name comes from /etc/os-release and the kernel instead.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HostInfo } from '../facts.js';
import type { Settings } from '../settings.js';

/** `PRETTY_NAME` from an os-release file, or null. */
export function prettyName(osRelease: string): string | null {
  const match = /^PRETTY_NAME=(.*)$/m.exec(osRelease);
  if (!match?.[1]) return null;
  const value = match[1].trim().replace(/^(["'])(.*)\1$/, '$2');
  return value === '' ? null : value;
}

async function osName(): Promise<string> {
  const kernel = `${os.type()} ${os.release()}`;
  for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      const name = prettyName(await fs.readFile(file, 'utf8'));
      if (name) return `${name}, kernel ${os.release()}`;
    } catch {
      // try the next one
    }
  }
  return kernel;
}

/** The folder itself, or its nearest existing parent (a model folder not yet downloaded). */
async function existingAncestor(dir: string): Promise<string> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      await fs.stat(current);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

async function freeDiskBytes(dir: string): Promise<number | null> {
  try {
    const stats = await fs.statfs(dir);
    // bavail: what an unprivileged writer (the container's user) may still use.
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

export async function probeHost(settings: Settings): Promise<HostInfo> {
  const diskPath = await existingAncestor(settings.mount?.hostPath ?? settings.hub?.cacheDir ?? settings.cwd);
  const [si, osLabel, diskFreeBytes] = await Promise.all([import('systeminformation'), osName(), freeDiskBytes(diskPath)]);
  const mem = await si.default.mem();
  return {
    os: osLabel,
    memTotalBytes: mem.total,
    // MemAvailable: what can be had without swapping (page cache counts as reclaimable).
    memAvailableBytes: mem.available,
    diskFreeBytes,
    diskPath,
  };
}
