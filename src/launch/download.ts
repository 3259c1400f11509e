/**
 * The model download while `up` waits (`--source hf|modelscope`): vLLM 0.11 downloads the
 * weights with its progress bars off ("no feedback", llm-d issue 484), so progress is read
 * where it lands, the user's cache mounted from this host (bytes in `blobs/`, finished shard
 * links in the snapshot), and from what the container's log does say: huggingface_hub's
 * per-file bars in older images (`model-00001-of-00002.safetensors: 100%|...| 5.00G/5.00G`)
 * and vLLM's `Time spent downloading weights for X: N seconds`. `server.ready` then counts the
 * download apart from the load.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { HubSettings } from '../hub-settings.js';
import { cachedBytes, findSnapshot } from '../probes/hub-cache.js';
import { bytesHuman, plural } from '../report/format.js';

export interface DownloadLog {
  /** Seconds vLLM says the weight download took. */
  downloadSeconds: number | null;
  /** The latest state of each file's download bar. */
  files: Map<string, { percent: number; done: string; total: string }>;
}

const SPENT = /Time (?:spent downloading|took to download) weights for (\S+): ([\d.]+) seconds/;
// tqdm as huggingface_hub draws it: "name:  42%|████▏     | 2.10G/5.00G [01:10<01:37, 29.8MB/s]"
const BAR = /^\s*([^\s:|][^:|]*?): +(\d{1,3})%\|[^|]*\| *([\d.]+[kMGTP]?B?)\/([\d.]+[kMGTP]?B?) \[/;

/** Reads the download lines of a container log (tqdm redraws with \r: each piece counts). */
export function parseDownloadLog(text: string): DownloadLog {
  const log: DownloadLog = { downloadSeconds: null, files: new Map() };
  for (const line of text.split('\n')) {
    for (const piece of line.split('\r')) {
      const spent = SPENT.exec(piece);
      if (spent) log.downloadSeconds = (log.downloadSeconds ?? 0) + Number(spent[2]);
      const bar = BAR.exec(piece);
      if (bar && !bar[1]!.startsWith('Loading')) log.files.set(bar[1]!.trim(), { percent: Number(bar[2]), done: bar[3]!, total: bar[4]! });
    }
  }
  return log;
}

export interface CacheSample {
  atMs: number;
  bytes: number;
  shardsDone: number;
  complete: boolean;
}

export interface DownloadWatch {
  /** Measure the cache once (cheap: one folder listing). */
  sample(): Promise<CacheSample>;
  /** One line for the spinner while the model downloads, or null when nothing is downloading. */
  describe(): string | null;
  /** Time spent downloading, apart from the load, once the server answered. */
  split(readyMs: number, logText: string): { downloadMs: number; loadMs: number; from: string } | null;
}

/**
 * Watches the cache from now on. `expectedBytes` is what the download will add in total (the
 * hub's listing, else the published size), `shards` the weight files to expect.
 */
export function watchDownload(hub: HubSettings, expectedBytes: number, shards: number, now = () => Date.now()): DownloadWatch {
  const startedAt = now();
  let first: CacheSample | null = null;
  let last: CacheSample | null = null;
  let completedAt: number | null = null;

  const sample = async (): Promise<CacheSample> => {
    const [bytes, snap] = await Promise.all([cachedBytes(hub), findSnapshot(hub)]);
    let shardsDone = 0;
    let hasConfig = false;
    if (snap) {
      const names = await readdir(snap.snapshotDir).catch(() => [] as string[]);
      hasConfig = names.includes('config.json');
      // A link appears only when its blob is complete; a dangling one is not done.
      const done = await Promise.all(names.filter((n) => n.endsWith('.safetensors')).map((n) => stat(path.join(snap.snapshotDir, n)).then((s) => s.isFile(), () => false)));
      shardsDone = done.filter(Boolean).length;
    }
    const current: CacheSample = { atMs: now() - startedAt, bytes: bytes?.bytes ?? 0, shardsDone, complete: hasConfig && shardsDone >= shards && (bytes?.incompleteFiles ?? 0) === 0 };
    first ??= current;
    if (current.complete && completedAt === null && !first.complete) completedAt = current.atMs;
    last = current;
    return current;
  };

  return {
    sample,
    describe() {
      if (!first || !last || first.complete || completedAt !== null) return null;
      const added = Math.max(0, last.bytes - first.bytes);
      if (added === 0 && last.shardsDone === first.shardsDone) return null;
      const total = Math.max(expectedBytes, last.bytes);
      return `downloading ${hub.repoId} into the cache: ${last.shardsDone} of ${plural(shards, 'shard')}, ${bytesHuman(last.bytes)} of ${bytesHuman(total)}`;
    },
    split(readyMs, logText) {
      const log = parseDownloadLog(logText);
      if (log.downloadSeconds !== null) {
        const downloadMs = Math.min(readyMs, Math.round(log.downloadSeconds * 1000));
        return { downloadMs, loadMs: readyMs - downloadMs, from: 'the server log' };
      }
      if (first && !first.complete && completedAt !== null) {
        const downloadMs = Math.min(readyMs, completedAt);
        return { downloadMs, loadMs: readyMs - downloadMs, from: 'the cache' };
      }
      return first?.complete ? { downloadMs: 0, loadMs: readyMs, from: 'the cache (complete before the launch)' } : null;
    },
  };
}
