/**
 * The one HTTP client: every request has a time limit, a response body is cut off at a
 * byte limit instead of being buffered whole, and failures come back as typed kinds
 * (refused while a server loads is normal; a timeout is not).
 */
import http from 'node:http';
import https from 'node:https';
import { formatSeconds } from './report/format.js';

export type HttpFailureKind = 'timeout' | 'refused' | 'reset' | 'network' | 'aborted' | 'bad-url';

export class HttpError extends Error {
  constructor(
    readonly kind: HttpFailureKind,
    message: string,
    readonly url: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface HttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** A string or Buffer sent as is; an object is sent as JSON. */
  body?: string | Buffer | object;
  timeoutMs: number;
  /** Stop reading the body past this many bytes (default 1 MiB); `truncated` says so. */
  maxBodyBytes?: number;
  signal?: AbortSignal;
  /**
   * Stream the body instead of buffering it: each chunk goes here (with the status) and
   * `body` comes back empty. The byte limit and the time limit still hold.
   */
  onBody?: (chunk: Buffer, status: number) => void;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  truncated: boolean;
  /** Bytes received (up to the point reading stopped). */
  bytes: number;
  durationMs: number;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });

export function request(options: HttpRequest): Promise<HttpResponse> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    return Promise.reject(new HttpError('bad-url', `not a valid URL: ${options.url}`, options.url));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new HttpError('bad-url', `unsupported URL scheme ${url.protocol} in ${options.url}`, options.url));
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const headers: Record<string, string> = { ...options.headers };
  let payload: Buffer | undefined;
  if (options.body !== undefined) {
    if (Buffer.isBuffer(options.body)) payload = options.body;
    else if (typeof options.body === 'string') payload = Buffer.from(options.body);
    else {
      payload = Buffer.from(JSON.stringify(options.body));
      headers['content-type'] ??= 'application/json';
    }
    headers['content-length'] = String(payload.length);
  }
  const lib = url.protocol === 'https:' ? https : http;
  const started = performance.now();
  const send = (fresh: boolean) => exchange(lib, url, options, headers, payload, maxBodyBytes, started, fresh);
  // A server may close an idle keep-alive connection just as we reuse it (uvicorn, vLLM's
  // server, does after 5 s): the request then meets a reset before any answer. That is not
  // the server's answer, so send once more on a new connection.
  return send(false).catch((error: unknown) => {
    if (error instanceof StaleSocket) return send(true);
    throw error;
  });
}

/** A pooled socket was closed under us before any response came. */
class StaleSocket extends Error {}

function exchange(
  lib: typeof http | typeof https,
  url: URL,
  options: HttpRequest,
  headers: Record<string, string>,
  payload: Buffer | undefined,
  maxBodyBytes: number,
  started: number,
  fresh: boolean,
): Promise<HttpResponse> {
  const remainingMs = Math.max(1, options.timeoutMs - (performance.now() - started));
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let responded = false;
    const finish = (error: Error | null, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(response!);
    };
    const req = lib.request(
      url,
      {
        method: options.method ?? (payload ? 'POST' : 'GET'),
        headers,
        agent: fresh ? false : url.protocol === 'https:' ? httpsAgent : httpAgent,
      },
      (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        let bytes = 0;
        let truncated = false;
        const take = (chunk: Buffer) => (options.onBody ? options.onBody(chunk, res.statusCode ?? 0) : chunks.push(chunk));
        res.on('data', (chunk: Buffer) => {
          if (truncated || settled) return;
          if (bytes + chunk.length > maxBodyBytes) {
            take(chunk.subarray(0, maxBodyBytes - bytes));
            bytes = maxBodyBytes;
            truncated = true;
            // Settle first: destroying the response emits 'aborted' at once, which would
            // otherwise turn a cut-off answer into a reset.
            done();
            // Stop reading: the rest is never buffered, and the socket is not reused.
            res.destroy();
            return;
          }
          take(chunk);
          bytes += chunk.length;
        });
        const done = () =>
          finish(null, {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            truncated,
            bytes,
            durationMs: Math.round(performance.now() - started),
          });
        res.on('end', done);
        res.on('error', (err) => finish(classify(err, options.url)));
        res.on('aborted', () => finish(new HttpError('reset', `connection reset while reading ${options.url}`, options.url)));
      },
    );
    const timer = setTimeout(() => {
      finish(new HttpError('timeout', `no answer from ${options.url} within ${formatSeconds(options.timeoutMs)}`, options.url));
      req.destroy();
    }, remainingMs);
    const onAbort = () => {
      finish(new HttpError('aborted', `request to ${options.url} was cancelled`, options.url));
      req.destroy();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const stale = !fresh && !responded && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      finish(stale ? new StaleSocket() : classify(err, options.url));
    });
    if (payload) req.end(payload);
    else req.end();
  });
}

function classify(err: NodeJS.ErrnoException, url: string): HttpError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return new HttpError('refused', `connection refused by ${url}`, url);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return new HttpError('reset', `connection reset by ${url}`, url);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new HttpError('network', `the host name in ${url} does not resolve`, url);
    default:
      return new HttpError('network', `${err.code ?? 'network error'} for ${url}: ${err.message}`, url);
  }
}


/** Parse a JSON body, or undefined when it is not JSON. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** Join a base URL and a path without doubling or dropping slashes. */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}
