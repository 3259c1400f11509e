/**
 * The hub side of the settings (`--source hf|modelscope`): which repo, which endpoint, whether
 * offline, the token (a secret: kept here, never printed), the user's cache on this host and
 * how it is mounted into the container, resolved from the doctor's environment the way the
 * hub client libraries resolve it inside the server.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HF, HUB_PASS_ENV, MODELSCOPE, envTrue, hubRepoId, type HubSource } from './data/hub.js';
import type { ModelSpec } from './data/models.js';
import type { Host } from './exec.js';
import type { Settings } from './settings.js';
import { errorMessage } from './errors.js';

export interface HubMount {
  hostPath: string;
  containerPath: string;
}

export interface HubSettings {
  source: HubSource;
  /** `Qwen/Qwen3Guard-Gen-8B`: what the server is told to serve. */
  repoId: string;
  endpoint: string;
  /** The variable the endpoint came from, or null for the hub's default. */
  endpointFrom: 'HF_ENDPOINT' | 'MODELSCOPE_DOMAIN' | null;
  /** HF_HUB_OFFLINE is on: the server will not contact the hub at all. */
  offline: boolean;
  /** A secret: sent to the hub as a bearer token, never printed. */
  token: string | null;
  /** Where the token came from, for reports (`HF_TOKEN`, or the login token file). */
  tokenFrom: string | null;
  /** The cache folder that holds the repos on this host (HF: the hub cache; ModelScope: MODELSCOPE_CACHE). */
  cacheDir: string;
  /** How cacheDir was chosen, e.g. `HF_HOME`, or `the default ~/.cache/huggingface`. */
  cacheDirFrom: string;
  /** The repo's folder in the cache, where it is (or would be) on this host; ModelScope: current layout first. */
  repoDirs: string[];
  /** Host folders mounted read-write into the container so the download is kept. */
  mounts: HubMount[];
  /** The proxy variable set in the doctor's environment, if any: the doctor's own requests do not go through it. */
  proxyFrom: string | null;
  /** The doctor's variables handed to the container by name (`--env NAME`, the value through the CLI's environment). */
  passEnv: { key: string; value: string }[];
  /**
   * The machine whose file system holds cacheDir (and that asks the hub): unset for this
   * machine; a fleet host once hostHubSettings resolved the cache there.
   */
  cacheHost?: Host;
}

type Env = Record<string, string | undefined>;

function nonEmpty(value: string | undefined): string | null {
  return value !== undefined && value.trim() !== '' ? value.trim() : null;
}

function expandHome(p: string, home: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(home, p.slice(1)) : p;
}

export function resolveHubSettings(source: HubSource, model: ModelSpec, env: Env = process.env, cwd = process.cwd()): HubSettings {
  const home = nonEmpty(env.HOME) ?? os.homedir();
  const abs = (p: string) => path.resolve(cwd, expandHome(p, home));
  const repoId = hubRepoId(model);
  const passEnv = HUB_PASS_ENV[source].filter((name) => env[name] !== undefined && env[name] !== '').map((key) => ({ key, value: env[key]! }));
  const offline = envTrue(env.HF_HUB_OFFLINE);
  const proxyFrom = ['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy'].find((name) => nonEmpty(env[name]) !== null) ?? null;

  const location = hubCacheLocation(source, repoId, env, home, cwd);
  if (source === 'modelscope') {
    const domain = nonEmpty(env.MODELSCOPE_DOMAIN);
    return {
      source,
      repoId,
      endpoint: `https://${domain ?? MODELSCOPE.defaultDomain}`.replace(/^https:\/\/(https?:\/\/)/, '$1'),
      endpointFrom: domain ? 'MODELSCOPE_DOMAIN' : null,
      offline,
      token: nonEmpty(env.MODELSCOPE_API_TOKEN),
      tokenFrom: nonEmpty(env.MODELSCOPE_API_TOKEN) ? 'MODELSCOPE_API_TOKEN' : null,
      ...location.cache,
      proxyFrom,
      passEnv,
    };
  }
  const hfHome = location.hfHome!;

  let token = nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN);
  let tokenFrom: string | null = token ? (nonEmpty(env.HF_TOKEN) ? 'HF_TOKEN' : 'HUGGING_FACE_HUB_TOKEN') : null;
  if (!token) {
    const tokenFile = nonEmpty(env.HF_TOKEN_PATH) ? abs(env.HF_TOKEN_PATH!) : path.join(hfHome, HF.tokenFile);
    try {
      if (existsSync(tokenFile)) {
        token = nonEmpty(readFileSync(tokenFile, 'utf8'));
        if (token) tokenFrom = `${tokenFile} (huggingface-cli login)`;
      }
    } catch {
      // An unreadable token file is the same as none: the hub will say whether one is needed.
    }
  }
  const endpoint = nonEmpty(env.HF_ENDPOINT);
  return {
    source,
    repoId,
    endpoint: (endpoint ?? HF.defaultEndpoint).replace(/\/+$/, ''),
    endpointFrom: endpoint ? 'HF_ENDPOINT' : null,
    offline,
    token,
    tokenFrom,
    ...location.cache,
    proxyFrom,
    passEnv,
  };
}

