/**
 * The client for a running guard server, both protocols:
 * - vllm: `POST /v1/chat/completions` at temperature 0 with the served model name (asked from
 *   `GET /v1/models` when not given). A text is one user message (prompt moderation); a
 *   conversation is sent as it is (response moderation when its last turn is the assistant's).
 * - web: `POST /judge` with `{"text": ...}` and `Content-Type: application/json`; the model's
 *   text is read from `result` (also `output` or `response`) and the app's own `level` is kept
 *   as `serverLevel`. The web image moderates one text, so a conversation is joined into one:
 *   each turn on its own line as `User: ...` / `Assistant: ...`, turns separated by a blank line.
 *
 * `moderate()` resolves for every HTTP answer (check `ok`, `status`, `problem`) and rejects with
 * GuardClientError only when no answer came back (time limit, refused, reset). Retries: only
 * for 429, 5xx and network errors (not for a time limit: that would multiply the wait), at most
 * 2, with backoff that honours `Retry-After`. Bodies are read up to `maxBodyBytes` (1 MiB);
 * a longer answer is cut off and reported, not buffered.
 * With an API key every `/v1` request carries `Authorization: Bearer`; a 401 from a `/v1` path
 * rejects with GuardClientError kind `unauthorized`, naming the cause and the option to fix it.
 */
import { authHeaders, needsKey, unauthorizedProblem, type ApiKey } from './api-key.js';
import { DEFAULT_MAX_BODY_BYTES, HttpError, joinUrl, parseJson, request, type HttpFailureKind, type HttpResponse } from './http.js';
import { parseVerdict, toVerdict, type ParsedVerdict } from './verdict.js';
import type { ServerKind, Verdict } from './types.js';
import { sleep } from './timing.js';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export type GuardInput = { text: string } | { messages: ChatMessage[] };

export interface GuardClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8000. */
  url: string;
  server: ServerKind;
  /** Served model name (vllm), sent as is; asked from /v1/models when not given. */
  model?: string;
  /**
   * The model the user named (vllm), matched against /v1/models case-insensitively, whole or
   * as the last path segment (a server started without --served-model-name lists its path).
   * Used as given when /v1/models cannot be read (e.g. it needs an API key).
   */
  preferModel?: string;
  /** Time limit of one request (each attempt). */
  timeoutMs: number;
  maxBodyBytes?: number;
  /** Retries after the first attempt (0..2, default 2). */
  retries?: number;
  /** First backoff step; doubles per retry (default 250 ms). */
  backoffMs?: number;
  /** Longest wait a `Retry-After` may ask for (default 30 s). */
  maxRetryAfterMs?: number;
  /** `max_tokens` for vllm: the official answer is three short lines. */
  maxTokens?: number;
  /** Sent on every /v1 request (a vLLM server started with --api-key or VLLM_API_KEY). */
  apiKey?: ApiKey | null;
  signal?: AbortSignal;
}

export interface ModerationResult {
  verdict: Verdict;
  /** The verdict with how it was read (format, whether categories were named, why unknown). */
  parsed: ParsedVerdict;
  /** The model's text (the whole body when no text could be found in it). */
  raw: string;
  /** Time of the attempt that answered. */
  latencyMs: number;
  /** Time from the first attempt to the answer, backoff included. */
  totalMs: number;
  status: number;
  /** 2xx and a text to read. */
  ok: boolean;
  /** web: the level the server's own app derived from its text. */
  serverLevel?: string;
  /** Why the answer is not a readable verdict (HTTP error message, cut-off body, no text), one line. */
  problem?: string;
  /** The response body was longer than maxBodyBytes and was cut off. */
  truncated: boolean;
  /** HTTP requests sent for this moderation (1 + retries). */
  attempts: number;
  /** Bytes of the request body sent (one attempt). */
  requestBytes: number;
}

export class GuardClientError extends Error {
  constructor(
    readonly kind: HttpFailureKind | 'protocol' | 'unauthorized',
    message: string,
    readonly attempts: number,
    readonly latencyMs: number,
    /** What to do, when the doctor knows (a 401: the key option). */
    readonly fix?: string,
  ) {
    super(message);
    this.name = 'GuardClientError';
  }
}

