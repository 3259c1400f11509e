/**
 * The model-folder probe: works out what the serving container will see at the container
 * model dir under the mount as given, and reads the facts of the folder the server will read
 * (or, when that is missing, of the best candidate, so the checks can explain). It reads only
 * the model folder and one level below it, never follows the user's input into a shell, and
 * treats a missing or odd path as a fact, not a crash.
 */
import path from 'node:path';
import { localHost, type FileStat, type Host, type HostFs } from '../exec.js';
import type { Mount, Settings } from '../settings.js';
import type { CaseMismatch, InspectedRole, ModelFileEntry, ModelFolderFacts, PathFolder, ShardFacts } from '../facts.js';
import {
  BPE_VOCAB_FILES,
  CONFIG_FILE,
  FAST_TOKENIZER_FILE,
  LFS_POINTER_MAX_BYTES,
  LFS_POINTER_PREFIX,
  PYTORCH_WEIGHTS_PATTERN,
  SAFETENSORS_HEADER_LENGTH_BYTES,
  SAFETENSORS_INDEX_FILE,
  SAFETENSORS_MAX_HEADER_BYTES,
  SAFETENSORS_SUFFIX,
  TOKENIZER_CONFIG_FILE,
} from '../data/model-files.js';

/** A model folder has tens of files; past this many entries per folder the listing stops. */
const MAX_ENTRIES_PER_FOLDER = 500;
/** config.json and the index are a few KiB; refuse to parse something absurd. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;


export async function probeModelFolder(settings: Settings, host: Host = localHost): Promise<ModelFolderFacts | null> {
  const mount = settings.mount;
  // A hub source: the snapshot in the user's cache is the folder the server will load.
  if (!mount && settings.hub) return (await import('./hub-cache.js')).probeHubSnapshot(settings.hub, settings.model.name);
  if (!mount) return null;
  return inspectMount(mount, settings.containerModelDir, settings.model.name, host.fs);
}

/**
 * The probe proper, free of Settings so that tests can call it with any mount. Every read
 * goes through `fs`: node:fs here, or a host's own tools over SSH, with the same verdicts.
 */
