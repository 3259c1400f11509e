/**
 * The hub probe (`--source hf|modelscope`): can this host reach the hub the server will
 * download from, what does the repo hold (files and sizes), and may this host fetch it (a
 * gated or private repo wants a token)? It asks exactly what the client libraries ask:
 * Hugging Face `GET /api/models/{repo}/revision/main?blobs=true` (model info with file sizes)
 * and, for a gated repo, `HEAD /{repo}/resolve/main/config.json` with the token, as
 * hf_hub_download does before a download; ModelScope `GET /api/v1/models/{repo}/repo/files`.
 * With HF_HUB_OFFLINE it asks nothing. Every request is under the probe's time limit, and
 * the token only ever goes into an Authorization header.
 */
import { statfs, stat } from 'node:fs/promises';
import path from 'node:path';
import { HF, HF_ERROR_CODES, MODELSCOPE } from '../data/hub.js';
import { HttpError, parseJson, request, type HttpResponse } from '../http.js';
import type { HubSettings } from '../hub-settings.js';
import type { HubAccess, HubFacts, HubFile } from '../facts.js';
import type { Settings } from '../settings.js';
import { VERSION } from '../version.js';


export async function probeHub(settings: Settings): Promise<HubFacts | null> {
  const hub = settings.hub;
  if (!hub) return null;
  return inspectHub(hub, settings.probeTimeoutMs);
}

export async function inspectHub(hub: HubSettings, timeoutMs: number): Promise<HubFacts> {
  const disk = await diskFree(hub.cacheDir);
  const facts: HubFacts = {
    source: hub.source,
    repoId: hub.repoId,
    endpoint: hub.endpoint,
    endpointFrom: hub.endpointFrom,
    offline: hub.offline,
    tokenFrom: hub.tokenFrom,
    proxyFrom: hub.proxyFrom,
    state: 'offline',
    problem: null,
    status: null,
    errorCode: null,
    errorMessage: null,
    latencyMs: null,
    revision: null,
    gated: null,
    private: null,
    files: null,
    downloadBytes: null,
    access: 'unknown',
    accessStatus: null,
    cacheDir: hub.cacheDir,
    diskPath: disk.path,
    diskFreeBytes: disk.freeBytes,
  };
  if (hub.offline) return facts;

  const deadline = performance.now() + timeoutMs;
  const remaining = () => Math.max(1, Math.round(deadline - performance.now()));
  const headers: Record<string, string> = { 'user-agent': `guard-doctor/${VERSION}`, accept: 'application/json' };
  if (hub.token) headers.authorization = `Bearer ${hub.token}`;
  const url = hub.endpoint + (hub.source === 'hf' ? HF.modelInfoPath(hub.repoId) : MODELSCOPE.filesPath(hub.repoId));

  let answer: HttpResponse;
  try {
    answer = await request({ url, headers, timeoutMs: remaining(), maxBodyBytes: 4 * 1024 * 1024 });
  } catch (error) {
    facts.state = 'unreachable';
    facts.problem = error instanceof HttpError ? error.message : String(error);
    return facts;
  }
  facts.state = 'answered';
  facts.status = answer.status;
  facts.latencyMs = answer.durationMs;
  readError(facts, answer);
  if (hub.source === 'hf') await judgeHf(facts, answer, hub, headers, remaining);
  else judgeModelScope(facts, answer);
  return facts;
}

