/**
 * model.source: can the server have the model? With `--source hf|modelscope` it either finds
 * a complete snapshot in the user's cache (mounted into the container, so the download is
 * kept), or downloads it at start: then the hub must answer from this host, a gated or
 * private repo needs a token, the cache's disk needs room for the download plus a margin,
 * and HF_HUB_OFFLINE must not forbid it. Judged before any launch, so a download that
 * cannot work is known before the wait.
 */
import { defineCheck, type Judgement } from '../src/judge.js';
import { BPE_VOCAB_FILES, CONFIG_FILE, FAST_TOKENIZER_FILE, TOKENIZER_CONFIG_FILE } from '../src/data/model-files.js';
import { HF, publishedDownloadBytes } from '../src/data/hub.js';
import { LOW_DISK_BYTES } from '../src/data/host.js';
import type { ModelFolderFacts } from '../src/facts.js';
import type { HubFacts } from '../src/facts.js';
import { bytesHuman, ms, plural, shellQuote } from '../src/report/format.js';
import type { Settings } from '../src/settings.js';

export interface SnapshotState {
  state: 'complete' | 'partial' | 'damaged';
  /** Files the server still has to fetch. */
  missing: string[];
  /** Files present but wrong (LFS pointers, cut-off shards, sizes that do not add up). */
  damaged: string[];
  /** Bytes of the files already there and sound. */
  presentBytes: number;
}

/** How far the cached snapshot is from what the server needs (the same facts model.files judges). */
export function snapshotState(m: ModelFolderFacts): SnapshotState {
  const visible = m.files.filter((f) => !f.path.split('/').some((p) => p.startsWith('.')));
  const missing: string[] = [];
  const damaged: string[] = [];
  const has = (name: string) => visible.some((f) => f.path === name && f.type === 'file' && !f.lfsPointer);
  if (!visible.some((f) => f.path === CONFIG_FILE && f.type === 'file')) missing.push(CONFIG_FILE);
  if (!m.tokenizer.tokenizerConfig) missing.push(TOKENIZER_CONFIG_FILE);
  if (!m.tokenizer.tokenizerJson && !m.tokenizer.vocabAndMerges) missing.push(has(BPE_VOCAB_FILES[0]) ? BPE_VOCAB_FILES[1] : FAST_TOKENIZER_FILE);
  for (const shard of m.shards) if (!shard.present) missing.push(shard.name);
  if (m.shards.length === 0 && !m.index && !m.indexProblem) missing.push('the weights (*.safetensors)');
  // A link whose blob is gone is a file to fetch again, not a damaged one.
  for (const f of visible) if (f.type === 'broken-link' && !missing.includes(f.path)) missing.push(f.path);

  for (const f of visible) if (f.lfsPointer) damaged.push(`${f.path} is a Git LFS pointer`);
  if (m.configProblem && !damaged.some((d) => d.startsWith(CONFIG_FILE))) damaged.push(m.configProblem);
  if (m.indexProblem) damaged.push(m.indexProblem);
  for (const s of m.shards) {
    if (s.problem) damaged.push(`${s.name}: ${s.problem}`);
    else if (s.dataBytes !== null && s.declaredDataBytes !== null && s.declaredDataBytes > s.dataBytes) damaged.push(`${s.name} is cut off`);
  }
  const readable = m.shards.filter((s) => s.present && !s.lfsPointer && s.dataBytes !== null);
  const total = m.index?.totalSize ?? null;
  if (total !== null && m.shards.length > 0 && readable.length === m.shards.length) {
    const tensorBytes = readable.reduce((sum, s) => sum + s.dataBytes!, 0);
    if (tensorBytes !== total) damaged.push(`the shards hold ${tensorBytes} bytes of tensors, the index says ${total}`);
  }
  const presentBytes = visible.filter((f) => f.type === 'file' && !f.lfsPointer).reduce((sum, f) => sum + f.sizeBytes, 0);
  return { state: damaged.length > 0 ? 'damaged' : missing.length > 0 ? 'partial' : 'complete', missing, damaged, presentBytes };
}

/** How the user gets a damaged cache entry downloaded afresh. */
export function redownloadFix(m: ModelFolderFacts | null, settings: Settings): string {
  const repoDir = m?.hubSnapshot?.repoDir ?? settings.hub?.repoDirs[0] ?? '';
  return `remove the cached copy so the server downloads it again: rm -rf ${shellQuote(repoDir)}${settings.hub?.source === 'hf' ? ` (or huggingface-cli delete-cache)` : ''}`;
}

/**
 * For the folder checks (model.mount, model.files, model.permissions) with a hub source: a
 * reason to skip when there is no complete-enough snapshot to judge, else null.
 */
