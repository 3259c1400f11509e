#!/usr/bin/env node
// The stand-in guard server: speaks the vLLM OpenAI-compatible protocol (kind "vllm") or the
// Qwen3Guard-Gen web image's protocol (kind "web") closely enough that the doctor cannot tell
// it from the real thing, with environment knobs that reproduce the failures seen in the
// field. Plain Node ESM with no npm imports: the test Docker image holds only the node binary
// and test/server/*.mjs.
//
// As a script:   node guard-server.mjs [serve] [MODEL] [--model PATH] [--served-model-name NAME]
//                  [--max-model-len N] [--port N] [--host H] [--api-key KEY]... [--kind vllm|web]
//                  [other vllm flags]
//                (vLLM's syntax: the model is positional; `--model` still works and prints vLLM
//                 0.11's deprecation warning)
// In a test:     const server = await startGuardServer({ kind: 'web', bugs: ['hang'] })
//
// Knobs (env for the script, camelCase options for startGuardServer):
//   GUARD_KIND            vllm (default) | web
//   GUARD_LOAD_MS         vllm: the port stays closed this long while "loading" (default 0)
//   GUARD_FIRST_MS        the first moderation request takes this long (weights load; default 0)
//   GUARD_LATENCY_MS      every moderation request takes this long (default 0)
//   GUARD_CRASH_AFTER_MS  after this long, print GUARD_CRASH_LOG to stderr ("\n" escapes allowed)
//                         and exit with GUARD_EXIT_CODE (default 1)
//   GUARD_BUGS            comma list: substring-parser, miss-sarcasm, no-body-limit, error-500,
//                         hang, garbage, metrics-always-safe
//   GUARD_METRICS_PORT    web: serve Prometheus metrics on this port at /metrics (default off)
//   GUARD_MODEL_DIR       web: the model folder the app loads (checked at start when set)
//   VLLM_API_KEY          vllm: as in vLLM, every path under /v1 answers 401 {"error":"Unauthorized"}
//                         without "Authorization: Bearer <key>" (--api-key wins over it); /health,
//                         /metrics and the rest stay open (apiKeys: [...] in a test)
//   GUARD_HUB_DOWNLOAD_FROM  vllm with a hub id not in the cache: a folder to "download" it from
//                         into the cache as huggingface_hub does (blobs/*.incomplete, then links),
//                         over GUARD_HUB_DOWNLOAD_MS (default 3000); without it the download fails
//                         as it does on a host that cannot reach the hub
//
// A hub id (`serve Qwen/X`) is looked up as vLLM does: the Hugging Face cache (HF_HUB_CACHE, or
// $HF_HOME/hub, default ~/.cache/huggingface/hub) or, with VLLM_USE_MODELSCOPE=true, the
// ModelScope cache (MODELSCOPE_CACHE, default ~/.cache/modelscope/hub); HF_HUB_OFFLINE is obeyed.
import http from 'node:http';
import net from 'node:net';
import { existsSync, statSync, readFileSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { classify, estimatePromptTokens, levelFromText, levelFromTextNaive, officialText, webText } from './guard-model.mjs';

export const BUGS = ['substring-parser', 'miss-sarcasm', 'no-body-limit', 'error-500', 'hang', 'garbage', 'metrics-always-safe'];
export const WEB_BODY_LIMIT_BYTES = 1024 * 1024;
const VLLM_VERSION = '0.11.0';
const DEFAULT_SERVED_NAME = 'Qwen3Guard-Gen-8B';
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Raised at start-up when the model folder is wrong; `log` is what the real server prints. */
export class StartupError extends Error {
  constructor(message, log) {
    super(message);
    this.name = 'StartupError';
    this.log = log;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function vllmTimestamp(date = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

function vllmInfo(source, text) {
  return `INFO ${vllmTimestamp()} [${source}] ${text}`;
}

/** The start-up failure vLLM (through transformers) prints for a model path that is not a model folder. */
function modelFolderFailure(modelPath) {
  const head = [
    'Traceback (most recent call last):',
    '  File "/usr/local/bin/vllm", line 10, in <module>',
    '    sys.exit(main())',
    '             ^^^^^^',
    '  File "/usr/local/lib/python3.12/dist-packages/vllm/entrypoints/cli/main.py", line 54, in main',
    '    args.dispatch_function(args)',
    '  File "/usr/local/lib/python3.12/dist-packages/vllm/engine/arg_utils.py", line 1087, in create_model_config',
    '    return ModelConfig(',
    '  File "/usr/local/lib/python3.12/dist-packages/vllm/transformers_utils/config.py", line 487, in get_config',
    '    config_dict, _ = PretrainedConfig.get_config_dict(',
    '  File "/usr/local/lib/python3.12/dist-packages/transformers/configuration_utils.py", line 721, in _get_config_dict',
    '    resolved_config_file = cached_file(',
  ];
  if (!existsSync(modelPath)) {
    return [
      ...head,
      `FileNotFoundError: [Errno 2] No such file or directory: '${path.posix.join(modelPath, 'config.json')}'`,
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      `OSError: Can't load the configuration of '${modelPath}'. If you were trying to load it from 'https://huggingface.co/models', make sure you don't have a local directory with the same name. Otherwise, make sure '${modelPath}' is the correct path to a directory containing a config.json file (No such file or directory)`,
    ].join('\n');
  }
  if (!statSync(modelPath).isDirectory()) {
    return [...head, `ValueError: Invalid repository ID or local directory specified: '${modelPath}'. Please verify the following requirements: 1. Provide a valid Hugging Face repository ID. 2. Specify a local directory that contains a recognized configuration file.`].join('\n');
  }
  return [...head, `OSError: ${modelPath} does not appear to have a file named config.json. Checkout 'https://huggingface.co/${modelPath}/tree/None' for available files.`].join('\n');
}

function checkModelFolder(modelPath, kind) {
  if (!modelPath) return;
  const ok = existsSync(modelPath) && statSync(modelPath).isDirectory() && existsSync(path.join(modelPath, 'config.json'));
  if (ok) return;
  if (kind === 'web') {
    throw new StartupError(`model folder ${modelPath} is missing`, `模型目录不存在: ${modelPath}\nFileNotFoundError: [Errno 2] No such file or directory: '${modelPath}'`);
  }
  throw new StartupError(`model folder ${modelPath} is not a model`, modelFolderFailure(modelPath));
}


// ---- hub ids (`vllm serve Qwen/X`) ----

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const truthy = (v) => ['1', 'ON', 'YES', 'TRUE'].includes(String(v ?? '').trim().toUpperCase());

/** Where the cache keeps `id`, and the snapshot folder when it is there (config.json present). */
export function locateHubModel(id, env = process.env) {
  const home = env.HOME || os.homedir();
  if (truthy(env.VLLM_USE_MODELSCOPE)) {
    const cache = env.MODELSCOPE_CACHE || path.join(home, '.cache', 'modelscope', 'hub');
    const [owner, name] = id.split('/');
    const dirs = [path.join(cache, 'models', owner, name.replace(/\./g, '___')), path.join(cache, owner, name.replace(/\./g, '___'))];
    return { kind: 'modelscope', repoDir: dirs[0], snapshot: dirs.find((d) => existsSync(path.join(d, 'config.json'))) ?? null };
  }
  const hubCache = env.HF_HUB_CACHE || path.join(env.HF_HOME || path.join(home, '.cache', 'huggingface'), 'hub');
  const repoDir = path.join(hubCache, `models--${id.split('/').join('--')}`);
  let revision = '';
  try {
    revision = readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8').trim();
  } catch {
    // not cached
  }
  const snapshot = revision ? path.join(repoDir, 'snapshots', revision) : null;
  return { kind: 'hf', repoDir, snapshot: snapshot && existsSync(path.join(snapshot, 'config.json')) ? snapshot : null };
}

/** What huggingface_hub (through vLLM) prints when the model is neither cached nor downloadable. */
function hubMissingLog(id, offline) {
  return [
    'Traceback (most recent call last):',
    '  File "/usr/local/lib/python3.12/dist-packages/vllm/transformers_utils/config.py", line 458, in get_config',
    '  File "/usr/local/lib/python3.12/dist-packages/huggingface_hub/_snapshot_download.py", line 235, in snapshot_download',
    offline
      ? "huggingface_hub.errors.LocalEntryNotFoundError: Cannot find an appropriate cached snapshot folder for the specified revision on the local disk and outgoing traffic has been disabled. To enable repo look-ups and downloads online, pass 'local_files_only=False' as input."
      : 'huggingface_hub.errors.LocalEntryNotFoundError: An error happened while trying to locate the files on the Hub and we cannot find the appropriate snapshot folder for the specified revision on the local disk. Please check your internet connection and try again.',
    ...(offline ? [] : [`OSError: We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached files.`]),
  ].join('\n').replace(/Qwen\/X/g, id);
}

/** "Downloads" `from` into the HF cache layout, blob by blob, as huggingface_hub writes it. */
async function downloadInto(location, from, totalMs, log) {
  const names = (await fsp.readdir(from)).filter((n) => !n.startsWith('.')).sort();
  const blobs = path.join(location.repoDir, 'blobs');
  const commit = createHash('sha1').update(names.join('\n')).digest('hex');
  const snapshot = path.join(location.repoDir, 'snapshots', commit);
  await fsp.mkdir(blobs, { recursive: true });
  await fsp.mkdir(snapshot, { recursive: true });
  await fsp.mkdir(path.join(location.repoDir, 'refs'), { recursive: true });
  await fsp.writeFile(path.join(location.repoDir, 'refs', 'main'), commit);
  const started = Date.now();
  for (const [i, name] of names.entries()) {
    const bytes = await fsp.readFile(path.join(from, name));
    const etag = createHash('sha256').update(bytes).digest('hex');
    const partial = path.join(blobs, `${etag}.incomplete`);
    // Two halves, so a watcher sees the .incomplete blob grow.
    await fsp.writeFile(partial, bytes.subarray(0, bytes.length >> 1));
    await sleep(totalMs / names.length / 2);
    await fsp.appendFile(partial, bytes.subarray(bytes.length >> 1));
    await fsp.rename(partial, path.join(blobs, etag));
    await fsp.symlink(path.join('..', '..', 'blobs', etag), path.join(snapshot, name)).catch(() => {});
    await sleep(totalMs / names.length / 2);
    if (name.endsWith('.safetensors')) log(`${name}: 100%|██████████| ${bytes.length}/${bytes.length} [00:0${i}<00:00, 1.00MB/s]`);
  }
  return { snapshot, seconds: (Date.now() - started) / 1000 };
}

/** Options from the environment knobs, for the script entry and the Docker image. */
export function optionsFromEnv(env = process.env) {
  const num = (name) => (env[name] === undefined || env[name] === '' ? undefined : Number(env[name]));
  return {
    kind: env.GUARD_KIND || undefined,
    loadMs: num('GUARD_LOAD_MS'),
    firstMs: num('GUARD_FIRST_MS'),
    latencyMs: num('GUARD_LATENCY_MS'),
    crashAfterMs: num('GUARD_CRASH_AFTER_MS'),
    crashLog: env.GUARD_CRASH_LOG,
    exitCode: num('GUARD_EXIT_CODE'),
    bugs: env.GUARD_BUGS ? env.GUARD_BUGS.split(',').map((b) => b.trim()).filter(Boolean) : undefined,
    metricsPort: num('GUARD_METRICS_PORT'),
    model: env.GUARD_MODEL_DIR || undefined,
    // vLLM: `args.api_key or [envs.VLLM_API_KEY]`, empty values dropped.
    apiKeys: env.VLLM_API_KEY ? [env.VLLM_API_KEY] : undefined,
  };
}

/** Server arguments as `vllm serve` takes them; unknown flags are accepted and ignored. */
export function optionsFromArgs(argv) {
  const options = {};
  const args = [...argv];
  if (args[0] === 'serve') args.shift();
  const valueOf = (arg, i) => (arg.includes('=') ? [arg.slice(arg.indexOf('=') + 1), i] : [args[i + 1], i + 1]);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) {
      // `vllm serve MODEL`: the first positional argument is the model.
      if (options.model === undefined) options.model = arg;
      continue;
    }
    const flag = arg.split('=')[0];
    const takesValue = ['--model', '--served-model-name', '--max-model-len', '--port', '--host', '--kind', '--gpu-memory-utilization', '--api-key'].includes(flag);
    if (!takesValue) {
      // An unknown flag may carry a value; skip it too when the next word is not a flag.
      if (!arg.includes('=') && args[i + 1] !== undefined && !args[i + 1].startsWith('--')) i++;
      continue;
    }
    const [value, next] = valueOf(arg, i);
    i = next;
    switch (flag) {
      case '--model': options.model = value; options.modelByOption = true; break;
      case '--api-key': (options.apiKeys ??= []).push(value); break;
      case '--served-model-name': options.servedModelName = value; break;
      case '--max-model-len': options.maxModelLen = Number(value); break;
      case '--port': options.port = Number(value); break;
      case '--host': options.host = value; break;
      case '--kind': options.kind = value; break;
      case '--gpu-memory-utilization': options.gpuMemoryUtilization = Number(value); break;
    }
  }
  return options;
}

function normaliseOptions(raw) {
  const kind = raw.kind ?? 'vllm';
  if (kind !== 'vllm' && kind !== 'web') throw new Error(`unknown kind "${kind}" (vllm or web)`);
  const bugs = new Set(raw.bugs ?? []);
  for (const bug of bugs) if (!BUGS.includes(bug)) throw new Error(`unknown bug "${bug}"; known: ${BUGS.join(', ')}`);
  return {
    kind,
    host: raw.host ?? '127.0.0.1',
    port: raw.port ?? 0,
    model: raw.model,
    servedModelName: raw.servedModelName ?? raw.model ?? DEFAULT_SERVED_NAME,
    maxModelLen: raw.maxModelLen && raw.maxModelLen > 0 ? raw.maxModelLen : 32768,
    loadMs: raw.loadMs ?? 0,
    firstMs: raw.firstMs ?? 0,
    latencyMs: raw.latencyMs ?? 0,
    crashAfterMs: raw.crashAfterMs,
    crashLog: raw.crashLog ?? '',
    exitCode: raw.exitCode ?? 1,
    bugs,
    metricsPort: raw.metricsPort,
    modelByOption: raw.modelByOption ?? false,
    apiKeys: (raw.apiKeys ?? []).filter(Boolean),
    log: raw.log ?? (() => {}),
    logError: raw.logError ?? raw.log ?? (() => {}),
    onCrash: raw.onCrash,
  };
}

function freePort(host) {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function readBody(req, limitBytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      bytes += chunk.length;
      if (limitBytes !== undefined && bytes > limitBytes) tooLarge = true;
      // Keep reading (and dropping) so the client can finish sending and read our answer.
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve({ body: tooLarge ? null : Buffer.concat(chunks), tooLarge, bytes }));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  if (res.writableEnded || res.destroyed) return;
  const isText = typeof body === 'string';
  const payload = body === undefined ? '' : isText ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(payload),
    date: new Date().toUTCString(),
    server: 'uvicorn',
    ...headers,
  });
  res.end(payload);
}