export interface GuardClient {
  readonly server: ServerKind;
  readonly url: string;
  moderate(input: GuardInput): Promise<ModerationResult>;
  /** vllm: the served model name (given, or the first of /v1/models); web: null. */
  servedModelName(): Promise<string | null>;
  /** Moderation requests (POSTs) sent so far, retries included; /v1/models is not counted. */
  requestsSent(): number;
}

export const MAX_RETRIES = 2;
const RETRY_STATUSES = (status: number) => status === 429 || status >= 500;
const RETRY_KINDS: ReadonlySet<HttpFailureKind> = new Set(['refused', 'reset', 'network']);

/** How a conversation becomes one text for the web image (see the module comment). */
export function joinConversation(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${m.role === 'assistant' ? 'Assistant' : 'User'}: ${m.content}`).join('\n\n');
}

export function inputMessages(input: GuardInput): ChatMessage[] {
  return 'messages' in input ? input.messages : [{ role: 'user', content: input.text }];
}

export function createGuardClient(options: GuardClientOptions): GuardClient {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const retries = Math.max(0, Math.min(MAX_RETRIES, options.retries ?? MAX_RETRIES));
  const backoffMs = options.backoffMs ?? 250;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
  let sent = 0;
  let modelName: Promise<string> | null = options.model ? Promise.resolve(options.model) : null;

  /** One logical request with retries; resolves with the last HTTP answer. */
  async function send(path: string, body: string | undefined): Promise<{ response: HttpResponse; attempts: number; totalMs: number }> {
    const started = performance.now();
    let firstFailure: HttpError | null = null;
    for (let attempt = 1; ; attempt++) {
      let response: HttpResponse | null = null;
      let failure: HttpError | null = null;
      if (body !== undefined) sent += 1;
      try {
        response = await request({
          url: joinUrl(options.url, path),
          method: body === undefined ? 'GET' : 'POST',
          headers: { ...(body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' }), ...authHeaders(options.apiKey ?? null, path) },
          body,
          timeoutMs: options.timeoutMs,
          maxBodyBytes,
          signal: options.signal,
        });
      } catch (error) {
        failure = error instanceof HttpError ? error : new HttpError('network', String(error), options.url);
      }
      firstFailure ??= failure;
      if (response && response.status === 401 && needsKey(path)) {
        const { summary, fix } = unauthorizedProblem(options.apiKey ?? null, `${body === undefined ? 'GET' : 'POST'} ${path}`);
        throw new GuardClientError('unauthorized', summary, attempt, Math.round(performance.now() - started), fix);
      }
      const retryable = response ? RETRY_STATUSES(response.status) : RETRY_KINDS.has(failure!.kind);
      if (!retryable || attempt > retries) {
        const totalMs = Math.round(performance.now() - started);
        if (response) return { response, attempts: attempt, totalMs };
        const tries = attempt > 1 ? ` (${attempt} attempts)` : '';
        // "reset, then refused" tells that the server went down on this request.
        const story = firstFailure && firstFailure.kind !== failure!.kind ? `${firstFailure.message}, then ${failure!.message}` : failure!.message;
        throw new GuardClientError(failure!.kind, `${story}${tries}`, attempt, totalMs);
      }
      await sleep(retryDelay(response, attempt), options.signal);
    }
  }

  function retryDelay(response: HttpResponse | null, attempt: number): number {
    const header = response?.headers['retry-after'];
    const asked = typeof header === 'string' ? parseRetryAfter(header) : null;
    if (asked !== null) return Math.min(asked, maxRetryAfterMs);
    return backoffMs * 2 ** (attempt - 1);
  }

  async function servedModelName(): Promise<string | null> {
    if (options.server === 'web') return null;
    modelName ??= (async () => {
      const { response } = await send('/v1/models', undefined);
      const data = parseJson(response.body) as { data?: Array<{ id?: unknown }> } | undefined;
      const listed = (data?.data ?? []).map((m) => m?.id).filter((id): id is string => typeof id === 'string');
      if (response.status !== 200 || listed.length === 0) {
        if (options.preferModel) return options.preferModel;
        throw new GuardClientError(
          'protocol',
          `GET ${joinUrl(options.url, '/v1/models')} answered ${response.status} without a model list; is this a vLLM server? (give the served name with --model, or --server web for the web image)`,
          1,
          response.durationMs,
        );
      }
      if (!options.preferModel) return listed[0]!;
      const wanted = options.preferModel.toLowerCase();
      const match = listed.find((id) => id.toLowerCase() === wanted) ?? listed.find((id) => id.toLowerCase().split('/').pop() === wanted);
      if (match) return match;
      throw new GuardClientError('protocol', `the server serves ${listed.join(', ')}, not ${options.preferModel} (--model); point --url at the right server or drop --model`, 1, response.durationMs);
    })();
    try {
      return await modelName;
    } catch (error) {
      // Ask again next time instead of remembering a failure.
      modelName = null;
      throw error;
    }
  }

  async function moderate(input: GuardInput): Promise<ModerationResult> {
    const messages = inputMessages(input);
    let path: string;
    let body: string;
    if (options.server === 'web') {
      path = '/judge';
      body = JSON.stringify({ text: 'text' in input ? input.text : joinConversation(messages) });
    } else {
      path = '/v1/chat/completions';
      const model = await servedModelName();
      body = JSON.stringify({ model, messages, temperature: 0, max_tokens: options.maxTokens ?? 128 });
    }
    const { response, attempts, totalMs } = await send(path, body);
    const read = options.server === 'web' ? readWebAnswer(response) : readVllmAnswer(response);
    const parsed = read.text === null ? { ...parseVerdict(null), problem: read.problem } : parseVerdict(read.text);
    const problem = read.problem ?? (parsed.safety === 'unknown' ? `cannot read a verdict: ${parsed.problem}` : undefined);
    return {
      verdict: toVerdict(parsed),
      parsed,
      raw: read.text ?? cut(response.body, 2000),
      latencyMs: response.durationMs,
      totalMs,
      status: response.status,
      ok: response.status >= 200 && response.status < 300 && read.text !== null,
      ...(read.serverLevel !== undefined ? { serverLevel: read.serverLevel } : {}),
      ...(problem ? { problem } : {}),
      truncated: response.truncated,
      attempts,
      requestBytes: Buffer.byteLength(body),
    };
  }

  function readVllmAnswer(response: HttpResponse): { text: string | null; problem?: string; serverLevel?: string } {
    if (response.truncated) return { text: null, problem: `the answer was longer than ${maxBodyBytes} bytes and was cut off (status ${response.status})` };
    const json = parseJson(response.body) as Record<string, any> | undefined;
    if (response.status < 200 || response.status >= 300) return { text: null, problem: httpProblem(response, json) };
    const content = json?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') return { text: null, problem: 'the answer is not an OpenAI chat.completion (no choices[0].message.content)' };
    return { text: content };
  }

  function readWebAnswer(response: HttpResponse): { text: string | null; problem?: string; serverLevel?: string } {
    if (response.truncated) return { text: null, problem: `the answer was longer than ${maxBodyBytes} bytes and was cut off (status ${response.status})` };
    const json = parseJson(response.body) as Record<string, unknown> | undefined;
    if (response.status < 200 || response.status >= 300) return { text: null, problem: httpProblem(response, json) };
    const level = typeof json?.level === 'string' ? json.level.trim().toLowerCase() : undefined;
    const text = [json?.result, json?.output, json?.response].find((v): v is string => typeof v === 'string');
    if (text === undefined) return { text: null, problem: 'the answer has no "result", "output" or "response" text', serverLevel: level };
    return { text, serverLevel: level };
  }

  return {
    server: options.server,
    url: options.url,
    moderate,
    servedModelName,
    requestsSent: () => sent,
  };
}

/** One line from an error answer: OpenAI's `message`, FastAPI's `detail`, an `error`, or the text. */
function httpProblem(response: HttpResponse, json: Record<string, any> | undefined): string {
  const fromJson = json?.message ?? json?.error?.message ?? json?.detail ?? json?.error;
  const text = typeof fromJson === 'string' ? fromJson : fromJson !== undefined ? JSON.stringify(fromJson) : response.body.trim();
  return `HTTP ${response.status}${text ? `: ${cut(text.replace(/\s+/g, ' '), 300)}` : ''}`;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `Retry-After` is seconds or an HTTP date. */
export function parseRetryAfter(value: string): number | null {
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - Date.now());
}