export async function inspectMount(mount: Mount, containerModelDir: string, modelName: string, fs: HostFs = localHost.fs): Promise<ModelFolderFacts> {
  const facts: ModelFolderFacts = {
    mount,
    containerModelDir,
    hostPathState: 'folder',
    hostPathMessage: null,
    relativeDir: containerRelative(mount.containerPath, containerModelDir),
    hostModelDir: null,
    hostModelDirExists: false,
    missingHostPath: null,
    caseMismatch: null,
    tooShallow: false,
    tooDeepSubfolder: null,
    modelSubfolders: [],
    suggestedMount: null,
    suggestedContainerModelDir: null,
    inspectedDir: null,
    inspectedRole: null,
    pathFolders: [],
    files: [],
    listingTruncated: false,
    configJson: null,
    configProblem: null,
    index: null,
    indexProblem: null,
    tokenizer: { tokenizerJson: false, tokenizerConfig: false, vocabAndMerges: false },
    shards: [],
    weightBytes: null,
    pytorchWeightFiles: [],
    diskFreeBytes: null,
  };
  if (fs.readsAreRoundTrips) readAhead(fs, mount.hostPath, facts.relativeDir);
  const modeSuffix = mount.mode ? `:${mount.mode}` : '';
  const mountAt = (hostDir: string) => `${hostDir}:${containerModelDir}${modeSuffix}`;

  const root = await statOrError(fs, mount.hostPath);
  if (!root.ok) {
    facts.hostPathState = root.code === 'ENOENT' || root.code === 'ENOTDIR' ? 'missing' : 'unreadable';
    facts.hostPathMessage = root.message;
    return facts;
  }
  if (root.stats.kind !== 'folder') {
    facts.hostPathState = 'not-a-folder';
    facts.hostPathMessage = `${mount.hostPath} is a file, not a folder`;
    return facts;
  }

  let relative = facts.relativeDir;
  if (relative === null) {
    // A container path that matches only when letter case is ignored is a case mismatch.
    const loose = containerRelative(mount.containerPath.toLowerCase(), containerModelDir.toLowerCase());
    if (loose !== null) {
      const expected = containerModelDir.slice(0, mount.containerPath.length);
      facts.caseMismatch = { side: 'container', expected, found: mount.containerPath, parentHostPath: null };
      relative = containerModelDir.slice(expected.length).replace(/^\/+/, '');
      facts.suggestedMount = `${mount.hostPath}:${expected}${modeSuffix}`;
      facts.suggestedContainerModelDir = path.posix.join(mount.containerPath, relative);
    }
  }

  const rootListing = await listNames(fs, mount.hostPath);
  const rootHoldsModel = rootListing.includes(CONFIG_FILE) || rootListing.some(isSafetensors);

  if (relative === null) {
    // The mount does not cover the folder the server reads: say where the model would fit.
    if (rootHoldsModel) {
      facts.suggestedMount = mountAt(mount.hostPath);
      facts.suggestedContainerModelDir = mount.containerPath;
      await inspectFolder(fs, facts, mount.hostPath, 'mount-root', []);
    } else {
      facts.modelSubfolders = await modelSubfolders(fs, mount.hostPath, rootListing);
      const sub = pickSubfolder(facts.modelSubfolders, modelName);
      if (sub) {
        facts.suggestedMount = mountAt(path.join(mount.hostPath, sub));
        facts.suggestedContainerModelDir = path.posix.join(mount.containerPath, sub);
        await inspectFolder(fs, facts, path.join(mount.hostPath, sub), 'subfolder', [sub]);
      }
    }
    await readDiskFree(fs, facts);
    return facts;
  }

  const segments = relative.split('/').filter((s) => s !== '');
  const walk = await walkExact(fs, mount.hostPath, segments);
  facts.hostModelDir = path.join(mount.hostPath, ...segments);
  facts.hostModelDirExists = walk.exists;
  facts.missingHostPath = walk.missingHostPath;
  if (walk.caseMismatch && !facts.caseMismatch) facts.caseMismatch = walk.caseMismatch;

  if (walk.exists) {
    const listing = await listNames(fs, facts.hostModelDir);
    const holdsModel = listing.includes(CONFIG_FILE) || listing.some(isSafetensors);
    if (!holdsModel) {
      facts.modelSubfolders = await modelSubfolders(fs, facts.hostModelDir, listing);
      const sub = pickSubfolder(facts.modelSubfolders, modelName);
      if (sub) {
        facts.tooDeepSubfolder = sub;
        facts.suggestedMount = mountAt(path.join(facts.hostModelDir, sub));
        facts.suggestedContainerModelDir = path.posix.join(containerModelDir, sub);
        await inspectFolder(fs, facts, path.join(facts.hostModelDir, sub), 'subfolder', [...segments, sub]);
        await readDiskFree(fs, facts);
        return facts;
      }
    }
    // With a container-side case mismatch the folder exists on the host but the server looks elsewhere.
    await inspectFolder(fs, facts, facts.hostModelDir, facts.caseMismatch ? 'case-mismatch' : 'model-dir', segments);
  } else if (walk.caseMismatch && walk.looseHostPath) {
    const found = path.relative(mount.hostPath, walk.looseHostPath).split(path.sep);
    facts.suggestedMount = mountAt(walk.looseHostPath);
    facts.suggestedContainerModelDir = path.posix.join(mount.containerPath, ...found);
    await inspectFolder(fs, facts, walk.looseHostPath, 'case-mismatch', found);
  } else if (rootHoldsModel && segments.length > 0) {
    facts.tooShallow = true;
    facts.suggestedMount = mountAt(mount.hostPath);
    facts.suggestedContainerModelDir = mount.containerPath;
    await inspectFolder(fs, facts, mount.hostPath, 'mount-root', []);
  } else {
    facts.modelSubfolders = await modelSubfolders(fs, mount.hostPath, rootListing);
  }
  await readDiskFree(fs, facts);
  return facts;
}

/**
 * Where every read is a round trip (a host over SSH): ask at once, without waiting, for what
 * the probe below will most likely read of the mount and the folder the server reads (their
 * stat and listing, each file's first bytes, config.json, the index, each shard's header),
 * with the very calls the probe makes, so that it finds most answers already there: two
 * round trips instead of one per step. Only a cache is filled; the verdicts come from the
 * probe's own reads as before (the same answers, asked earlier).
 */