export function hubSnapshotSkip(model: ModelFolderFacts | null, settings: Settings): Judgement | null {
  const hub = settings.hub;
  if (!hub) return null;
  if (!model) {
    return { status: 'skip', summary: `${hub.repoId} is not in the cache (${hub.cacheDir}) yet; the server downloads it at start (see model.source)` };
  }
  const state = snapshotState(model);
  if (state.state === 'partial') {
    return { status: 'skip', summary: `the cache holds part of ${hub.repoId} (${plural(state.missing.length, 'file')} to fetch, e.g. ${state.missing[0]}); the server downloads the rest at start (see model.source)` };
  }
  return null;
}

export const modelSource = defineCheck({
  id: 'model.source',
  title: 'Model available (cache or download)',
  needs: ['hub', 'model'],
  skip: (settings) => (settings.hub ? null : `the model is the folder given with ${settings.mount ? '--model-dir/--mount' : '--model-dir'} (--source dir); model.mount and model.files judge it`),
  judge({ hub, model }, settings): Judgement {
    if (!hub || !settings.hub) return { status: 'skip', summary: 'no hub source' };
    const judged = judgeSource(hub, model, settings);
    // A fleet host that could not ask the hub itself: the verdict says where it was judged from.
    if (!hub.judgedFrom || hub.offline) return judged;
    return { ...judged, summary: `${judged.summary}; ${hub.judgedFrom}`, measured: { ...judged.measured, judgedFrom: hub.judgedFrom } };
  },
});

