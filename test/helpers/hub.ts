/**
 * A Hugging Face Hub (and ModelScope) on 127.0.0.1 for the calls the doctor makes, answering
 * as the real hubs do (see test/fixtures/hub/SOURCES.md), and user caches built in temp dirs
 * with the real layouts: HF `models--Qwen--X/{blobs,refs/main,snapshots/<commit>}` with
 * relative links into `blobs/`, ModelScope `models/Qwen/X/` with plain files.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { LFS_POINTER_TEXT, writeModelFolder, type SizeName } from './model-folder.js';

export const COMMIT = 'c3f1a9e0b7d24f6e8a5b9c0d1e2f3a4b5c6d7e8f';

export interface HubCacheOptions {
  size?: SizeName;
  /** complete; partial (shards 2.. not fetched yet, one `.incomplete` blob); pointer (a shard blob is an LFS pointer). */
  state?: 'complete' | 'partial' | 'pointer';
  shards?: number;
  /**
   * Shards of the published sizes (sparse files: a real safetensors header, then a hole), so
   * every figure read from the folder equals the published one. Default: tiny shards.
   */
  realSizes?: boolean;
}

/** Published shard file sizes (src/data/models.ts weightBytes in total). */
const REAL_SHARDS: Record<SizeName, number[]> = {
  '0.6B': [1_503_238_553],
  '4B': [3_957_900_840, 3_987_450_520, 99_584_832],
  '8B': [3_957_900_840, 3_987_450_520, 3_987_450_520, 3_190_581_200, 1_258_133_696],
};

/** The first bytes of a safetensors file of `fileBytes` holding one U8 tensor; the rest is a hole. */
function sparseShardHead(fileBytes: number, tensor: string): { head: Buffer; dataBytes: number } {
  let json = '';
  for (let dataBytes = fileBytes; ; ) {
    json = JSON.stringify({ __metadata__: { format: 'pt' }, [tensor]: { dtype: 'U8', shape: [dataBytes], data_offsets: [0, dataBytes] } });
    json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
    const next = fileBytes - 8 - Buffer.byteLength(json);
    if (next === dataBytes) break;
    dataBytes = next;
  }
  const header = Buffer.from(json);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return { head: Buffer.concat([length, header]), dataBytes: fileBytes - 8 - header.length };
}