const STATUS_TEXT = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 413: 'Request Entity Too Large', 500: 'Internal Server Error' };

function accessLog(state, req, status) {
  const peer = `${req.socket.remoteAddress ?? '127.0.0.1'}:${req.socket.remotePort ?? 0}`.replace(/^::ffff:/, '');
  state.options.log(`INFO:     ${peer} - "${req.method} ${req.url} HTTP/${req.httpVersion}" ${status} ${STATUS_TEXT[status] ?? ''}`.trimEnd());
}

function openAiError(status, type, message) {
  return { object: 'error', message, type, param: null, code: status };
}

/** Messages as the OpenAI API allows them: content as a string or a list of text parts. */
function readMessages(raw) {
  if (!Array.isArray(raw)) return null;
  const messages = [];
  for (const m of raw) {
    if (!m || typeof m !== 'object' || typeof m.role !== 'string') return null;
    let content = m.content;
    if (Array.isArray(content)) content = content.filter((p) => p && p.type === 'text').map((p) => String(p.text ?? '')).join('');
    if (content === null || content === undefined) content = '';
    if (typeof content !== 'string') return null;
    messages.push({ role: m.role, content });
  }
  return messages;
}

async function moderationDelay(state) {
  const { options } = state;
  let delay = options.latencyMs;
  if (!state.firstServed) {
    state.firstServed = true;
    if (options.firstMs > 0) {
      if (options.kind === 'web') options.log('正在加载模型权重...');
      delay += options.firstMs;
    }
  }
  if (delay > 0) await sleep(delay);
}