function judgeSource(hub: HubFacts, m: ModelFolderFacts | null, settings: Settings): Judgement {
  const repo = hub.repoId;
  const hubName = hub.source === 'hf' ? 'the Hugging Face Hub' : 'ModelScope';
  const where = `${hub.endpoint}${hub.endpointFrom ? ` (${hub.endpointFrom})` : ''}`;
  const snap = m ? snapshotState(m) : null;
  const totalBytes = hub.downloadBytes ?? publishedDownloadBytes(settings.model);
  const remainingBytes = Math.max(0, totalBytes - (snap?.presentBytes ?? 0));
  const requiredBytes = remainingBytes + LOW_DISK_BYTES;
  const measured: Record<string, unknown> = {
    source: hub.source,
    repo,
    endpoint: hub.endpoint,
    endpointFrom: hub.endpointFrom,
    offline: hub.offline,
    tokenFrom: hub.tokenFrom,
    cacheDir: hub.cacheDir,
    snapshot: m?.hubSnapshot?.snapshotDir ?? null,
    cachedRevision: m?.hubSnapshot?.revision ?? null,
    cached: snap?.state ?? 'absent',
    missingFiles: snap?.missing.length ?? null,
    hubState: hub.state,
    hubStatus: hub.status,
    hubLatencyMs: hub.latencyMs,
    hubRevision: hub.revision,
    gated: hub.gated,
    access: hub.access,
    downloadBytes: totalBytes,
    downloadBytesFrom: hub.downloadBytes !== null ? 'hub listing' : 'published size',
    remainingBytes,
    diskPath: hub.diskPath,
    diskFreeBytes: hub.diskFreeBytes,
    requiredBytes,
  };
  const details: string[] = [];
  if (hub.tokenFrom) details.push(`token from ${hub.tokenFrom} (not shown)`);
  const fail = (summary: string, fix: string): Judgement => ({ status: 'fail', summary, fix, measured, details });

  if (settings.server === 'web') {
    return fail(
      `the web image loads a model folder and does not download from a hub, so --source ${hub.source} cannot serve it`,
      `download the model (huggingface-cli download ${repo} --local-dir ./${settings.model.name}) and give --model-dir ./${settings.model.name}`,
    );
  }

  if (snap?.state === 'damaged') {
    return fail(`the cached copy of ${repo} in ${m!.hubSnapshot!.snapshotDir} is damaged: ${snap.damaged[0]}${snap.damaged.length > 1 ? ` (and ${plural(snap.damaged.length - 1, 'more problem')})` : ''}; the server would load it as it is`, redownloadFix(m, settings));
  }

  if (snap?.state === 'complete') {
    const shards = m!.shards.length;
    const newer = hub.revision && m!.hubSnapshot?.revision && hub.revision !== m!.hubSnapshot.revision;
    if (newer) details.push(`the hub's main is now ${hub.revision!.slice(0, 12)}, the cache holds ${m!.hubSnapshot!.revision!.slice(0, 12)}: the server fetches the files that changed`);
    if (hub.state === 'unreachable') details.push(`${hubName} at ${where} cannot be reached (${hub.problem}); the server uses the cached copy`);
    const offline = hub.offline ? '; HF_HUB_OFFLINE is on, so the server loads it without contacting the hub' : '';
    return {
      status: 'pass',
      summary: `${repo} is complete in the cache (${m!.hubSnapshot!.snapshotDir}: ${shards === 1 ? '1 weight file' : `${shards} shards`}, ${bytesHuman(snap.presentBytes)})${offline}`,
      measured,
      details,
    };
  }

  const cached = snap ? `the cache holds part of ${repo} (${plural(snap.missing.length, 'file')} missing, e.g. ${snap.missing[0]})` : `${repo} is not in the cache (${hub.cacheDir})`;
  if (hub.offline) {
    return fail(
      `HF_HUB_OFFLINE is on and ${cached}: the server may not download it, so it cannot start`,
      `unset HF_HUB_OFFLINE to let the server download it, or fill the cache first where the hub can be reached: ${fillCacheCommand(settings)}`,
    );
  }
  if (hub.state === 'unreachable' && hub.proxyFrom) {
    // Only the direct route was tried: through the proxy the server may well get there.
    return {
      status: 'warn',
      summary: `${cached}, and ${hubName} at ${where} cannot be reached directly (${hub.problem}); ${hub.proxyFrom} is set, and the doctor does not go through proxies, so the download could not be confirmed`,
      fix: `give the server the proxy too: --env ${hub.proxyFrom}=... (and NO_PROXY if needed); or download first and give --model-dir`,
      measured,
      details,
    };
  }
  if (hub.state === 'unreachable') {
    return fail(
      `${cached}, and ${hubName} at ${where} cannot be reached from this host: ${hub.problem}`,
      hub.source === 'hf'
        ? `check the network or proxy; or point HF_ENDPOINT at a mirror this host can reach (e.g. export HF_ENDPOINT=${HF.mirrorExample}); or use --source modelscope; or download elsewhere and give --model-dir`
        : `check the network or proxy; or use --source hf (with HF_ENDPOINT for a mirror); or download elsewhere and give --model-dir`,
    );
  }
  const said = hub.errorMessage ? `: "${hub.errorMessage}"` : '';
  const code = hub.errorCode ? ` ${hub.errorCode}` : '';
  const page = hub.source === 'hf' ? HF.repoPage(hub.endpoint, repo) : `${hub.endpoint}/models/${repo}`;
  if (hub.access === 'needs-token') {
    const what = hub.errorCode === 'GatedRepo' || hub.gated ? 'is gated' : 'is private (or hidden)';
    return fail(
      `${cached}, and ${repo} ${what}: ${hubName} answers ${hub.accessStatus ?? hub.status}${code} without a token${said}`,
      `accept the conditions at ${page} and give the server a read token: export ${hub.source === 'hf' ? 'HF_TOKEN' : 'MODELSCOPE_API_TOKEN'}=... (or run huggingface-cli login); it is passed to the container by name and never printed`,
    );
  }
  if (hub.access === 'denied') {
    return fail(
      `${cached}, and the token (from ${hub.tokenFrom ?? 'the environment'}) may not fetch ${repo}: ${hubName} answers ${hub.accessStatus ?? hub.status}${code}${said}`,
      `ask for access at ${page} with the token's account, or use a token of an account that has it`,
    );
  }
  if (hub.access === 'not-found') {
    return fail(
      `${cached}, and ${hubName} at ${where} does not know ${repo} (${hub.status}${code}${said})`,
      hub.endpointFrom ? `check that the mirror ${hub.endpoint} serves ${repo}, or unset ${hub.endpointFrom}` : `check the model name (--model) and the token`,
    );
  }
  if (hub.status !== 200 || hub.access === 'unknown') {
    return fail(
      `${cached}, and ${hubName} at ${where} answered ${hub.status}${code}${said}${hub.problem ? `; ${hub.problem}` : ''}: the download cannot be confirmed`,
      `try again later, or point ${hub.source === 'hf' ? 'HF_ENDPOINT' : 'MODELSCOPE_DOMAIN'} at another mirror; or download elsewhere and give --model-dir`,
    );
  }
  if (hub.diskFreeBytes !== null && hub.diskFreeBytes < requiredBytes) {
    return fail(
      `${cached}; downloading it needs about ${bytesHuman(remainingBytes)} plus a ${bytesHuman(LOW_DISK_BYTES)} margin, but ${hub.diskPath} has ${bytesHuman(hub.diskFreeBytes)} free`,
      `free space on that disk, or keep the cache on a bigger one (export ${hub.source === 'hf' ? 'HF_HOME' : 'MODELSCOPE_CACHE'}=/path/on/a/bigger/disk)`,
    );
  }
  const access = hub.access === 'granted' ? `gated, access granted to the token from ${hub.tokenFrom}` : 'public';
  const disk = hub.diskFreeBytes === null ? 'free disk unknown' : `${bytesHuman(hub.diskFreeBytes)} free at ${hub.diskPath}`;
  return {
    status: hub.diskFreeBytes === null ? 'warn' : 'pass',
    summary: `${cached}; the server downloads about ${bytesHuman(remainingBytes)} from ${where} at start (answers in ${ms(hub.latencyMs)}; ${access}); ${disk}`,
    fix: hub.diskFreeBytes === null ? `make sure ${hub.diskPath} has ${bytesHuman(requiredBytes)} free` : undefined,
    measured,
    details,
  };
}

function fillCacheCommand(settings: Settings): string {
  const hub = settings.hub!;
  if (hub.source === 'modelscope') return `modelscope download --model ${hub.repoId}`;
  return `huggingface-cli download ${hub.repoId}`;
}