async function writeSparse(file: string, head: Buffer, size: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.write(head, 0, head.length, 0);
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

export interface BuiltCache {
  /** HF_HOME */
  home: string;
  repoDir: string;
  snapshotDir: string;
  files: { name: string; size: number }[];
}

/** Git's blob id, the etag the Hub gives small (non-LFS) files. */
function gitBlobSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** A Hugging Face cache at `home` (HF_HOME) holding Qwen/Qwen3Guard-Gen-<size>. */
export async function writeHfCache(home: string, options: HubCacheOptions = {}): Promise<BuiltCache> {
  const size = options.size ?? '8B';
  // As huggingface_hub creates it under a usual umask (a temp dir starts 0700).
  await chmod(home, 0o755);
  const repoDir = path.join(home, 'hub', `models--Qwen--Qwen3Guard-Gen-${size}`);
  const staging = path.join(home, `.staging-${size}`);
  await rm(staging, { recursive: true, force: true });
  const real = options.realSizes ? REAL_SHARDS[size] : null;
  await writeModelFolder(staging, { size, shards: real ? (real.length === 1 ? 0 : real.length) : (options.shards ?? (size === '0.6B' ? 0 : 3)) });
  const sparse = new Map<string, { head: Buffer; size: number }>();
  if (real) {
    const names = (await readdir(staging)).filter((n) => n.endsWith('.safetensors')).sort();
    const weightMap: Record<string, string> = {};
    let total = 0;
    names.forEach((name, i) => {
      const tensor = `model.layers.${i}.weight`;
      const { head, dataBytes } = sparseShardHead(real[i]!, tensor);
      sparse.set(name, { head, size: real[i]! });
      weightMap[tensor] = name;
      total += dataBytes;
    });
    if (names.length > 1) await writeFile(path.join(staging, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  }
  const blobs = path.join(repoDir, 'blobs');
  const snapshotDir = path.join(repoDir, 'snapshots', COMMIT);
  await mkdir(blobs, { recursive: true });
  await mkdir(snapshotDir, { recursive: true });
  await mkdir(path.join(repoDir, 'refs'), { recursive: true });
  await writeFile(path.join(repoDir, 'refs', 'main'), COMMIT);
  const files: BuiltCache['files'] = [];
  let shardIndex = 0;
  for (const name of (await readdir(staging)).sort()) {
    const isShard = name.endsWith('.safetensors');
    const big = sparse.get(name);
    if (big) {
      // Named by a digest of the head and size: hashing gigabytes of hole would only cost time.
      const etag = createHash('sha256').update(big.head).update(String(big.size)).digest('hex');
      await writeSparse(path.join(blobs, etag), big.head, big.size);
      await symlink(path.join('..', '..', 'blobs', etag), path.join(snapshotDir, name));
      files.push({ name, size: big.size });
      continue;
    }
    let bytes = await readFile(path.join(staging, name));
    files.push({ name, size: bytes.length });
    if (isShard) shardIndex += 1;
    // LFS files are named by their sha256 in blobs/, the others by their git blob id.
    const etag = isShard ? createHash('sha256').update(bytes).digest('hex') : gitBlobSha1(bytes);
    if (options.state === 'partial' && isShard && shardIndex >= 2) {
      // Not fetched yet: the first of them is half-way, as a download interrupted leaves it.
      if (shardIndex === 2) await writeFile(path.join(blobs, `${etag}.incomplete`), bytes.subarray(0, Math.floor(bytes.length / 2)));
      continue;
    }
    if (options.state === 'pointer' && isShard && shardIndex === 1) bytes = Buffer.from(LFS_POINTER_TEXT(etag, bytes.length));
    await writeFile(path.join(blobs, etag), bytes);
    await symlink(path.join('..', '..', 'blobs', etag), path.join(snapshotDir, name));
  }
  await rm(staging, { recursive: true, force: true });
  return { home, repoDir, snapshotDir, files };
}

/** A ModelScope cache at `cache` (MODELSCOPE_CACHE) holding Qwen/Qwen3Guard-Gen-<size>, current layout. */
export async function writeModelScopeCache(cache: string, size: SizeName = '8B'): Promise<string> {
  await chmod(cache, 0o755);
  const dir = path.join(cache, 'models', 'Qwen', `Qwen3Guard-Gen-${size.replace('.', '___')}`);
  await writeModelFolder(dir, { size, shards: size === '0.6B' ? 0 : 3 });
  return dir;
}

export interface HubServerOptions {
  /** Files the repos list (names and sizes). */
  files?: { name: string; size: number }[];
  gated?: false | 'manual' | 'auto';
  /** Tokens whose account may fetch a gated or private repo. */
  grantedTokens?: string[];
  private?: boolean;
  /** Tokens the Hub no longer accepts (revoked, mistyped): 401 on every call, even for a public repo. */
  invalidTokens?: string[];
  /** Answer every API call with this status and body (a broken mirror). */
  failWith?: { status: number; body: string };
}

export interface HubServer {
  url: string;
  requests: { method: string; url: string; authorization: string | null }[];
  close(): Promise<void>;
}

/** The published Qwen3Guard-Gen-8B repo listing: five shards (sizes as FACTS.md's total). */
export function publishedFiles8B(): { name: string; size: number }[] {
  const shards = [3_957_900_840, 3_987_450_520, 3_987_450_520, 3_190_581_200, 1_258_133_696];
  return [
    { name: '.gitattributes', size: 1570 },
    { name: 'LICENSE', size: 11_343 },
    { name: 'README.md', size: 9_875 },
    { name: 'config.json', size: 728 },
    { name: 'generation_config.json', size: 239 },
    { name: 'merges.txt', size: 1_671_853 },
    ...shards.map((size, i) => ({ name: `model-0000${i + 1}-of-00005.safetensors`, size })),
    { name: 'model.safetensors.index.json', size: 32_887 },
    { name: 'tokenizer.json', size: 11_422_654 },
    { name: 'tokenizer_config.json', size: 9_732 },
    { name: 'vocab.json', size: 2_776_833 },
  ];
}

/** Starts the stand-in hub on 127.0.0.1; HF_ENDPOINT=<url> points the doctor at it, as at a mirror. */
export async function startHubServer(options: HubServerOptions = {}): Promise<HubServer> {
  const requests: HubServer['requests'] = [];
  const files = options.files ?? publishedFiles8B();
  const server = http.createServer((req, res) => {
    const auth = typeof req.headers.authorization === 'string' ? req.headers.authorization : null;
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', authorization: auth });
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : null;
    const granted = token !== null && (options.grantedTokens ?? []).includes(token);
    const url = new URL(req.url ?? '/', 'http://hub');
    const requestId = `Root=1-6745d8b3-${createHash('md5').update(String(requests.length)).digest('hex').slice(0, 24)}`;
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (options.failWith) return send(options.failWith.status, options.failWith.body, { 'content-type': 'text/plain' });
    if (token && (options.invalidTokens ?? []).includes(token)) return send(401, JSON.stringify({ error: 'Invalid credentials in Authorization header' }));

    const info = /^\/api\/models\/(Qwen\/Qwen3Guard-Gen-[^/]+?)(?:\/revision\/([^/]+))?$/.exec(url.pathname);
    const resolve = /^\/(Qwen\/Qwen3Guard-Gen-[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const ms = /^\/api\/v1\/models\/(Qwen\/Qwen3Guard-Gen-[^/]+)\/repo\/files$/.exec(url.pathname);
    if (info) {
      const repo = info[1]!;
      if (options.private && !granted) return send(401, JSON.stringify({ error: 'Repository not found' }), { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' });
      const blobs = url.searchParams.get('blobs') === 'true';
      return send(
        200,
        JSON.stringify({
          _id: '68a4c9e1f0d2b35a7c1e9f20',
          id: repo,
          modelId: repo,
          author: 'Qwen',
          sha: COMMIT,
          lastModified: '2025-09-23T08:14:41.000Z',
          private: Boolean(options.private),
          disabled: false,
          gated: options.gated ?? false,
          library_name: 'transformers',
          pipeline_tag: 'text-generation',
          tags: ['transformers', 'safetensors', 'qwen3', 'text-generation', 'conversational', 'license:apache-2.0'],
          siblings: files.map((f) => {
            const lfs = f.name.endsWith('.safetensors') || f.name === 'tokenizer.json';
            const sha = createHash('sha256').update(f.name).digest('hex');
            return blobs ? { rfilename: f.name, blobId: sha.slice(0, 40), size: f.size, ...(lfs ? { lfs: { sha256: sha, size: f.size, pointerSize: 135 } } : {}) } : { rfilename: f.name };
          }),
          createdAt: '2025-09-19T03:21:07.000Z',
          usedStorage: files.reduce((s, f) => s + f.size, 0),
        }),
      );
    }
    if (resolve) {
      const repo = resolve[1]!;
      if ((options.gated || options.private) && !granted) {
        if (!token) {
          return send(401, JSON.stringify({ error: `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.` }), {
            'x-error-code': 'GatedRepo',
            'x-error-message': `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
          });
        }
        const message = `Access to model ${repo} is restricted and you are not in the authorized list. Visit https://huggingface.co/${repo} to ask for access.`;
        return send(403, JSON.stringify({ error: message }), { 'x-error-code': 'GatedRepo', 'x-error-message': message });
      }
      const file = files.find((f) => f.name === resolve[3]);
      if (!file) return send(404, JSON.stringify({ error: 'Entry not found' }), { 'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found' });
      return send(200, '{}', { 'x-repo-commit': COMMIT, etag: `"${createHash('sha1').update(file.name).digest('hex')}"`, 'content-length': String(file.size) });
    }
    if (ms) {
      return send(
        200,
        JSON.stringify({
          Code: 200,
          Data: { Files: files.map((f) => ({ Name: f.name, Path: f.name, Revision: COMMIT, Size: f.size, Type: 'blob', IsLFS: f.name.endsWith('.safetensors') })) },
          Message: 'success',
          Success: true,
        }),
      );
    }
    send(404, JSON.stringify({ error: 'Sorry, we can\'t find the page you are looking for.' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Moves a folder aside and back (a test can empty a cache without rebuilding it). */
export async function moveAside(dir: string): Promise<() => Promise<void>> {
  const aside = `${dir}.aside`;
  await rename(dir, aside);
  return () => rename(aside, dir);
}
