/**
 * Options -> settings. Everything the user can say (flags, then the config file) is read,
 * validated and defaulted here, once; every later phase reads only `Settings`.
 * Invalid input throws UsageError (exit 2) naming the option or field and what is valid.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError, describeReadError } from './errors.js';
import { DEFAULT_MODEL, MODEL_NAMES, findModel, type ModelSpec } from './data/models.js';
import { DEFAULT_CUDA, DEFAULT_VLLM_IMAGE } from './data/images.js';
import type { RuntimeName, ServerKind } from './types.js';
import { MODEL_SOURCES, type ModelSource } from './data/hub.js';
import { resolveHubSettings, type HubSettings } from './hub-settings.js';
import { ApiKey, DEFAULT_API_KEY_ENV } from './api-key.js';
import { DEFAULT_PORT, SERVE_DEFAULTS, VLLM_FLOOR_TEXT } from './data/serving.js';
import { dockerEndpoint, endpointIsLoopback, readTargets, sshTargetOf, type DockerEndpoint, type SshTarget } from './targets.js';

/** The pinned default image and its CUDA are facts about the world: src/data/images.ts. */
export { DEFAULT_CUDA, DEFAULT_VLLM_IMAGE, DEFAULT_PORT };
export const CONFIG_FILE_NAME = 'guard-doctor.config.json';

export interface Mount {
  hostPath: string;
  containerPath: string;
  /** Mount options after the second colon (`ro`, `z`, ...), if any. */
  mode?: string;
  /** As the user gave it. */
  raw: string;
}

export interface EnvVar {
  key: string;
  value: string;
}

/**
 * How output is shown, decided once here and read everywhere (progress, colour, reports):
 * commands never look at CI, isTTY or NO_COLOR themselves.
 */
export interface OutputMode {
  /** --json: stdout carries exactly one JSON document. */
  json: boolean;
  /**
   * A person watches a terminal: stderr is a TTY that reports a width, and neither CI nor
   * GITHUB_ACTIONS is set. Spinners only then; plain lines (or nothing) otherwise.
   */
  interactive: boolean;
  /** Colour on stdout: never with NO_COLOR; with FORCE_COLOR (not 0/false); else only on a TTY. */
  color: boolean;
}

type Stream = { isTTY?: boolean; columns?: number };

export function resolveOutput(json: boolean, env: NodeJS.ProcessEnv = process.env, stdout: Stream = process.stdout, stderr: Stream = process.stderr): OutputMode {
  // A terminal that reports no width (some `script` and CI pseudo-terminals) makes ora's
  // line-clearing arithmetic print cursor movements without end: not interactive.
  const interactive = Boolean(stderr.isTTY) && (stderr.columns ?? 0) > 0 && !env.CI && !env.GITHUB_ACTIONS;
  return { json, interactive, color: wantsColor(env, stdout) };
}

/** The colour rule for one stream; chalk alone ignores NO_COLOR. */
export function wantsColor(env: NodeJS.ProcessEnv, stream: Stream): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return Boolean(stream.isTTY);
}

