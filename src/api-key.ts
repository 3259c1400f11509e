/**
 * The API key of a vLLM server started with `--api-key` or `VLLM_API_KEY` (vLLM's own hardening
 * advice). vLLM then answers every path under `/v1` with 401 `{"error":"Unauthorized"}` unless
 * the request carries `Authorization: Bearer <key>`; `/health` and `/metrics` stay open
 * (vllm/entrypoints/openai/api_server.py, AuthenticationMiddleware: `url_path.startswith("/v1")`).
 *
 * The key is a secret. `ApiKey` holds the value where nothing prints it by accident: JSON,
 * string conversion and util.inspect show only the name of the variable it came from.
 */

/** vLLM reads its key from this variable; the doctor reads it from there by default too. */
export const DEFAULT_API_KEY_ENV = 'VLLM_API_KEY';

export class ApiKey {
  readonly #value: string;

  constructor(
    /** The environment variable the key came from, as the user knows it. */
    readonly envName: string,
    value: string,
    /** `environment`: the doctor's own; `--env`: `up --env NAME=...`, the value the container gets. */
    readonly from: 'environment' | '--env',
  ) {
    this.#value = value;
  }

  /** The header value; only for a request to the server. */
  bearer(): string {
    return `Bearer ${this.#value}`;
  }

  /** The value, for a redactor that hides it in text the doctor prints. */
  secretForRedaction(): string {
    return this.#value;
  }

  /** How the key is named in messages: never its value. */
  describe(): string {
    return this.from === '--env' ? `--env ${this.envName}` : `$${this.envName}`;
  }

  toJSON(): string {
    return `<${this.envName}>`;
  }

  toString(): string {
    return `<${this.envName}>`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ApiKey(${this.envName})`;
  }
}

/** vLLM guards exactly the paths under /v1. */
export function needsKey(path: string): boolean {
  return path.startsWith('/v1');
}

/** The Authorization header for a request to `path`, when the doctor holds a key and the path is guarded. */
export function authHeaders(key: ApiKey | null, path: string): Record<string, string> {
  return key && needsKey(path) ? { authorization: key.bearer() } : {};
}

/** What a 401 from a `/v1` path means, and what to do: the cause and the option. */
export function unauthorizedProblem(key: ApiKey | null, request: string, status = 401): { summary: string; fix: string } {
  const answered = `${request} answered ${status === 403 ? '403 Forbidden' : '401 Unauthorized'}`;
  if (key === null) {
    return {
      summary: `${answered}: the server requires an API key (it was started with --api-key or VLLM_API_KEY) and guard-doctor has none`,
      fix: `export the key as ${DEFAULT_API_KEY_ENV} before running guard-doctor, or name the variable that holds it with --api-key-env NAME (the key is sent as Authorization: Bearer and never printed)`,
    };
  }
  return {
    summary: `${answered}: the server rejected the API key from ${key.describe()}`,
    fix: `check that ${key.describe()} holds the key the server was started with (its --api-key or VLLM_API_KEY), or name another variable with --api-key-env NAME`,
  };
}
