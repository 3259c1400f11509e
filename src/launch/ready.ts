/**
 * Waiting until a server answers. vLLM refuses connections while it loads the weights, then
 * `GET /health` answers 200 and `GET /v1/models` lists the served name; the web image listens
 * at once and is "ready" when it answers HTTP at all (its first /judge is the slow part).
 * Refused or reset connections are normal while loading. The poll backs off from 50 ms to at
 * most 250 ms: readiness is noticed within a quarter second (the benchmark wants a median
 * under 300 ms, which a 500 ms cap only meets by luck of phase), and a refused connection
 * on loopback costs next to nothing, even four times a second for fifteen minutes.
 * A server that answers /health but refuses /v1/models for want of an API key is not ready
 * for the doctor: that ends the wait at once, naming the cause and --api-key-env.
 */
import { authHeaders, unauthorizedProblem, type ApiKey } from '../api-key.js';
import { HttpError, joinUrl, parseJson, request } from '../http.js';
import type { ServerKind } from '../types.js';
import { sleep } from '../timing.js';

export const POLL_START_MS = 50;
export const POLL_CAP_MS = 250;
/** One readiness request; a loading server refuses at once, a live one answers in milliseconds. */
const ATTEMPT_TIMEOUT_MS = 2_000;

export interface ReadyOptions {
  url: string;
  server: ServerKind;
  /** vllm: the name /v1/models must list; null takes whatever it lists first. */
  servedModelName: string | null;
  timeoutMs: number;
  /** Sent on /v1/models (vllm). */
  apiKey?: ApiKey | null;
  signal?: AbortSignal;
  /** Called after every attempt that did not succeed, with what was seen. */
  onWaiting?: (state: { elapsedMs: number; lastProblem: string }) => void;
}

export type ReadyOutcome =
  | { kind: 'ready'; elapsedMs: number; servedModelName: string | null; detail: string }
  | { kind: 'timeout'; elapsedMs: number; lastProblem: string }
  | { kind: 'wrong-model'; elapsedMs: number; listed: string[]; detail: string }
  | { kind: 'unauthorized'; elapsedMs: number; detail: string; fix: string }
  | { kind: 'aborted'; elapsedMs: number; reason: unknown };

type Attempt =
  | { ready: true; servedModelName: string | null; detail: string }
  | { ready: false; problem: string; wrongModel?: string[]; unauthorizedFix?: string };


function describe(error: unknown): string {
  if (error instanceof HttpError) {
    if (error.kind === 'refused') return 'connection refused (the server is still loading)';
    if (error.kind === 'reset') return 'connection reset (the server is still starting)';
    return error.message;
  }
  return String(error);
}

/** vLLM's /v1/models: `{"object":"list","data":[{"id":"Qwen3Guard-Gen-8B",...}]}`. */
export function listedModels(body: string): string[] | null {
  const parsed = parseJson(body) as { data?: { id?: unknown }[] } | undefined;
  if (!parsed || !Array.isArray(parsed.data)) return null;
  return parsed.data.map((m) => m?.id).filter((id): id is string => typeof id === 'string');
}

async function attemptVllm(url: string, wanted: string | null, apiKey: ApiKey | null, timeoutMs: number, signal?: AbortSignal): Promise<Attempt> {
  const health = await request({ url: joinUrl(url, '/health'), timeoutMs, signal, maxBodyBytes: 64 * 1024 });
  if (health.status !== 200) return { ready: false, problem: `GET /health answered ${health.status}` };
  const models = await request({ url: joinUrl(url, '/v1/models'), headers: authHeaders(apiKey, '/v1/models'), timeoutMs, signal, maxBodyBytes: 256 * 1024 });
  if (models.status === 401 || models.status === 403) {
    const { summary, fix } = unauthorizedProblem(apiKey, 'GET /v1/models', models.status);
    return { ready: false, problem: `GET /health 200, but ${summary}`, unauthorizedFix: fix };
  }
  if (models.status !== 200) return { ready: false, problem: `GET /v1/models answered ${models.status}` };
  const listed = listedModels(models.body);
  if (listed === null) return { ready: false, problem: 'GET /v1/models did not answer an OpenAI model list' };
  if (listed.length === 0) return { ready: false, problem: 'GET /v1/models lists no model yet' };
  if (wanted === null) return { ready: true, servedModelName: listed[0]!, detail: `GET /health 200, /v1/models lists ${listed.join(', ')}` };
  if (listed.includes(wanted)) return { ready: true, servedModelName: wanted, detail: `GET /health 200, /v1/models lists ${wanted}` };
  return { ready: false, problem: `GET /v1/models lists ${listed.join(', ')}, not ${wanted}`, wrongModel: listed };
}

async function attemptWeb(url: string, timeoutMs: number, signal?: AbortSignal): Promise<Attempt> {
  // Any HTTP answer means it listens; the real image has no /health, so GET / (an HTML page).
  const response = await request({ url: joinUrl(url, '/'), timeoutMs, signal, maxBodyBytes: 64 * 1024 });
  return { ready: true, servedModelName: null, detail: `GET / answered ${response.status}` };
}

export async function waitUntilReady(options: ReadyOptions): Promise<ReadyOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let delayMs = POLL_START_MS;
  let lastProblem = 'no answer yet';
  for (;;) {
    if (options.signal?.aborted) return { kind: 'aborted', elapsedMs: elapsed(), reason: options.signal.reason };
    const remaining = options.timeoutMs - elapsed();
    if (remaining <= 0) return { kind: 'timeout', elapsedMs: elapsed(), lastProblem };
    let attempt: Attempt;
    const limit = Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, remaining));
    try {
      attempt = options.server === 'vllm' ? await attemptVllm(options.url, options.servedModelName, options.apiKey ?? null, limit, options.signal) : await attemptWeb(options.url, limit, options.signal);
    } catch (error) {
      attempt = { ready: false, problem: describe(error) };
    }
    if (options.signal?.aborted) return { kind: 'aborted', elapsedMs: elapsed(), reason: options.signal.reason };
    if (attempt.ready) return { kind: 'ready', elapsedMs: elapsed(), servedModelName: attempt.servedModelName, detail: attempt.detail };
    if (attempt.wrongModel) return { kind: 'wrong-model', elapsedMs: elapsed(), listed: attempt.wrongModel, detail: attempt.problem };
    if (attempt.unauthorizedFix) return { kind: 'unauthorized', elapsedMs: elapsed(), detail: attempt.problem, fix: attempt.unauthorizedFix };
    // An attempt the deadline cut short ("no answer ... within 0.0 s") says nothing new: keep what the full attempts saw.
    const cutShort = limit < ATTEMPT_TIMEOUT_MS && /^no answer from /.test(attempt.problem) && lastProblem !== 'no answer yet';
    if (!cutShort) lastProblem = attempt.problem;
    options.onWaiting?.({ elapsedMs: elapsed(), lastProblem });
    await sleep(Math.min(delayMs, Math.max(0, options.timeoutMs - elapsed())), options.signal);
    delayMs = Math.min(POLL_CAP_MS, Math.round(delayMs * 1.5));
  }
}