export interface Settings {
  command: string;
  cwd: string;
  model: ModelSpec;
  /** The user named the model (flag or config), as opposed to the default. */
  modelGiven: boolean;
  server: ServerKind;
  mount: Mount | null;
  /** Where the model comes from: a folder (`dir`), or a hub the server downloads from into the user's cache. */
  source: ModelSource;
  /** The hub, cache and token for `hf` / `modelscope`; null for `dir`. */
  hub: HubSettings | null;
  containerModelDir: string;
  image: string;
  /** The user named the image (flag or config), as opposed to the default. */
  imageGiven: boolean;
  /** `--cuda` as given; null means: read it from the image, else DEFAULT_CUDA. */
  cuda: string | null;
  gpu: number | null;
  /** The MIG device `--gpu N:M` (M) or `--gpu MIG-<uuid>` names; null for a whole GPU. */
  migDevice: string | null;
  cpu: boolean;
  maxModelLen: number;
  gpuMemoryUtilization: number;
  port: number;
  publishHost: string;
  url: string | null;
  casesFile: string | null;
  tags: string[];
  controversialAs: 'unsafe' | 'safe';
  requestTimeoutMs: number;
  concurrency: number;
  metricsUrl: string | null;
  promFile: string | null;
  json: boolean;
  /** Interactive or CI, colour: see OutputMode. */
  output: OutputMode;
  junit: string | null;
  strict: boolean;
  verbose: boolean;
  /** Time limit of each host probe (nvidia-smi, docker, ...). */
  probeTimeoutMs: number;
  // check
  /** `--only`: groups or check ids to run (checked against the table by the command); empty = all. */
  only: string[];
  /** `--list-checks`: print the check tables and exit. */
  listChecks: boolean;
  /** warm, suite, up, watch: the key sent on every /v1 request (--api-key-env; see api-key.ts). */
  apiKey: ApiKey | null;
  // up
  name: string;
  env: EnvVar[];
  runtime: RuntimeName;
  dryRun: boolean;
  runSuite: boolean;
  force: boolean;
  replace: boolean;
  keep: boolean;
  readyTimeoutMs: number;
  warmTimeoutMs: number;
  extraArgs: string[];
  // diagnose
  container: string | null;
  logFiles: string[];
  // metrics, watch
  intervalMs: number;
  durationMs: number;
  cardinalityLimit: number;
  // fleet
  /** The hosts to act on over SSH (--host, --hosts, or Docker's own ssh:// endpoint); [] = this machine. */
  targets: SshTarget[];
  /** The targets came from DOCKER_HOST or the docker context, not from --host. */
  targetsFromDocker: DockerEndpoint | null;
  /** Docker points at another machine that the doctor cannot reach over SSH (tcp://...). */
  foreignDocker: DockerEndpoint | null;
  /** Hosts handled at once. */
  parallel: number;
}

/** Raw option values as commander (or a config file) hands them over. */
export type RawOptions = Record<string, unknown>;

/** Option keys that a config file may set (camelCase; kebab-case is accepted too). */
const CONFIG_KEYS = new Set([
  'model', 'server', 'mount', 'modelDir', 'source', 'containerModelDir', 'image', 'cuda', 'gpu', 'cpu',
  'maxModelLen', 'gpuMemoryUtilization', 'port', 'publishHost', 'url', 'cases', 'tag',
  'controversialAs', 'requestTimeout', 'concurrency', 'metricsUrl', 'promFile', 'junit', 'strict',
  'probeTimeout', 'name', 'env', 'runtime', 'readyTimeout', 'warmTimeout', 'keep', 'replace',
  'force', 'suite', 'interval', 'duration', 'cardinalityLimit', 'serverArgs', 'apiKeyEnv', 'host', 'hosts', 'parallel',
]);