function header(response: HttpResponse, name: string): string | null {
  const value = response.headers[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : Array.isArray(value) && value[0] ? value[0] : null;
}

function readError(facts: HubFacts, response: HttpResponse): void {
  if (response.status >= 200 && response.status < 300) return;
  facts.errorCode = header(response, 'x-error-code');
  const body = parseJson(response.body) as { error?: unknown; Message?: unknown } | undefined;
  const fromBody = typeof body?.error === 'string' ? body.error : typeof body?.Message === 'string' ? body.Message : null;
  facts.errorMessage = header(response, 'x-error-message') ?? fromBody ?? (response.body.trim().slice(0, 200) || null);
}

async function judgeHf(facts: HubFacts, answer: HttpResponse, hub: HubSettings, headers: Record<string, string>, remaining: () => number): Promise<void> {
  if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
    if (facts.errorCode === HF_ERROR_CODES.gated) facts.access = answer.status === 403 ? 'denied' : 'needs-token';
    // A 401 without a repo error code answers the token itself (expired, revoked, mistyped).
    else if (answer.status === 401 && hub.token && facts.errorCode !== HF_ERROR_CODES.notFound) facts.access = 'denied';
    else facts.access = hub.token ? 'not-found' : answer.status === 404 ? 'not-found' : 'needs-token';
    return;
  }
  if (answer.status !== 200) return;
  const info = parseJson(answer.body) as { sha?: unknown; gated?: unknown; private?: unknown; siblings?: unknown } | undefined;
  if (!info || typeof info !== 'object') {
    facts.errorMessage = 'the model-info answer is not JSON';
    return;
  }
  facts.revision = typeof info.sha === 'string' ? info.sha : null;
  facts.gated = info.gated === 'auto' || info.gated === 'manual' ? info.gated : info.gated === false ? false : null;
  facts.private = typeof info.private === 'boolean' ? info.private : null;
  if (Array.isArray(info.siblings)) {
    facts.files = info.siblings
      .filter((s): s is { rfilename: string; size?: unknown; lfs?: { size?: unknown } } => typeof (s as { rfilename?: unknown })?.rfilename === 'string')
      .map((s) => ({ name: s.rfilename, sizeBytes: typeof s.size === 'number' ? s.size : typeof s.lfs?.size === 'number' ? s.lfs.size : null }));
    facts.downloadBytes = facts.files.length > 0 && facts.files.every((f) => f.sizeBytes !== null) ? facts.files.reduce((sum, f) => sum + f.sizeBytes!, 0) : null;
  }
  if (!facts.gated) {
    facts.access = 'open';
    return;
  }
  // A gated repo's listing is public; whether files may be fetched shows only on a file request.
  try {
    const head = await request({ url: hub.endpoint + HF.resolvePath(hub.repoId, 'config.json'), method: 'HEAD', headers, timeoutMs: remaining(), maxBodyBytes: 64 * 1024 });
    facts.accessStatus = head.status;
    if (head.status >= 200 && head.status < 400) facts.access = 'granted';
    else {
      const code = header(head, 'x-error-code');
      const message = header(head, 'x-error-message');
      if (code) facts.errorCode = code;
      if (message) facts.errorMessage = message;
      facts.access = head.status === 403 ? 'denied' : head.status === 401 ? 'needs-token' : head.status === 404 ? 'not-found' : 'unknown';
    }
  } catch (error) {
    facts.problem = `the access check on the gated repo failed: ${error instanceof HttpError ? error.message : String(error)}`;
  }
}

function judgeModelScope(facts: HubFacts, answer: HttpResponse): void {
  const body = parseJson(answer.body) as { Code?: unknown; Success?: unknown; Message?: unknown; Data?: { Files?: unknown } } | undefined;
  if (answer.status === 401 || answer.status === 403) {
    facts.access = 'needs-token';
    return;
  }
  if (answer.status === 404 || (body && body.Code !== undefined && body.Code !== 200 && body.Success === false)) {
    facts.access = 'not-found';
    if (typeof body?.Message === 'string') facts.errorMessage = body.Message;
    return;
  }
  if (answer.status !== 200 || !body || !Array.isArray(body.Data?.Files)) return;
  facts.access = 'open';
  facts.files = (body.Data!.Files as { Path?: unknown; Name?: unknown; Size?: unknown; Type?: unknown }[])
    .filter((f) => f.Type !== 'tree' && (typeof f.Path === 'string' || typeof f.Name === 'string'))
    .map((f) => ({ name: String(f.Path ?? f.Name), sizeBytes: typeof f.Size === 'number' ? f.Size : null }));
  facts.downloadBytes = facts.files.length > 0 && facts.files.every((f) => f.sizeBytes !== null) ? facts.files.reduce((sum, f) => sum + f.sizeBytes!, 0) : null;
}

/** Free bytes where the cache is, or would be created (its nearest existing parent). */
async function diskFree(dir: string): Promise<{ path: string; freeBytes: number | null }> {
  let current = path.resolve(dir);
  for (;;) {
    if (await stat(current).catch(() => null)) break;
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  try {
    const s = await statfs(current);
    return { path: current, freeBytes: Number(s.bavail) * Number(s.bsize) };
  } catch {
    return { path: current, freeBytes: null };
  }
}
