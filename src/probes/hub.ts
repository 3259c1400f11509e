/**
 * The hub probe (`--source hf|modelscope`): can this host reach the hub the server will
 * download from, what does the repo hold (files and sizes), and may this host fetch it (a
 * gated or private repo wants a token)? It asks exactly what the client libraries ask:
 * Hugging Face `GET /api/models/{repo}/revision/main?blobs=true` (model info with file sizes)
 * and, for a gated repo, `HEAD /{repo}/resolve/main/config.json` with the token, as
 * hf_hub_download does before a download; ModelScope `GET /api/v1/models/{repo}/repo/files`.
 * With HF_HUB_OFFLINE it asks nothing. Every request is under the probe's time limit, and
 * the token only ever goes into an Authorization header.
 *
 * On a fleet host (hub.cacheHost) the questions are asked from the host, where the server
 * will download: with the host's curl, the headers (token included) sent as a curl config on
 * standard input, so no command line on either machine holds the token. A host without curl
 * is asked from this machine instead, and the facts say so (judgedFrom), never silently.
 */
import path from 'node:path';
import { HF, HF_ERROR_CODES, MODELSCOPE } from '../data/hub.js';
import { HttpError, parseJson, request, type HttpResponse } from '../http.js';
import { errorMessage } from '../errors.js';
import { localHost, type Host, type HostFs } from '../exec.js';
import type { HubSettings } from '../hub-settings.js';
import type { HubAccess, HubFacts, HubFile } from '../facts.js';
import type { Settings } from '../settings.js';
import { VERSION } from '../version.js';


export async function probeHub(settings: Settings): Promise<HubFacts | null> {
  const hub = settings.hub;
  if (!hub) return null;
  return inspectHub(hub, settings.probeTimeoutMs);
}

/** One request to the hub: from this machine (node's http) or from a fleet host (its curl). */
type Fetch = (req: { url: string; method?: 'GET' | 'HEAD'; headers: Record<string, string>; timeoutMs: number; maxBodyBytes: number }) => Promise<HttpResponse>;

const fetchHere: Fetch = (req) => request(req);

/** The host has no curl: the request cannot be made from there. */
class NoCurl extends Error {}

/** curl's config-file quoting: inside double quotes, backslash and quote are escaped. */
function curlConfigValue(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]/g, ' ')}"`;
}

/**
 * `HTTP/1.1 200 OK\r\nname: value\r\n\r\nbody` as curl -D - writes it (interim 1xx blocks and a
 * proxy's "Connection established" come first and are skipped).
 */
export function parseCurlOutput(output: string): { status: number; headers: Record<string, string>; body: string } | null {
  let rest = output;
  for (;;) {
    const m = /^HTTP\/[\d.]+ (\d{3})[^\n]*\n/.exec(rest);
    if (!m) return null;
    const end = rest.search(/\r?\n\r?\n/);
    const block = end === -1 ? rest : rest.slice(0, end);
    const after = end === -1 ? '' : rest.slice(end).replace(/^\r?\n\r?\n/, '');
    const status = Number(m[1]);
    if ((status < 200 || /^HTTP\/[\d.]+ 200 Connection established/i.test(m[0])) && after.startsWith('HTTP/')) {
      rest = after;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of block.split(/\r?\n/).slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return { status, headers, body: after };
  }
}

/** Requests made by the host's curl; headers (the token among them) travel on standard input, never in argv. */
export function fetchFrom(host: Host): Fetch {
  return async (req) => {
    const seconds = Math.max(1, Math.ceil(req.timeoutMs / 1000));
    const config = Object.entries(req.headers).map(([name, value]) => `header = ${curlConfigValue(`${name}: ${value}`)}`).join('\n') + '\n';
    const head = req.method === 'HEAD' ? ['--head', '--output', '/dev/null'] : [];
    const args = ['--silent', '--show-error', '--dump-header', '-', '--max-time', String(seconds), '--max-filesize', String(req.maxBodyBytes), ...head, '--config', '-', '--url', req.url];
    const result = await host.run('curl', args, { timeoutMs: req.timeoutMs + 2_000, input: config, maxBuffer: req.maxBodyBytes + 256 * 1024 });
    if (result.notFound) throw new NoCurl(`curl is not installed on ${host.label}`);
    if (result.timedOut) throw new Error(`no answer from ${req.url} within ${seconds} s (asked from ${host.label} with curl)`);
    if (result.exitCode !== 0) {
      const words = result.stderr.trim().split('\n').filter(Boolean).pop()?.replace(/^curl: /, '') ?? `curl exited with code ${result.exitCode}`;
      throw new Error(`${words} (asked from ${host.label} with curl)`);
    }
    const parsed = parseCurlOutput(result.stdout);
    if (!parsed) throw new Error(`curl on ${host.label} printed no HTTP answer for ${req.url}`);
    return { ...parsed, truncated: false, bytes: Buffer.byteLength(parsed.body), durationMs: result.durationMs };
  };
}

export async function inspectHub(hub: HubSettings, timeoutMs: number): Promise<HubFacts> {
  const where = hub.cacheHost ?? localHost;
  if (!where.remote) return inspectHubWith(hub, timeoutMs, fetchHere, where.fs);
  try {
    return await inspectHubWith(hub, timeoutMs, fetchFrom(where), where.fs, true);
  } catch (error) {
    if (!(error instanceof NoCurl)) throw error;
    const facts = await inspectHubWith(hub, timeoutMs, fetchHere, where.fs);
    return { ...facts, judgedFrom: `the hub was asked from this machine, not from ${where.label} (${error.message}): whether ${where.label} reaches it is not known` };
  }
}

async function inspectHubWith(hub: HubSettings, timeoutMs: number, fetch: Fetch, fs: HostFs, rethrowNoCurl = false): Promise<HubFacts> {
  const disk = await diskFree(hub.cacheDir, fs);
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
    answer = await fetch({ url, headers, timeoutMs: remaining(), maxBodyBytes: 4 * 1024 * 1024 });
  } catch (error) {
    if (rethrowNoCurl && error instanceof NoCurl) throw error;
    facts.state = 'unreachable';
    facts.problem = error instanceof HttpError ? error.message : errorMessage(error);
    return facts;
  }
  facts.state = 'answered';
  facts.status = answer.status;
  facts.latencyMs = answer.durationMs;
  readError(facts, answer);
  if (hub.source === 'hf') await judgeHf(facts, answer, hub, headers, remaining, fetch);
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

async function judgeHf(facts: HubFacts, answer: HttpResponse, hub: HubSettings, headers: Record<string, string>, remaining: () => number, fetch: Fetch): Promise<void> {
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
    const head = await fetch({ url: hub.endpoint + HF.resolvePath(hub.repoId, 'config.json'), method: 'HEAD', headers, timeoutMs: remaining(), maxBodyBytes: 64 * 1024 });
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
    facts.problem = `the access check on the gated repo failed: ${error instanceof HttpError ? error.message : errorMessage(error)}`;
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

/** Free bytes where the cache is, or would be created (its nearest existing parent), on the machine that holds it. */
async function diskFree(dir: string, fs: HostFs): Promise<{ path: string; freeBytes: number | null }> {
  let current = path.resolve(dir);
  for (;;) {
    if (await fs.stat(current).catch(() => null)) break;
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  try {
    return { path: current, freeBytes: await fs.freeBytes(current) };
  } catch {
    return { path: current, freeBytes: null };
  }
}