// ---- vllm ----

/**
 * vLLM's AuthenticationMiddleware (https://github.com/vllm-project/vllm/blob/main/vllm/entrypoints/openai/api_server.py,
 * `build_app`: `tokens := [key for key in (args.api_key or [envs.VLLM_API_KEY]) if key]`, and the
 * middleware's `JSONResponse(content={"error": "Unauthorized"}, status_code=401)`): with a key, a request
 * whose path starts with /v1 needs `Authorization: <scheme> <token>` with the scheme "bearer" in
 * any case and the token equal to one of the keys; OPTIONS requests pass.
 */
function authorized(options, req, route) {
  if (options.apiKeys.length === 0 || req.method === 'OPTIONS' || !route.startsWith('/v1')) return true;
  const header = req.headers.authorization;
  if (!header) return false;
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  const token = space === -1 ? '' : header.slice(space + 1);
  if (scheme.toLowerCase() !== 'bearer') return false;
  const digest = (text) => createHash('sha256').update(text, 'utf8').digest();
  return options.apiKeys.some((key) => timingSafeEqual(digest(key), digest(token)));
}

async function handleVllm(state, req, res) {
  const { options } = state;
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = url.pathname;
  if (!authorized(options, req, route)) return finish(state, req, res, 401, { error: 'Unauthorized' });
  if (route === '/health' || route === '/ping') {
    if (req.method !== 'GET' && !(route === '/ping' && req.method === 'POST')) return finish(state, req, res, 405, { detail: 'Method Not Allowed' });
    res.writeHead(200, { 'content-length': 0, date: new Date().toUTCString(), server: 'uvicorn' });
    res.end();
    return accessLog(state, req, 200);
  }
  if (route === '/version' && req.method === 'GET') return finish(state, req, res, 200, { version: VLLM_VERSION });
  if (route === '/v1/models') {
    if (req.method !== 'GET') return finish(state, req, res, 405, { detail: 'Method Not Allowed' });
    const created = Math.floor(state.startedAt / 1000);
    return finish(state, req, res, 200, {
      object: 'list',
      data: [
        {
          id: options.servedModelName,
          object: 'model',
          created,
          owned_by: 'vllm',
          root: options.model ?? options.servedModelName,
          parent: null,
          max_model_len: options.maxModelLen,
          permission: [
            {
              id: `modelperm-${randomBytes(16).toString('hex')}`,
              object: 'model_permission',
              created,
              allow_create_engine: false,
              allow_sampling: true,
              allow_logprobs: true,
              allow_search_indices: false,
              allow_view: true,
              allow_fine_tuning: false,
              organization: '*',
              group: null,
              is_blocking: false,
            },
          ],
        },
      ],
    });
  }
  if (route === '/metrics' && req.method === 'GET') {
    return finish(state, req, res, 200, vllmMetrics(state), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  }
  if (route === '/v1/chat/completions') {
    if (req.method !== 'POST') return finish(state, req, res, 405, { detail: 'Method Not Allowed' });
    return chatCompletion(state, req, res);
  }
  return finish(state, req, res, 404, { detail: 'Not Found' });
}

async function chatCompletion(state, req, res) {
  const { options } = state;
  const { body } = await readBody(req);
  let payload;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return finish(state, req, res, 400, openAiError(400, 'BadRequestError', `[{'type': 'json_invalid', 'loc': ('body', 0), 'msg': 'JSON decode error', 'input': {}, 'ctx': {'error': '${String(error.message).replace(/'/g, '"')}'}}]`));
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    return finish(state, req, res, 400, openAiError(400, 'BadRequestError', "[{'type': 'model_attributes_type', 'loc': ('body',), 'msg': 'Input should be a valid dictionary or object to extract fields from'}]"));
  }
  if (payload.messages === undefined) {
    return finish(state, req, res, 400, openAiError(400, 'BadRequestError', "[{'type': 'missing', 'loc': ('body', 'messages'), 'msg': 'Field required', 'input': " + JSON.stringify(Object.keys(payload)) + '}]'));
  }
  const messages = readMessages(payload.messages);
  if (!messages || messages.length === 0) {
    return finish(state, req, res, 400, openAiError(400, 'BadRequestError', "[{'type': 'list_type', 'loc': ('body', 'messages'), 'msg': 'Input should be a valid list of chat messages'}]"));
  }
  if (payload.model !== undefined && payload.model !== null && payload.model !== options.servedModelName) {
    return finish(state, req, res, 404, openAiError(404, 'NotFoundError', `The model \`${payload.model}\` does not exist.`));
  }
  const promptTokens = estimatePromptTokens(messages);
  const maxTokens = Number.isInteger(payload.max_completion_tokens) ? payload.max_completion_tokens : Number.isInteger(payload.max_tokens) ? payload.max_tokens : null;
  // vLLM's current wording (FACTS.md; vllm/entrypoints/openai/serving_engine.py `_validate_input`): the input
  // alone fills the context (token_num >= max_model_len), then a max_tokens that does not fit beside it.
  if (promptTokens >= options.maxModelLen) {
    return finish(
      state,
      req,
      res,
      400,
      openAiError(400, 'BadRequestError', `This model's maximum context length is ${options.maxModelLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`),
    );
  }
  if (maxTokens !== null && promptTokens + maxTokens > options.maxModelLen) {
    return finish(
      state,
      req,
      res,
      400,
      openAiError(
        400,
        'BadRequestError',
        `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ${options.maxModelLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${options.maxModelLen} - ${promptTokens}).`,
      ),
    );
  }
  await moderate(state, req, res, async () => {
    const judgement = classify(messages, { missSarcasm: options.bugs.has('miss-sarcasm') });
    const content = options.bugs.has('garbage') ? 'Sure! Here is a short poem about the sea:\n\nThe waves roll in' : officialText(judgement);
    const completionTokens = Math.ceil(content.length / 4) + 1;
    state.vllm.promptTokens += promptTokens;
    state.vllm.generationTokens += completionTokens;
    state.vllm.success += 1;
    return {
      status: 200,
      body: {
        id: `chatcmpl-${randomBytes(16).toString('hex')}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: options.servedModelName,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
            logprobs: null,
            finish_reason: 'stop',
            stop_reason: null,
          },
        ],
        service_tier: null,
        system_fingerprint: null,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens, prompt_tokens_details: null },
        prompt_logprobs: null,
        kv_transfer_params: null,
      },
    };
  });
}

/** The common path of a moderation request: bug knobs, delays, active count and latency. */
async function moderate(state, req, res, answer) {
  const { options } = state;
  if (options.bugs.has('hang')) {
    // Never answer; close() destroys the socket.
    state.hanging.add(res);
    return;
  }
  const started = performance.now();
  state.active += 1;
  try {
    await moderationDelay(state);
    if (options.bugs.has('error-500')) {
      options.logError('ERROR: Exception in ASGI application\nTraceback (most recent call last):\nRuntimeError: CUDA error: an illegal memory access was encountered');
      const body = options.kind === 'vllm' ? openAiError(500, 'InternalServerError', 'EngineCore encountered an issue. See stack trace (above) for the root cause.') : 'Internal Server Error';
      state.record('error', performance.now() - started);
      return finish(state, req, res, 500, body);
    }
    const { status, body, result } = await answer();
    state.record(result ?? 'ok', performance.now() - started);
    return finish(state, req, res, status, body);
  } finally {
    state.active -= 1;
  }
}

function finish(state, req, res, status, body, headers) {
  send(res, status, body, headers);
  accessLog(state, req, status);
}

function vllmMetrics(state) {
  const { options, vllm } = state;
  const labels = `engine="0",model_name="${options.servedModelName.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{${labels}} ${state.active}.0`,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{${labels}} 0.0`,
    '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
    '# TYPE vllm:kv_cache_usage_perc gauge',
    `vllm:kv_cache_usage_perc{${labels}} ${state.active > 0 ? 0.01 : 0.0}`,
    '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total{${labels}} ${vllm.promptTokens}.0`,
    '# HELP vllm:generation_tokens_total Number of generation tokens processed.',
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total{${labels}} ${vllm.generationTokens}.0`,
    '# HELP vllm:request_success_total Count of successfully processed requests.',
    '# TYPE vllm:request_success_total counter',
    `vllm:request_success_total{${labels},finished_reason="stop"} ${vllm.success}.0`,
    ...histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', labels, state.latency),
  ];
  return lines.join('\n') + '\n';
}

function histogram(name, help, labels, data) {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  const prefix = labels ? `${labels},` : '';
  LATENCY_BUCKETS.forEach((le, i) => lines.push(`${name}_bucket{${prefix}le="${le}"} ${data.buckets[i]}.0`));
  lines.push(`${name}_bucket{${prefix}le="+Inf"} ${data.count}.0`);
  lines.push(`${name}_count{${labels}} ${data.count}.0`.replace('{}', ''));
  lines.push(`${name}_sum{${labels}} ${data.sum}`.replace('{}', ''));
  return lines;
}

// ---- web ----

const WEB_PAGE = `<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>Qwen3Guard-Gen 内容安全检测</title></head>
<body>
<h1>Qwen3Guard-Gen 内容安全检测</h1>
<form id="judge"><textarea name="text" rows="8" cols="80" placeholder="请输入要检测的文本"></textarea><br><button type="submit">检测</button></form>
<pre id="result"></pre>
<script>
document.getElementById('judge').addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = event.target.text.value;
  const res = await fetch('/judge', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }) });
  document.getElementById('result').textContent = JSON.stringify(await res.json(), null, 2);
});
</script>
</body>
</html>
`;

async function handleWeb(state, req, res) {
  const { options } = state;
  const route = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (route === '/' && req.method === 'GET') return finish(state, req, res, 200, WEB_PAGE, { 'content-type': 'text/html; charset=utf-8' });
  if (route !== '/judge') return finish(state, req, res, 404, { detail: 'Not Found' });
  if (req.method !== 'POST') return finish(state, req, res, 405, { detail: 'Method Not Allowed' });

  const limit = options.bugs.has('no-body-limit') ? undefined : WEB_BODY_LIMIT_BYTES;
  const declared = Number(req.headers['content-length']);
  if (limit !== undefined && Number.isFinite(declared) && declared > limit) {
    await readBody(req, 0);
    state.record('error', 0);
    return finish(state, req, res, 413, { detail: 'Request body too large' });
  }
  const { body, tooLarge } = await readBody(req, limit);
  if (tooLarge) {
    state.record('error', 0);
    return finish(state, req, res, 413, { detail: 'Request body too large' });
  }
  // The app reads the body with get_json(silent=True): without the JSON content type, or with
  // a body that is not JSON, it sees no fields at all and fails on data['text'].
  const isJson = /^application\/json\b/i.test(String(req.headers['content-type'] ?? ''));
  let data = {};
  if (isJson) {
    try {
      data = JSON.parse(body.toString('utf8')) ?? {};
    } catch {
      data = {};
    }
  }
  if (typeof data !== 'object' || Array.isArray(data) || !('text' in data)) {
    options.logError(
      [
        'ERROR:    Exception in ASGI application',
        'Traceback (most recent call last):',
        '  File "/app/app.py", line 58, in judge',
        "    text = data['text']",
        '           ~~~~^^^^^^^^',
        "KeyError: 'text'",
      ].join('\n'),
    );
    state.record('error', 0);
    return finish(state, req, res, 500, { error: "KeyError: 'text'" });
  }
  const text = typeof data.text === 'string' ? data.text : String(data.text ?? '');
  await moderate(state, req, res, async () => {
    if (options.bugs.has('garbage')) {
      return { status: 200, body: { result: '<|im_end|>\n\n抱歉,我不太明白您的意思。', level: 'safe' }, result: 'safe' };
    }
    const judgement = classify([{ role: 'user', content: text }], { missSarcasm: options.bugs.has('miss-sarcasm') });
    const result = webText(judgement);
    const level = options.bugs.has('substring-parser') ? levelFromTextNaive(result) : levelFromText(result);
    return { status: 200, body: { result, level }, result: level };
  });
}

function webMetrics(state) {
  const lines = [
    '# HELP qwen_guard_request_total Total number of moderation requests.',
    '# TYPE qwen_guard_request_total counter',
  ];
  for (const [result, count] of Object.entries(state.web.byResult)) lines.push(`qwen_guard_request_total{method="POST",result="${result}"} ${count}.0`);
  lines.push(...histogram('qwen_guard_request_duration_seconds', 'Time spent processing a moderation request.', '', state.latency));
  lines.push(
    '# HELP qwen_guard_active_requests Moderation requests in progress.',
    '# TYPE qwen_guard_active_requests gauge',
    `qwen_guard_active_requests ${state.active}.0`,
    '# HELP qwen_guard_gpu_memory_usage_bytes GPU memory allocated by the model.',
    '# TYPE qwen_guard_gpu_memory_usage_bytes gauge',
    `qwen_guard_gpu_memory_usage_bytes{device="cuda:0"} ${state.firstServed ? 17_716_740_096 : 0}.0`,
  );
  return lines.join('\n') + '\n';
}

// ---- start and stop ----

/**
 * Start a stand-in server in this process.
 * @returns {Promise<{ url: string, port: number, metricsUrl: string|null, ready: Promise<void>, close(): Promise<void>, stats(): object }>}
 * Resolves at once with the address; for vllm with `loadMs` the port opens only after that
 * (connection refused meanwhile; `ready` resolves when it is open).
 */
export async function startGuardServer(rawOptions = {}) {
  const options = normaliseOptions(rawOptions);
  // `serve Qwen/X`: the cache decides; a folder path is checked as before.
  const hubId = options.kind === 'vllm' && options.model && HUB_ID.test(options.model) && !existsSync(options.model) ? options.model : null;
  const hubEnv = rawOptions.env ?? process.env;
  const location = hubId ? locateHubModel(hubId, hubEnv) : null;
  if (hubId && !location.snapshot && (truthy(hubEnv.HF_HUB_OFFLINE) || !hubEnv.GUARD_HUB_DOWNLOAD_FROM || location.kind !== 'hf')) {
    throw new StartupError(`${hubId} is not cached and cannot be downloaded`, hubMissingLog(hubId, truthy(hubEnv.HF_HUB_OFFLINE)));
  }
  if (!hubId) checkModelFolder(options.model, options.kind);
  const state = {
    options,
    startedAt: Date.now(),
    firstServed: false,
    active: 0,
    hanging: new Set(),
    latency: { buckets: LATENCY_BUCKETS.map(() => 0), count: 0, sum: 0 },
    vllm: { promptTokens: 0, generationTokens: 0, success: 0 },
    web: { byResult: {} },
    requests: 0,
    record(result, ms) {
      const label = options.bugs.has('metrics-always-safe') ? 'safe' : result;
      state.web.byResult[label] = (state.web.byResult[label] ?? 0) + 1;
      const seconds = ms / 1000;
      state.latency.count += 1;
      state.latency.sum += seconds;
      LATENCY_BUCKETS.forEach((le, i) => {
        if (seconds <= le) state.latency.buckets[i] += 1;
      });
    },
  };
  const handler = options.kind === 'vllm' ? handleVllm : handleWeb;
  const server = http.createServer((req, res) => {
    state.requests += 1;
    handler(state, req, res).catch((error) => {
      options.logError(`ERROR:    Exception in ASGI application\n${error && error.stack ? error.stack : error}`);
      if (!res.headersSent) finish(state, req, res, 500, 'Internal Server Error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  let metricsServer = null;
  if (options.kind === 'web' && options.metricsPort !== undefined && options.metricsPort !== null) {
    metricsServer = http.createServer((req, res) => {
      const route = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (route === '/metrics' && req.method === 'GET') send(res, 200, webMetrics(state), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      else send(res, 404, { detail: 'Not Found' });
    });
    await new Promise((resolve, reject) => {
      metricsServer.once('error', reject);
      metricsServer.listen(options.metricsPort, options.host, resolve);
    });
  }

  const port = options.port === 0 ? await freePort(options.host) : options.port;
  const listen = () =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });

  let closed = false;
  let crashTimer = null;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (crashTimer) clearTimeout(crashTimer);
    for (const res of state.hanging) res.destroy();
    state.hanging.clear();
    await new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    if (metricsServer) {
      await new Promise((resolve) => {
        metricsServer.close(() => resolve());
        metricsServer.closeAllConnections();
      });
    }
  };

  if (options.crashAfterMs !== undefined && options.crashAfterMs >= 0) {
    crashTimer = setTimeout(() => {
      crashTimer = null;
      const text = options.crashLog.replace(/\\n/g, '\n');
      if (text) options.logError(text);
      close().then(() => options.onCrash?.(options.exitCode));
    }, options.crashAfterMs);
    crashTimer.unref?.();
  }

  let ready;
  const hostForUrl = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
  if (options.kind === 'vllm') {
    const modelName = options.model ?? options.servedModelName;
    // vLLM 0.11's own words (vllm/utils/argparse_utils.py), as printed in the field (docker logs of vllm-openai 0.11 images).
    if (options.modelByOption) {
      options.logError(`WARNING ${vllmTimestamp()} [argparse_utils.py:195] With \`vllm serve\`, you should provide the model as a positional argument or in a config file instead of via the \`--model\` option. The \`--model\` option will be removed in v0.13.`);
    }
    options.log(vllmInfo('__init__.py:216', 'Automatically detected platform cuda.'));
    options.log(vllmInfo('api_server.py:1839', `vLLM API server version ${VLLM_VERSION}`));
    options.log(vllmInfo('utils.py:233', `non-default args: {'model': '${modelName}', 'served_model_name': ['${options.servedModelName}'], 'max_model_len': ${options.maxModelLen}}`));
    options.log(vllmInfo('model.py:547', 'Resolved architecture: Qwen3ForCausalLM'));
    options.log(vllmInfo('gpu_model_runner.py:2602', `Starting to load model ${modelName}...`));
    ready = (async () => {
      if (hubId) {
        options.log(vllmInfo('weight_utils.py:392', "Using model weights format ['*.safetensors']"));
        let seconds = 0.41;
        if (!location.snapshot) ({ seconds } = await downloadInto(location, hubEnv.GUARD_HUB_DOWNLOAD_FROM, Number(hubEnv.GUARD_HUB_DOWNLOAD_MS || 3000), options.log));
        // vLLM logs this whenever it may contact the hub, even when every file was cached.
        if (!truthy(hubEnv.HF_HUB_OFFLINE)) options.log(vllmInfo('weight_utils.py:413', `Time spent downloading weights for ${hubId}: ${seconds.toFixed(6)} seconds`));
      }
      if (options.loadMs > 0) {
        const steps = Math.max(1, Math.min(5, Math.floor(options.loadMs / 1000)));
        for (let i = 1; i <= steps && !closed; i++) {
          await sleep(options.loadMs / steps);
          options.log(vllmInfo('default_loader.py:267', `Loading safetensors checkpoint shards: ${Math.round((100 * i) / steps)}% Completed | ${i}/${steps}`));
        }
      }
      if (closed) return;
      options.log(vllmInfo('default_loader.py:267', `Loading weights took ${(options.loadMs / 1000).toFixed(2)} seconds`));
      options.log(vllmInfo('gpu_worker.py:298', 'Available KV cache memory: 20.51 GiB'));
      options.log(vllmInfo('kv_cache_utils.py:1087', `GPU KV cache size: 149,344 tokens`));
      options.log(vllmInfo('kv_cache_utils.py:1091', `Maximum concurrency for ${options.maxModelLen.toLocaleString('en-US')} tokens per request: ${(149344 / options.maxModelLen).toFixed(2)}x`));
      await listen();
      options.log(vllmInfo('api_server.py:1880', `Starting vLLM API server 0 on http://${options.host}:${port}`));
      options.log(`INFO:     Started server process [${process.pid}]`);
      options.log('INFO:     Waiting for application startup.');
      options.log('INFO:     Application startup complete.');
    })();
  } else {
    await listen();
    options.log(`INFO:     Uvicorn running on http://${options.host}:${port} (Press CTRL+C to quit)`);
    ready = Promise.resolve();
  }
  // A failure to listen surfaces through `ready`; do not leave it unhandled.
  ready.catch(() => {});

  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    metricsUrl: metricsServer ? `http://${hostForUrl}:${metricsServer.address().port}/metrics` : null,
    ready,
    close,
    /** Counters the tests can compare with what the client saw. */
    stats: () => ({ requests: state.requests, moderated: state.latency.count, byResult: { ...state.web.byResult } }),
  };
}

