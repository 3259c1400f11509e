/**
 * Where a server gets Qwen3Guard-Gen when no model folder is given: the Hugging Face Hub or
 * ModelScope, the caches their client libraries keep, and how the hubs answer. One place for
 * these facts; each row names its source.
 */
import type { ModelSpec } from './models.js';

export type HubSource = 'hf' | 'modelscope';
export type ModelSource = 'dir' | HubSource;
export const MODEL_SOURCES: readonly ModelSource[] = ['dir', 'hf', 'modelscope'];

/** The organisation that publishes Qwen3Guard-Gen on both hubs (huggingface.co/Qwen, modelscope.cn/organization/qwen). */
export const HUB_ORG = 'Qwen';

export function hubRepoId(model: ModelSpec): string {
  return `${HUB_ORG}/${model.name}`;
}

/**
 * Hugging Face (huggingface_hub/constants.py): the endpoint is HF_ENDPOINT or
 * https://huggingface.co; the cache is HF_HUB_CACHE, else $HF_HOME/hub, HF_HOME defaulting to
 * $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface. The login token lives in
 * HF_TOKEN_PATH, else $HF_HOME/token; HF_TOKEN wins over it.
 */
export const HF = {
  defaultEndpoint: 'https://huggingface.co',
  /** vLLM's Docker instructions: `-v ~/.cache/huggingface:/root/.cache/huggingface`. */
  containerHome: '/root/.cache/huggingface',
  hubSubfolder: 'hub',
  tokenFile: 'token',
  /** A repo's folder in the cache: `models--{org}--{name}` (huggingface_hub repo_folder_name). */
  repoFolder: (repoId: string) => `models--${repoId.split('/').join('--')}`,
  /** model info: GET {endpoint}/api/models/{repo_id}/revision/{revision}; `blobs=true` adds file sizes (hf_api.py model_info). */
  modelInfoPath: (repoId: string, revision = 'main') => `/api/models/${repoId}/revision/${encodeURIComponent(revision)}?blobs=true`,
  /** The metadata request hf_hub_download makes before a download: HEAD {endpoint}/{repo_id}/resolve/{revision}/{file}. */
  resolvePath: (repoId: string, file: string, revision = 'main') => `/${repoId}/resolve/${encodeURIComponent(revision)}/${file}`,
  /** The page where a gated repo's conditions are accepted. */
  repoPage: (endpoint: string, repoId: string) => `${endpoint.replace(/\/+$/, '')}/${repoId}`,
  /** A widely used public mirror, for hosts that cannot reach huggingface.co (set as HF_ENDPOINT). */
  mirrorExample: 'https://hf-mirror.com',
} as const;

/**
 * What the Hub answers when access is refused (huggingface_hub utils/_http.py hf_raise_for_status,
 * and the answers quoted in issues, see test/fixtures/hub/SOURCES.md): the `X-Error-Code` header
 * says why, `X-Error-Message` says it in words.
 *  - 401 + GatedRepo: a gated repo and no token ("... Please log in.");
 *  - 403 + GatedRepo: a token whose account is not on the authorized list;
 *  - 401 + RepoNotFound: private (or missing) and no token, or a token that may not see it.
 */
export const HF_ERROR_CODES = { gated: 'GatedRepo', notFound: 'RepoNotFound', revisionNotFound: 'RevisionNotFound', entryNotFound: 'EntryNotFound' } as const;

/**
 * ModelScope (modelscope/hub/utils/utils.py, constants.py): the cache is MODELSCOPE_CACHE,
 * else ~/.cache/modelscope/hub; a model lives in `{cache}/models/{owner}/{name}` with every `.`
 * of the name written `___` (older releases used `{cache}/{owner}/{name}`), as plain files. The
 * API answers at https://{MODELSCOPE_DOMAIN or www.modelscope.cn}.
 */
export const MODELSCOPE = {
  defaultDomain: 'www.modelscope.cn',
  /** $HOME of root in the vLLM image, where the modelscope library keeps its cache. */
  containerCache: '/root/.cache/modelscope/hub',
  modelFolder: (repoId: string) => {
    const [owner, name] = repoId.split('/') as [string, string];
    return { current: `models/${owner}/${name.replace(/\./g, '___')}`, legacy: `${owner}/${name.replace(/\./g, '___')}` };
  },
  /** GET {endpoint}/api/v1/models/{id}/repo/files?Revision=master&Recursive=true (HubApi.get_model_files). */
  filesPath: (repoId: string) => `/api/v1/models/${repoId}/repo/files?Revision=master&Recursive=true`,
  /** vLLM downloads through ModelScope when this is set (vllm/envs.py VLLM_USE_MODELSCOPE). */
  serverEnv: { key: 'VLLM_USE_MODELSCOPE', value: 'true' },
} as const;

/** The doctor's environment variables that the server in the container needs too, passed by name. */
export const HUB_PASS_ENV = {
  hf: ['HF_TOKEN', 'HF_ENDPOINT', 'HF_HUB_OFFLINE'],
  modelscope: ['HF_HUB_OFFLINE', 'MODELSCOPE_DOMAIN', 'MODELSCOPE_API_TOKEN'],
} as const;
/** Of those, the ones whose values are secrets. */
export const HUB_SECRET_ENV = new Set(['HF_TOKEN', 'MODELSCOPE_API_TOKEN']);

/** huggingface_hub's truthy spellings for boolean variables (constants.py _is_true). */
export function envTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.trim().toUpperCase());
}

/**
 * Beside the weights, a Qwen3Guard-Gen repo holds config, generation config, the tokenizer
 * (tokenizer.json is about 11 MB), vocab, merges, README and LICENSE: a download is the
 * weights plus about 16 MB. Used when the hub's listing gives no sizes.
 */
export const NON_WEIGHT_FILES_BYTES = 16 * 1024 * 1024;

/** Bytes a full download of `model` takes on disk, from the published sizes. */
export function publishedDownloadBytes(model: ModelSpec): number {
  return model.weightBytes + NON_WEIGHT_FILES_BYTES;
}