function readAhead(fs: HostFs, root: string, relative: string | null): void {
  const ignore = () => undefined;
  const modelDir = relative === null ? root : path.join(root, ...relative.split('/').filter((s) => s !== ''));
  void fs.stat(root).catch(ignore);
  void fs.realpath(root).catch(ignore);
  void fs.freeBytes(modelDir).catch(ignore);
  const files = async (dir: string, depth: number): Promise<void> => {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names.slice(0, MAX_ENTRIES_PER_FOLDER).map(async (name) => {
        const file = path.join(dir, name);
        // Answered by the listing itself, no round trip.
        const own = await fs.lstat(file).catch(() => null);
        if (own?.kind === 'folder' && depth > 0 && !name.startsWith('.')) return files(file, depth - 1);
        if (own?.kind !== 'file') return;
        if (own.sizeBytes <= LFS_POINTER_MAX_BYTES) void readLfsHead(fs, file).catch(ignore);
        if (depth > 0 && (name === CONFIG_FILE || name === SAFETENSORS_INDEX_FILE) && own.sizeBytes <= MAX_JSON_BYTES) void readJsonText(fs, file).catch(ignore);
        if (depth > 0 && isSafetensors(name) && own.sizeBytes >= SAFETENSORS_HEADER_LENGTH_BYTES) void readShardHead(fs, file, own.sizeBytes).catch(ignore);
      }),
    );
  };
  void fs.stat(modelDir).catch(ignore);
  void files(modelDir, 1).catch(ignore);
  if (modelDir !== root) void fs.readdir(root).catch(ignore);
}

/** The probe's reads of a file, one function each, so that readAhead asks exactly what the probe will. */
const readLfsHead = (fs: HostFs, file: string) => fs.read(file, 0, LFS_POINTER_PREFIX.length);
const readJsonText = (fs: HostFs, file: string) => fs.readText(file, MAX_JSON_BYTES);
const readShardHead = (fs: HostFs, file: string, sizeBytes: number) => fs.read(file, 0, Math.min(sizeBytes, SHARD_FIRST_READ_BYTES));

/** The container model dir relative to the mount's container path, or null when outside it. */
export function containerRelative(containerPath: string, containerModelDir: string): string | null {
  if (containerPath === containerModelDir) return '';
  const prefix = containerPath === '/' ? '/' : `${containerPath}/`;
  return containerModelDir.startsWith(prefix) ? containerModelDir.slice(prefix.length) : null;
}

interface Walk {
  exists: boolean;
  missingHostPath: string | null;
  caseMismatch: CaseMismatch | null;
  /** The path that exists when case is ignored at the mismatched parts, if any. */
  looseHostPath: string | null;
}

/** Follows the path parts byte for byte (Linux is case-sensitive), noting the first part that matches only loosely. */
async function walkExact(fs: HostFs, hostRoot: string, segments: string[]): Promise<Walk> {
  let exact: string | null = hostRoot;
  let loose: string | null = hostRoot;
  let missingHostPath: string | null = null;
  let caseMismatch: CaseMismatch | null = null;
  for (const segment of segments) {
    if (loose === null) break;
    const names = await listNames(fs, loose);
    const looseParent: string = loose;
    const exactHit = names.includes(segment) && (await isFolder(fs, path.join(loose, segment)));
    if (exactHit) {
      if (exact !== null) exact = path.join(exact, segment);
      loose = path.join(loose, segment);
      continue;
    }
    if (exact !== null) missingHostPath = path.join(exact, segment);
    exact = null;
    const lower = segment.toLowerCase();
    let alias: string | undefined;
    for (const name of names) {
      if (name !== segment && name.toLowerCase() === lower && (await isFolder(fs, path.join(looseParent, name)))) {
        alias = name;
        break;
      }
    }
    if (alias === undefined) {
      loose = null;
      break;
    }
    caseMismatch ??= { side: 'host', expected: segment, found: alias, parentHostPath: looseParent };
    loose = path.join(looseParent, alias);
  }
  return { exists: exact !== null, missingHostPath, caseMismatch, looseHostPath: exact === null ? loose : null };
}

/** Subfolders (one level down) that hold a config.json. */
async function modelSubfolders(fs: HostFs, dir: string, names: string[]): Promise<string[]> {
  const found = await Promise.all(
    names.slice(0, MAX_ENTRIES_PER_FOLDER).map(async (name) => {
      const sub = path.join(dir, name);
      if (!(await isFolder(fs, sub))) return null;
      const inner = await listNames(fs, sub);
      return inner.includes(CONFIG_FILE) ? name : null;
    }),
  );
  return found.filter((n): n is string => n !== null).sort();
}