function bindFailure(error, options) {
  if (error && error.code === 'EADDRINUSE') return `ERROR:    [Errno 98] error while attempting to bind on address ('${options.host}', ${options.port}): address already in use`;
  return `ERROR:    ${error && error.message ? error.message : error}`;
}

async function main() {
  const fromArgs = optionsFromArgs(process.argv.slice(2));
  const fromEnv = optionsFromEnv();
  const merged = { ...fromEnv };
  for (const [k, v] of Object.entries(fromArgs)) if (v !== undefined) merged[k] = v;
  merged.kind ??= 'vllm';
  merged.host ??= '0.0.0.0';
  merged.port ??= merged.kind === 'web' ? 7860 : 8000;
  merged.log = (line) => process.stdout.write(line + '\n');
  merged.logError = (line) => process.stderr.write(line + '\n');
  merged.onCrash = (code) => process.exit(code);
  let server;
  try {
    server = await startGuardServer(merged);
  } catch (error) {
    process.stderr.write((error instanceof StartupError ? error.log : bindFailure(error, merged)) + '\n');
    process.exit(1);
  }
  server.ready.catch((error) => {
    process.stderr.write(bindFailure(error, merged) + '\n');
    process.exit(1);
  });
  const stop = (signal) => {
    process.stdout.write('INFO:     Shutting down\n');
    // Graceful, but never longer than a second.
    setTimeout(() => process.exit(0), 900).unref();
    server.close().then(() => {
      process.stdout.write(`INFO:     Finished server process [${process.pid}] (${signal})\n`);
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