/** The commands that act on --host. */
export const FLEET_COMMANDS = new Set(['check', 'up', 'suite', 'down', 'diagnose', 'watch']);

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Read the config file: the one named by --config, else ./guard-doctor.config.json if present. */
export function loadConfigFile(configPath: string | undefined, cwd: string): { path: string | null; values: RawOptions } {
  const explicit = configPath !== undefined;
  const file = explicit ? path.resolve(cwd, configPath) : path.join(cwd, CONFIG_FILE_NAME);
  if (!explicit && !existsSync(file)) return { path: null, values: {} };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const why = describeReadError(error);
    throw new UsageError(`--config: cannot read ${file}: ${why}. Give the path of a JSON file, e.g. --config ./${CONFIG_FILE_NAME}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`config file ${file} must hold a JSON object of options, e.g. {"model": "Qwen3Guard-Gen-4B", "modelDir": "/srv/models/Qwen3Guard-Gen-4B"}`);
  }
  const values: RawOptions = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key === '$schema' || key === '//') continue;
    const name = camel(key);
    if (!CONFIG_KEYS.has(name)) {
      throw new UsageError(`config file ${file}: unknown field "${key}". Valid fields: ${[...CONFIG_KEYS].sort().join(', ')}`);
    }
    values[name] = value;
  }
  return { path: file, values };
}

/**
 * Merge flags over the config file and validate. `given` tells which flags the user actually
 * typed (commander's option value source), so config values are not shadowed by defaults.
 */
export function resolveSettings(command: string, flags: RawOptions, config: RawOptions, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Settings {
  const merged: RawOptions = { ...config };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  const source = (key: string) => (flags[key] !== undefined ? `--${kebab(key)}` : `config field "${key}"`);

  const modelInput = merged.model === undefined ? DEFAULT_MODEL : asString(merged.model, source('model'));
  const model = findModel(modelInput);
  if (!model) throw new UsageError(`${source('model')}: unknown model "${modelInput}". Valid models: ${MODEL_NAMES.join(', ')}`);

  const serverInput = merged.server === undefined ? 'vllm' : asString(merged.server, source('server')).toLowerCase();
  if (serverInput !== 'vllm' && serverInput !== 'web') {
    throw new UsageError(`${source('server')}: unknown server kind "${serverInput}". Valid: vllm (vLLM OpenAI-compatible server), web (the Qwen3Guard-Gen web image, POST /judge)`);
  }
  const server: ServerKind = serverInput;

  const containerModelDirRaw = merged.containerModelDir === undefined ? undefined : asString(merged.containerModelDir, source('containerModelDir'));
  if (containerModelDirRaw !== undefined && !containerModelDirRaw.startsWith('/')) {
    throw new UsageError(`${source('containerModelDir')}: "${containerModelDirRaw}" must be an absolute path inside the container, e.g. /models/${model.name}`);
  }
  const containerModelDir = normalizeContainerPath(containerModelDirRaw ?? `/models/${model.name}`);

  const hostsFile = merged.hosts === undefined ? null : path.resolve(cwd, asString(merged.hosts, source('hosts')));
  const explicitTargets = readTargets(asStringList(merged.host, source('host')), hostsFile);
  const endpoint = FLEET_COMMANDS.has(command) && explicitTargets.length === 0 ? dockerEndpoint() : null;
  const fromDocker = endpoint ? sshTargetOf(endpoint) : null;
  const targets = fromDocker ? [fromDocker] : explicitTargets;
  const remote = targets.length > 0;

  let mount: Mount | null = null;
  if (merged.mount !== undefined && merged.modelDir !== undefined) {
    throw new UsageError(`--mount and --model-dir both name the model volume; give one of them (--model-dir PATH is short for --mount PATH:${containerModelDir})`);
  }
  if (merged.mount !== undefined) {
    mount = parseMount(asString(merged.mount, source('mount')), source('mount'), cwd, remote);
  } else if (merged.modelDir !== undefined) {
    const dir = asString(merged.modelDir, source('modelDir'));
    if (dir.trim() === '') throw new UsageError(`${source('modelDir')}: empty path. Give the host folder that holds the model's files`);
    if (remote && !dir.startsWith('/')) {
      throw new UsageError(`${source('modelDir')}: "${dir}" is relative; with --host it is a path on each host, so give it absolute, e.g. /srv/models/${model.name}`);
    }
    const hostPath = remote ? normalizeContainerPath(dir) : path.resolve(cwd, dir);
    // On a host the folder is looked at by the probes there; here it must exist.
    if (!remote && !existsSync(hostPath)) {
      throw new UsageError(`${source('modelDir')}: ${hostPath} does not exist. Give the host folder that holds ${model.name}'s files (config.json, *.safetensors)`);
    }
    mount = { hostPath, containerPath: containerModelDir, raw: `${hostPath}:${containerModelDir}` };
  }

  const modelSource = resolveSource(merged.source === undefined ? undefined : asString(merged.source, source('source')), mount, source('source'));
  const containerEnv = asStringList(merged.env, source('env')).map((pair) => parseEnv(pair, source('env')));
  // What `up --env` gives the server (HF_TOKEN=..., HF_ENDPOINT=...) is what the server will use: judge the hub with it.
  const hubEnv = { ...env, ...Object.fromEntries(containerEnv.map((e) => [e.key, e.value])) };
  const hub = modelSource === 'dir' ? null : resolveHubSettings(modelSource, model, hubEnv, cwd);
  if (hub && containerModelDirRaw !== undefined) {
    throw new UsageError(`${source('containerModelDir')} names a folder inside the container, but with --source ${modelSource} the server downloads ${hub.repoId} into the mounted cache; give --model-dir (or --mount) to serve a folder`);
  }

  const imageGiven = merged.image !== undefined;
  // Podman resolves a short name only through registries.conf, which Debian leaves empty: qualify the default.
  const defaultImage = merged.runtime === 'podman' ? `docker.io/${DEFAULT_VLLM_IMAGE}` : DEFAULT_VLLM_IMAGE;
  const image = imageGiven ? asString(merged.image, source('image')).trim() : defaultImage;
  if (imageGiven && (image === '' || /\s/.test(image))) {
    throw new UsageError(`${source('image')}: "${image}" is not an image reference, e.g. ${DEFAULT_VLLM_IMAGE} (${VLLM_FLOOR_TEXT})`);
  }

  let cuda: string | null = null;
  if (merged.cuda !== undefined) {
    cuda = asString(merged.cuda, source('cuda')).trim();
    if (!/^\d+\.\d+(\.\d+)?$/.test(cuda)) throw new UsageError(`${source('cuda')}: "${cuda}" is not a CUDA version; give X.Y, e.g. --cuda 12.4`);
  }

  let gpu: number | null = null;
  let migDevice: string | null = null;
  if (merged.gpu !== undefined) {
    const text = typeof merged.gpu === 'string' ? merged.gpu.trim() : '';
    const mig = /^(\d+):(\d+)$/.exec(text);
    if (mig) [gpu, migDevice] = [asInt(mig[1], source('gpu'), 0, 63, 'an nvidia-smi GPU index, e.g. --gpu 0'), mig[2]!];
    else if (/^MIG-[0-9A-Za-z/-]+$/.test(text)) migDevice = text;
    else gpu = asInt(merged.gpu, source('gpu'), 0, 63, 'an nvidia-smi GPU index (--gpu 0), a MIG device (--gpu 0:1) or a MIG UUID (--gpu MIG-...)');
  }

  const runtimeInput = merged.runtime === undefined ? 'docker' : asString(merged.runtime, source('runtime'));
  if (runtimeInput !== 'docker' && runtimeInput !== 'podman') throw new UsageError(`${source('runtime')}: "${runtimeInput}" is not supported. Valid: docker, podman`);

  const port = merged.port === undefined ? DEFAULT_PORT[server] : asInt(merged.port, source('port'), 1, 65535, 'a TCP port, e.g. --port 8000');
  const url = merged.url === undefined ? null : asUrl(merged.url, source('url'));
  const metricsUrl = merged.metricsUrl === undefined ? null : asUrl(merged.metricsUrl, source('metricsUrl'));

  const controversialAs = merged.controversialAs === undefined ? 'unsafe' : asString(merged.controversialAs, source('controversialAs'));
  if (controversialAs !== 'unsafe' && controversialAs !== 'safe') {
    throw new UsageError(`${source('controversialAs')}: "${controversialAs}" is not valid. Valid: unsafe (strict reading, the official evaluation), safe (loose)`);
  }

  const name = merged.name === undefined ? `guard-doctor-${model.name.toLowerCase()}` : asString(merged.name, source('name'));
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new UsageError(`${source('name')}: "${name}" is not a valid container name (letters, digits, _ . - ; starting with a letter or digit)`);
  }

  const gpuMemoryUtilization = merged.gpuMemoryUtilization === undefined ? SERVE_DEFAULTS.gpuMemoryUtilization.value : asNumber(merged.gpuMemoryUtilization, source('gpuMemoryUtilization'));
  if (!(gpuMemoryUtilization > 0 && gpuMemoryUtilization <= 1)) {
    throw new UsageError(`${source('gpuMemoryUtilization')}: ${gpuMemoryUtilization} is out of range; give a fraction between 0 and 1, e.g. 0.85`);
  }

  const extraArgs = asStringList(merged.serverArgs, source('serverArgs'));
  // A key on the server's command line would be printed by --dry-run and shown by ps and docker inspect.
  if (extraArgs.some((a) => a === '--api-key' || a.startsWith('--api-key='))) {
    throw new UsageError(`--api-key in the server arguments would put the key on a command line; pass it as --env ${DEFAULT_API_KEY_ENV}=... instead (the value reaches the container through docker's environment and is never printed)`);
  }
  // Only the commands that talk to the server's /v1 API read a key.
  const apiKey = !['warm', 'suite', 'up', 'watch'].includes(command) ? null : resolveApiKey(merged.apiKeyEnv === undefined ? undefined : asString(merged.apiKeyEnv, source('apiKeyEnv')), source('apiKeyEnv'), command === 'up', command === 'up' ? containerEnv : [], env);

  return {
    command,
    cwd,
    model,
    modelGiven: merged.model !== undefined,
    server,
    mount,
    source: modelSource,
    hub,
    containerModelDir,
    image,
    imageGiven,
    cuda,
    gpu,
    migDevice,
    cpu: asBool(merged.cpu, source('cpu')),
    maxModelLen: merged.maxModelLen === undefined ? SERVE_DEFAULTS.maxModelLen.value : asInt(merged.maxModelLen, source('maxModelLen'), 128, 1_048_576, 'a number of tokens, e.g. --max-model-len 8192'),
    gpuMemoryUtilization,
    port,
    publishHost: merged.publishHost === undefined ? '127.0.0.1' : asString(merged.publishHost, source('publishHost')),
    url,
    casesFile: merged.cases === undefined ? null : path.resolve(cwd, asString(merged.cases, source('cases'))),
    tags: asStringList(merged.tag, source('tag')),
    controversialAs,
    requestTimeoutMs: seconds(merged.requestTimeout, source('requestTimeout'), 120),
    concurrency: merged.concurrency === undefined ? 4 : asInt(merged.concurrency, source('concurrency'), 1, 256, 'a number of requests in flight, e.g. --concurrency 4'),
    metricsUrl,
    promFile: merged.promFile === undefined ? null : path.resolve(cwd, asString(merged.promFile, source('promFile'))),
    json: asBool(merged.json, '--json'),
    output: resolveOutput(asBool(merged.json, '--json')),
    junit: merged.junit === undefined ? null : path.resolve(cwd, asString(merged.junit, source('junit'))),
    strict: asBool(merged.strict, source('strict')),
    verbose: asBool(merged.verbose, '--verbose'),
    probeTimeoutMs: seconds(merged.probeTimeout, source('probeTimeout'), 10),
    only: asStringList(merged.only, '--only').flatMap((list) => list.split(',')).map((name) => name.trim()).map((name) => {
      if (name === '') throw new UsageError('--only: an empty name; give a group or a check id, e.g. --only gpu or --only gpu.vram,port.free');
      return name;
    }),
    listChecks: asBool(merged.listChecks, '--list-checks'),
    apiKey,
    name,
    env: containerEnv,
    runtime: runtimeInput,
    dryRun: asBool(merged.dryRun, '--dry-run'),
    runSuite: merged.suite === undefined ? true : asBool(merged.suite, source('suite')),
    force: asBool(merged.force, source('force')),
    replace: asBool(merged.replace, source('replace')),
    keep: asBool(merged.keep, source('keep')),
    readyTimeoutMs: seconds(merged.readyTimeout, source('readyTimeout'), 900),
    warmTimeoutMs: seconds(merged.warmTimeout, source('warmTimeout'), 600),
    extraArgs,
    container: merged.container === undefined ? null : asString(merged.container, '--container'),
    logFiles: asStringList(merged.log, '--log').map((f) => path.resolve(cwd, f)),
    intervalMs: seconds(merged.interval, source('interval'), 5),
    durationMs: seconds(merged.duration, source('duration'), 300),
    cardinalityLimit: merged.cardinalityLimit === undefined ? 100 : asInt(merged.cardinalityLimit, source('cardinalityLimit'), 1, 10_000_000, 'a number of series, e.g. --cardinality-limit 100'),
    targets,
    targetsFromDocker: fromDocker ? endpoint : null,
    foreignDocker: endpoint && !fromDocker && !endpointIsLoopback(endpoint) ? endpoint : null,
    parallel: merged.parallel === undefined ? 8 : asInt(merged.parallel, source('parallel'), 1, 256, 'hosts handled at once, e.g. --parallel 8'),
  };
}