/** The subfolder named like the model (any case), else the only one. */
function pickSubfolder(candidates: string[], modelName: string): string | null {
  const named = candidates.find((c) => c.toLowerCase() === modelName.toLowerCase());
  if (named) return named;
  return candidates.length === 1 ? candidates[0]! : null;
}

async function inspectFolder(fs: HostFs, facts: ModelFolderFacts, dir: string, role: InspectedRole, segmentsFromRoot: string[]): Promise<void> {
  facts.inspectedDir = dir;
  facts.inspectedRole = role;
  // Needed only for links; asked for alongside the listing, not before it (a round trip on a host).
  const rootReal = fs.realpath(facts.mount.hostPath).catch(() => facts.mount.hostPath);

  const folderPaths = [facts.mount.hostPath];
  for (let i = 1; i <= segmentsFromRoot.length; i++) folderPaths.push(path.join(facts.mount.hostPath, ...segmentsFromRoot.slice(0, i)));
  const [pathFolders, listing] = await Promise.all([
    Promise.all(folderPaths.map(async (p) => {
      const s = await fs.stat(p).catch(() => null);
      return s ? { hostPath: p, mode: s.mode, uid: s.uid } : null;
    })),
    listFolder(fs, dir, rootReal, 1),
  ]);
  facts.pathFolders = pathFolders.filter((f): f is PathFolder => f !== null);
  facts.files = listing.entries;
  facts.listingTruncated = listing.truncated;

  const top = new Map(facts.files.filter((f) => !f.path.includes('/')).map((f) => [f.path, f]));
  const isFile = (name: string) => top.get(name)?.type === 'file';
  facts.tokenizer = {
    tokenizerJson: isFile(FAST_TOKENIZER_FILE),
    tokenizerConfig: isFile(TOKENIZER_CONFIG_FILE),
    vocabAndMerges: BPE_VOCAB_FILES.every(isFile),
  };
  facts.pytorchWeightFiles = [...top.keys()].filter((n) => PYTORCH_WEIGHTS_PATTERN.test(n) && isFile(n)).sort();

  const [config, index] = await Promise.all([
    readJsonObject(fs, dir, top.get(CONFIG_FILE)),
    readJsonObject(fs, dir, top.get(SAFETENSORS_INDEX_FILE)),
  ]);
  facts.configJson = config.value;
  facts.configProblem = config.problem;
  if (index.value) {
    facts.index = parseIndex(index.value);
    if (facts.index.shardNames.length === 0) facts.indexProblem = `${SAFETENSORS_INDEX_FILE} has no weight_map entries`;
  } else if (index.problem && top.has(SAFETENSORS_INDEX_FILE)) {
    facts.indexProblem = index.problem;
  }

  const topSafetensors = [...top.values()].filter((f) => isSafetensors(f.path) && f.type === 'file');
  const shardNames = facts.index ? facts.index.shardNames : topSafetensors.map((f) => f.path).sort();
  facts.shards = await Promise.all(shardNames.map((name) => readShard(fs, dir, name, top.get(name))));
  const realWeights = topSafetensors.filter((f) => !f.lfsPointer);
  facts.weightBytes = realWeights.length > 0 ? realWeights.reduce((sum, f) => sum + f.sizeBytes, 0) : null;
}

async function listFolder(fs: HostFs, dir: string, rootReal: Promise<string>, depth: number): Promise<{ entries: ModelFileEntry[]; truncated: boolean }> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return { entries: [], truncated: false };
  }
  const truncated = names.length > MAX_ENTRIES_PER_FOLDER;
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const described = await Promise.all(
    // An entry removed while we look is simply not there.
    names.slice(0, MAX_ENTRIES_PER_FOLDER).map((name) => describeEntry(fs, path.join(dir, name), name, rootReal).catch(() => null)),
  );
  const entries = described.filter((e): e is ModelFileEntry => e !== null);
  const result = { entries: [...entries], truncated };
  if (depth > 0) {
    const below = await Promise.all(
      // Hidden folders (.git, .cache) are tooling, not the model, and .git can be huge.
      entries.filter((e) => e.type === 'folder' && !e.symlink && !e.path.startsWith('.')).map(async (folder) => {
        const inner = await listFolder(fs, path.join(dir, folder.path), rootReal, depth - 1);
        return { entries: inner.entries.map((e) => ({ ...e, path: `${folder.path}/${e.path}` })), truncated: inner.truncated };
      }),
    );
    for (const b of below) {
      result.entries.push(...b.entries);
      result.truncated ||= b.truncated;
    }
  }
  return result;
}

