/**
 * The cache side of the model probe for `--source hf|modelscope`: finds the snapshot the
 * server would load from the user's cache and reads it with the same folder probe as
 * `--model-dir`, through the mount the container will get (so links from a Hugging Face
 * snapshot into `blobs/` count as inside the mount: the whole cache is mounted).
 *
 * Hugging Face cache: `models--Qwen--X/refs/main` holds the commit hash, `snapshots/<hash>/`
 * holds links to `../../blobs/<etag>`, and a blob being downloaded is `blobs/<etag>.incomplete`.
 * ModelScope cache: `models/Qwen/X/` holds the files themselves.
 * The cache is read where it is: this machine, or a fleet host (hub.cacheHost) through its HostFs.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { containerPathOf, type HubSettings } from '../hub-settings.js';
import { localHost, type HostFs } from '../exec.js';
import { inspectMount } from './model.js';
import type { HubSnapshotFacts, ModelFolderFacts } from '../facts.js';


/** Reads the cached snapshot as a model folder; null when the cache holds no snapshot of the repo. */
export async function probeHubSnapshot(hub: HubSettings, modelName: string): Promise<(ModelFolderFacts & { hubSnapshot: HubSnapshotFacts }) | null> {
  const found = await findSnapshot(hub);
  if (!found) return null;
  const containerDir = containerPathOf(hub, found.snapshotDir);
  // The most specific mount, as containerPathOf picks it (a hub cache mounted inside the HF home).
  const mount = [...hub.mounts].sort((a, b) => b.hostPath.length - a.hostPath.length).find((m) => found.snapshotDir.startsWith(m.hostPath + path.sep));
  if (!containerDir || !mount) return null;
  const facts = await inspectMount({ hostPath: mount.hostPath, containerPath: mount.containerPath, mode: 'rw', raw: `${mount.hostPath}:${mount.containerPath}` }, containerDir, modelName, cacheFs(hub));
  return { ...facts, hubSnapshot: found };
}

/** The file system that holds the cache. */
function cacheFs(hub: HubSettings): HostFs {
  return (hub.cacheHost ?? localHost).fs;
}

export async function findSnapshot(hub: HubSettings): Promise<HubSnapshotFacts | null> {
  const fs = cacheFs(hub);
  const isFolder = async (p: string) => (await fs.stat(p).catch(() => null))?.kind === 'folder';
  if (hub.source === 'modelscope') {
    for (const dir of hub.repoDirs) {
      if (await isFolder(dir)) return { source: hub.source, repoDir: dir, repoDirExists: true, revision: null, snapshotDir: dir };
    }
    return null;
  }
  const repoDir = hub.repoDirs[0]!;
  if (!(await isFolder(repoDir))) return null;
  const revision = (await fs.readText(path.join(repoDir, 'refs', 'main'), 4096).catch(() => '')).trim() || null;
  const snapshots = path.join(repoDir, 'snapshots');
  if (revision && /^[0-9a-f]{40}$/.test(revision) && (await isFolder(path.join(snapshots, revision)))) {
    return { source: hub.source, repoDir, repoDirExists: true, revision, snapshotDir: path.join(snapshots, revision) };
  }
  // Without a usable ref (a cache filled offline for a pinned commit), the server can only use a lone snapshot.
  const names = (await fs.readdir(snapshots).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{40}$/.test(n));
  if (names.length === 1 && (await isFolder(path.join(snapshots, names[0]!)))) {
    return { source: hub.source, repoDir, repoDirExists: true, revision: null, snapshotDir: path.join(snapshots, names[0]!) };
  }
  return null;
}

/** Bytes under the repo's `blobs/` (finished and `.incomplete`), for download progress (this machine's cache). */
export async function cachedBytes(hub: HubSettings): Promise<{ bytes: number; incompleteFiles: number } | null> {
  const blobs = hub.source === 'hf' ? path.join(hub.repoDirs[0]!, 'blobs') : null;
  const dirs = blobs ? [blobs] : hub.repoDirs;
  let bytes = 0;
  let incompleteFiles = 0;
  let seen = false;
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    seen = true;
    const sizes = await Promise.all(
      names.map(async (n) => {
        const s = await stat(path.join(dir, n)).catch(() => null);
        return s?.isFile() ? { n, size: s.size } : null;
      }),
    );
    for (const entry of sizes) {
      if (!entry) continue;
      bytes += entry.size;
      if (entry.n.endsWith('.incomplete')) incompleteFiles += 1;
    }
  }
  return seen ? { bytes, incompleteFiles } : null;
}