/** `--source`: `dir` with a folder, else a hub (default `hf`); a hub and a folder together are a contradiction. */
function resolveSource(input: string | undefined, mount: Mount | null, option: string): ModelSource {
  if (input === undefined) return mount ? 'dir' : 'hf';
  const wanted = input.trim().toLowerCase();
  if (!(MODEL_SOURCES as readonly string[]).includes(wanted)) {
    throw new UsageError(`${option}: unknown source "${input}". Valid: dir (a local folder, with --model-dir or --mount), hf (the Hugging Face Hub), modelscope`);
  }
  const source = wanted as ModelSource;
  if (source === 'dir' && !mount) throw new UsageError(`${option} dir needs the folder: give --model-dir PATH (or --mount HOST:CONTAINER)`);
  if (source !== 'dir' && mount) {
    throw new UsageError(`${option} ${source} and --model-dir/--mount both say where the model comes from; drop --source to serve the folder, or drop the folder to let the server download it`);
  }
  return source;
}

/**
 * The server's API key: from `--env NAME=...` (up: the value the container gets), else from the
 * doctor's environment. NAME is --api-key-env, default VLLM_API_KEY. An empty value is no key
 * (vLLM ignores an empty VLLM_API_KEY too). A variable named with --api-key-env must be set.
 */