async function describeEntry(fs: HostFs, fullPath: string, name: string, rootRealAsked: Promise<string>): Promise<ModelFileEntry> {
  const own = await fs.lstat(fullPath);
  const symlink = own.kind === 'symlink';
  let target: FileStat | null = own;
  let linkTarget: string | null = null;
  let linkEscapesMount = false;
  if (symlink) {
    linkTarget = await fs.readlink(fullPath).catch(() => null);
    target = await fs.stat(fullPath).catch(() => null);
    const [real, rootReal] = await Promise.all([target ? fs.realpath(fullPath).catch(() => null) : null, rootRealAsked]);
    linkEscapesMount = real !== null && real !== rootReal && !real.startsWith(rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep);
  }
  if (!target) {
    return { path: name, type: 'broken-link', sizeBytes: 0, mode: own.mode, uid: own.uid, symlink, linkTarget, linkEscapesMount: false, lfsPointer: false, readableByOthers: false };
  }
  const type = target.kind === 'file' ? 'file' : target.kind === 'folder' ? 'folder' : 'other';
  const mode = target.mode;
  const readableByOthers = type === 'folder' ? (mode & 0o005) === 0o005 : (mode & 0o004) !== 0;
  const lfsPointer = type === 'file' && target.sizeBytes <= LFS_POINTER_MAX_BYTES && (await isLfsPointer(fs, fullPath));
  return { path: name, type, sizeBytes: target.sizeBytes, mode, uid: target.uid, symlink, linkTarget, linkEscapesMount, lfsPointer, readableByOthers };
}

async function readShard(fs: HostFs, dir: string, name: string, entry: ModelFileEntry | undefined): Promise<ShardFacts> {
  const shard: ShardFacts = { name, present: false, sizeBytes: null, lfsPointer: false, headerBytes: null, dataBytes: null, declaredDataBytes: null, problem: null };
  // Shard names come from the index file: a name that climbs out of the folder is not a shard here.
  if (!entry || entry.type !== 'file' || name.includes('/') || name.includes('\\')) return shard;
  shard.present = true;
  shard.sizeBytes = entry.sizeBytes;
  shard.lfsPointer = entry.lfsPointer;
  if (entry.lfsPointer) return shard;
  if (entry.sizeBytes < SAFETENSORS_HEADER_LENGTH_BYTES) {
    shard.problem = `only ${entry.sizeBytes} bytes long, too short for a safetensors file`;
    return shard;
  }
  try {
    const header = await readSafetensorsHeader(fs, path.join(dir, name), entry.sizeBytes);
    Object.assign(shard, header);
  } catch (error) {
    shard.problem = `could not be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  return shard;
}

/** The first read of a shard takes this much, so a usual header needs no second read (a round trip on a host). */
const SHARD_FIRST_READ_BYTES = 64 * 1024;

async function readSafetensorsHeader(fs: HostFs, file: string, sizeBytes: number): Promise<Pick<ShardFacts, 'headerBytes' | 'dataBytes' | 'declaredDataBytes' | 'problem'>> {
  const first = await readShardHead(fs, file, sizeBytes);
  const lengthBuffer = first.subarray(0, SAFETENSORS_HEADER_LENGTH_BYTES);
  if (lengthBuffer.length < SAFETENSORS_HEADER_LENGTH_BYTES) {
    return { headerBytes: null, dataBytes: null, declaredDataBytes: null, problem: `only ${lengthBuffer.length} bytes could be read, too short for a safetensors file` };
  }
  const headerLength = lengthBuffer.readBigUInt64LE(0);
  const room = BigInt(sizeBytes - SAFETENSORS_HEADER_LENGTH_BYTES);
  if (headerLength > room) {
    return { headerBytes: null, dataBytes: null, declaredDataBytes: null, problem: `its header claims ${headerLength} bytes but the file holds ${sizeBytes} (cut off, or not a safetensors file)` };
  }
  const headerBytes = Number(headerLength);
  const dataBytes = sizeBytes - SAFETENSORS_HEADER_LENGTH_BYTES - headerBytes;
  if (headerBytes > SAFETENSORS_MAX_HEADER_BYTES) {
    return { headerBytes, dataBytes, declaredDataBytes: null, problem: `its header is ${headerBytes} bytes, over the format's limit (not a safetensors file)` };
  }
  const inFirst = SAFETENSORS_HEADER_LENGTH_BYTES + headerBytes <= first.length;
  const json = inFirst ? first.subarray(SAFETENSORS_HEADER_LENGTH_BYTES, SAFETENSORS_HEADER_LENGTH_BYTES + headerBytes) : await fs.read(file, SAFETENSORS_HEADER_LENGTH_BYTES, headerBytes);
  let header: unknown;
  try {
    header = JSON.parse(json.toString('utf8'));
  } catch {
    return { headerBytes, dataBytes, declaredDataBytes: null, problem: 'its header is not JSON (not a safetensors file)' };
  }
  return { headerBytes, dataBytes, declaredDataBytes: declaredEnd(header), problem: null };
}