type CacheLocation = Pick<HubSettings, 'cacheDir' | 'cacheDirFrom' | 'repoDirs' | 'mounts'>;

/** Where the hub client libraries keep the repos, from the variables they read (HF: HF_HOME, HF_HUB_CACHE, ...; ModelScope: MODELSCOPE_CACHE). */
export function hubCacheLocation(source: HubSource, repoId: string, env: Env, home: string, cwd: string): { cache: CacheLocation; hfHome: string | null } {
  const abs = (p: string) => path.resolve(cwd, expandHome(p, home));
  if (source === 'modelscope') {
    const fromEnv = nonEmpty(env.MODELSCOPE_CACHE);
    const cacheDir = fromEnv ? abs(fromEnv) : path.join(home, '.cache', 'modelscope', 'hub');
    const folders = MODELSCOPE.modelFolder(repoId);
    return {
      hfHome: null,
      cache: {
        cacheDir,
        cacheDirFrom: fromEnv ? 'MODELSCOPE_CACHE' : 'the default ~/.cache/modelscope/hub',
        repoDirs: [path.join(cacheDir, folders.current), path.join(cacheDir, folders.legacy)],
        mounts: [{ hostPath: cacheDir, containerPath: MODELSCOPE.containerCache }],
      },
    };
  }
  const hfHomeEnv = nonEmpty(env.HF_HOME);
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  const hfHome = hfHomeEnv ? abs(hfHomeEnv) : path.join(xdg ? abs(xdg) : path.join(home, '.cache'), 'huggingface');
  const hubCacheEnv = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  const cacheDir = hubCacheEnv ? abs(hubCacheEnv) : path.join(hfHome, HF.hubSubfolder);
  const cacheDirFrom = hubCacheEnv
    ? env.HF_HUB_CACHE !== undefined ? 'HF_HUB_CACHE' : 'HUGGINGFACE_HUB_CACHE'
    : hfHomeEnv ? 'HF_HOME' : xdg ? 'XDG_CACHE_HOME' : 'the default ~/.cache/huggingface';
  // The whole HF home goes in (it also holds the login token); a hub cache kept elsewhere goes in at its place.
  const mounts: HubMount[] = [{ hostPath: hfHome, containerPath: HF.containerHome }];
  if (cacheDir !== path.join(hfHome, HF.hubSubfolder)) mounts.push({ hostPath: cacheDir, containerPath: `${HF.containerHome}/${HF.hubSubfolder}` });
  return { hfHome, cache: { cacheDir, cacheDirFrom, repoDirs: [path.join(cacheDir, HF.repoFolder(repoId))], mounts } };
}

/** The variables that place the cache, read on a fleet host (its login environment, as its docker and hub clients see it). */
export const HOST_CACHE_ENV = ['HOME', 'HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'XDG_CACHE_HOME', 'MODELSCOPE_CACHE'] as const;
/** A constant script: it prints each variable NUL-terminated; nothing from the user is in it. */
const PRINT_CACHE_ENV = `printf '%s\\0' ${HOST_CACHE_ENV.map((v) => `"\${${v}-}"`).join(' ')}`;

/**
 * With --host, the cache that matters is the host's: the server there downloads into it and
 * its container mounts it. The location is resolved from the host's own HOME, HF_HOME, ...;
 * the rest (repo, endpoint, token, offline) stays the doctor's, as the server gets it from
 * the doctor. Throws with the host's words when its environment cannot be read.
 */
export async function hostHubSettings(settings: Settings, host: Host): Promise<Settings> {
  const hub = settings.hub;
  if (!hub || !host.remote) return settings;
  const result = await host.run('sh', ['-c', PRINT_CACHE_ENV], { timeoutMs: settings.probeTimeoutMs });
  const values = result.stdout.split('\0');
  if (result.exitCode !== 0 || values.length < HOST_CACHE_ENV.length + 1 || !values[0]!.startsWith('/')) {
    throw new Error(`could not read where ${host.label} keeps the hub cache (HOME, HF_HOME, ...): ${errorMessage(result.stderr.trim() || `exit code ${result.exitCode}`)}`);
  }
  const env = Object.fromEntries(HOST_CACHE_ENV.map((name, i) => [name, values[i] === '' ? undefined : values[i]]));
  const home = env.HOME!;
  const location = hubCacheLocation(hub.source, hub.repoId, env, home, home).cache;
  return { ...settings, hub: { ...hub, ...location, cacheDirFrom: `${location.cacheDirFrom} on ${host.label}`, cacheHost: host } };
}

/** Where a host path under one of the mounts appears inside the container, or null. */
export function containerPathOf(hub: HubSettings, hostPath: string): string | null {
  // The most specific mount wins (a hub cache mounted inside the HF home).
  const sorted = [...hub.mounts].sort((a, b) => b.hostPath.length - a.hostPath.length);
  for (const m of sorted) {
    if (hostPath === m.hostPath) return m.containerPath;
    if (hostPath.startsWith(m.hostPath + path.sep)) return path.posix.join(m.containerPath, ...path.relative(m.hostPath, hostPath).split(path.sep));
  }
  return null;
}