function resolveApiKey(named: string | undefined, option: string, forUp: boolean, containerEnv: readonly EnvVar[], environment: NodeJS.ProcessEnv): ApiKey | null {
  const name = named?.trim() ?? DEFAULT_API_KEY_ENV;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    // Not echoed: what was given here may be the key itself.
    throw new UsageError(`${option}: what was given is not an environment variable name; give the NAME of the variable that holds the key, e.g. --api-key-env ${DEFAULT_API_KEY_ENV} (never the key itself)`);
  }
  const fromContainer = containerEnv.filter((e) => e.key === name).at(-1)?.value;
  if (fromContainer) return new ApiKey(name, fromContainer, '--env');
  const fromEnvironment = environment[name];
  if (fromEnvironment) return new ApiKey(name, fromEnvironment, 'environment');
  if (named !== undefined) {
    throw new UsageError(`${option}: the variable ${name} is not set (or empty) in guard-doctor's environment${forUp ? ` nor given with --env ${name}=...` : ''}; export it with the server's key, or drop ${option}`);
  }
  return null;
}

/** `HOST:CONTAINER[:MODE]`, as `docker run -v` takes it. */
export function parseMount(raw: string, option: string, cwd: string, remote = false): Mount {
  const example = `e.g. ${option} /srv/models/Qwen3Guard-Gen-8B:/models/Qwen3Guard-Gen-8B`;
  // A container path always starts with "/", so split at the first ":/" after a non-empty host part.
  const match = /^(.+?):(\/[^:]*)(?::([a-zA-Z,]+))?$/.exec(raw);
  if (!match) throw new UsageError(`${option}: "${raw}" is not HOST_PATH:CONTAINER_PATH (the container path must be absolute), ${example}`);
  const [, host, container, mode] = match as unknown as [string, string, string, string | undefined];
  if (!host.startsWith('/') && !host.startsWith('.') && !host.startsWith('~')) {
    throw new UsageError(`${option}: "${host}" looks like a named volume; guard-doctor needs a host folder (an absolute or ./relative path) to inspect the model, ${example}`);
  }
  if (remote && !host.startsWith('/')) {
    throw new UsageError(`${option}: "${host}" is relative; with --host it is a path on each host, so give it absolute, ${example}`);
  }
  const hostPath = remote ? normalizeContainerPath(host) : path.resolve(cwd, host.startsWith('~') ? host.replace(/^~/, process.env.HOME ?? '~') : host);
  if (mode !== undefined && !/^(ro|rw|z|Z|shared|slave|private|rshared|rslave|rprivate|nocopy)(,(ro|rw|z|Z|shared|slave|private|rshared|rslave|rprivate|nocopy))*$/.test(mode)) {
    throw new UsageError(`${option}: unknown mount option "${mode}" in "${raw}"; valid: ro, rw, z, Z`);
  }
  return { hostPath, containerPath: normalizeContainerPath(container), mode, raw };
}