/** Where the header says the tensors' bytes end (the largest data_offsets end). */
function declaredEnd(header: unknown): number | null {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return null;
  let end = 0;
  for (const [name, tensor] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const offsets = (tensor as { data_offsets?: unknown } | null)?.data_offsets;
    if (Array.isArray(offsets) && typeof offsets[1] === 'number') end = Math.max(end, offsets[1]);
  }
  return end;
}

function parseIndex(index: Record<string, unknown>): { shardNames: string[]; totalSize: number | null } {
  const weightMap = index.weight_map;
  const names = new Set<string>();
  if (weightMap && typeof weightMap === 'object' && !Array.isArray(weightMap)) {
    for (const value of Object.values(weightMap)) if (typeof value === 'string' && value !== '') names.add(value);
  }
  const metadata = index.metadata as Record<string, unknown> | undefined;
  const raw = metadata && typeof metadata === 'object' ? metadata.total_size : undefined;
  const totalSize = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : null;
  return { shardNames: [...names].sort(), totalSize };
}

async function readJsonObject(fs: HostFs, dir: string, entry: ModelFileEntry | undefined): Promise<{ value: Record<string, unknown> | null; problem: string | null }> {
  if (!entry) return { value: null, problem: null };
  if (entry.type !== 'file') return { value: null, problem: `${entry.path} is not a file` };
  if (entry.lfsPointer) return { value: null, problem: `${entry.path} is a Git LFS pointer, not the file` };
  if (entry.sizeBytes > MAX_JSON_BYTES) return { value: null, problem: `${entry.path} is ${entry.sizeBytes} bytes, too big for what it should hold` };
  let text: string;
  try {
    text = await readJsonText(fs, path.join(dir, entry.path));
  } catch (error) {
    return { value: null, problem: `${entry.path} could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { value: null, problem: `${entry.path} does not hold a JSON object` };
    return { value: parsed as Record<string, unknown>, problem: null };
  } catch (error) {
    return { value: null, problem: `${entry.path} is not valid JSON (${(error as Error).message})` };
  }
}

async function readDiskFree(fs: HostFs, facts: ModelFolderFacts): Promise<void> {
  try {
    facts.diskFreeBytes = await fs.freeBytes(facts.inspectedDir ?? facts.mount.hostPath);
  } catch {
    facts.diskFreeBytes = null;
  }
}

async function isLfsPointer(fs: HostFs, file: string): Promise<boolean> {
  try {
    const buffer = await readLfsHead(fs, file);
    return buffer.length === LFS_POINTER_PREFIX.length && buffer.toString('latin1') === LFS_POINTER_PREFIX;
  } catch {
    return false;
  }
}

async function statOrError(fs: HostFs, p: string): Promise<{ ok: true; stats: FileStat } | { ok: false; code: string; message: string }> {
  try {
    return { ok: true, stats: await fs.stat(p) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code})`;
    return { ok: false, code, message: `${p} ${why}` };
  }
}

async function listNames(fs: HostFs, dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch {
    return [];
  }
}

async function isFolder(fs: HostFs, p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.kind === 'folder';
}

function isSafetensors(name: string): boolean {
  return name.endsWith(SAFETENSORS_SUFFIX);
}