function normalizeContainerPath(p: string): string {
  const normalized = path.posix.normalize(p);
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
}

function parseEnv(pair: string, option: string): EnvVar {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new UsageError(`${option}: "${redactPair(pair)}" is not KEY=VALUE, e.g. --env HF_TOKEN=...`);
  const key = pair.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`${option}: "${key}" is not a valid environment variable name`);
  return { key, value: pair.slice(eq + 1) };
}

function redactPair(pair: string): string {
  return pair.length > 3 ? `${pair.slice(0, 3)}...` : pair;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function asString(value: unknown, option: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new UsageError(`${option}: expected a string, got ${JSON.stringify(value)}`);
}

function asStringList(value: unknown, option: string): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.map((v) => asString(v, option));
  return [asString(value, option)];
}

function asBool(value: unknown, option: string): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  throw new UsageError(`${option}: expected true or false, got ${JSON.stringify(value)}`);
}

function asNumber(value: unknown, option: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`${option}: "${String(value)}" is not a number`);
  return n;
}

function asInt(value: unknown, option: string, min: number, max: number, what: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${option}: "${String(value)}" is not valid; give a whole number from ${min} to ${max} (${what})`);
  }
  return n;
}

function seconds(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const n = asNumber(value, option);
  if (!(n > 0) || n > 7 * 24 * 3600) throw new UsageError(`${option}: ${String(value)} is not a positive number of seconds`);
  return Math.round(n * 1000);
}

function asUrl(value: unknown, option: string): string {
  const text = asString(value, option).trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${option}: "${text}" is not a URL, e.g. ${option} http://127.0.0.1:8000`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${option}: "${text}" must be an http:// or https:// URL`);
  return text.replace(/\/+$/, '');
}
