/**
 * Serving images the doctor knows without pulling them: what each one's environment says to the
 * NVIDIA container runtime (CUDA_VERSION, NVIDIA_REQUIRE_CUDA) and which GPU architectures its
 * kernels were compiled for. The first deploy judges the image before it is on the host, so
 * these facts cannot come from `docker image inspect`; every row names where it came from.
 *
 * Real vLLM images do not carry TORCH_CUDA_ARCH_LIST at run time (it is a build-stage variable;
 * `vllm collect-env` in them says "CUDA Archs: Not Set"), so the compiled list is the one the
 * release's docker/Dockerfile passes to the build.
 */
import type { ServerKind } from '../types.js';

/** Pinned default serving image for `--server vllm`. */
export const DEFAULT_VLLM_IMAGE = 'vllm/vllm-openai:v0.11.0';

/** The CUDA an image of each server kind is assumed to need when nothing else says (web: its published image's base). */
export const DEFAULT_CUDA: Record<ServerKind, string> = { vllm: '12.8', web: '12.1' };

/** The oldest vLLM that serves Qwen3Guard-Gen (Qwen3Guard README). */
export const MIN_VLLM_FOR_QWEN3GUARD = '0.9.0';

/**
 * NVIDIA_REQUIRE_CUDA of the nvidia/cuda 12.8.1 base images, verbatim: `cuda>=12.8`, or, for
 * every brand but GeForce, a driver on the 470, 535, 550, 560 or 565 branch (those start the
 * image through CUDA forward compatibility, with the compat libraries the image ships).
 */
export const REQUIRE_CUDA_12_8 = [
  'cuda>=12.8',
  ...['470', '535', '550', '560', '565'].flatMap((branch) =>
    ['unknown', 'grid', 'tesla', 'nvidia', 'quadro', 'quadrortx', 'nvidiartx', 'vapps', 'vpc', 'vcs', 'vws', 'cloudgaming'].map(
      (brand) => `brand=${brand},driver>=${branch},driver<${Number(branch) + 1}`,
    ),
  ),
].join(' ');

const CUDA_12_8_1_SOURCE =
  'nvidia/cuda:12.8.1-devel-ubuntu22.04 base (gitlab.com/nvidia/container-images/cuda, dist/12.8.1/ubuntu2204/base/Dockerfile: ENV NVIDIA_REQUIRE_CUDA); the same string in `vllm collect-env` of vllm/vllm-openai images (e.g. github.com/vllm-project/vllm/issues, "Environment Variables" of 0.10.x reports)';

export interface KnownImage {
  /** Repository without tag, e.g. "vllm/vllm-openai". */
  repository: string;
  /** Tags that name this build (a release and its aliases). */
  tags: readonly string[];
  server: ServerKind;
  /** The vLLM release inside, for vLLM images. */
  vllmVersion: string | null;
  /** CUDA_VERSION in the image's environment. */
  cudaVersion: string;
  /** NVIDIA_REQUIRE_CUDA in the image's environment. */
  requireCuda: string;
  /** The GPU architectures its kernels are compiled for (TORCH_CUDA_ARCH_LIST of the build). */
  archList: readonly string[];
  /** Where each figure comes from. */
  source: { cuda: string; archList: string };
}

const vllmRow = (version: string, archList: readonly string[], archSource: string): KnownImage => ({
  repository: 'vllm/vllm-openai',
  tags: [`v${version}`],
  server: 'vllm',
  vllmVersion: version,
  cudaVersion: '12.8.1',
  requireCuda: REQUIRE_CUDA_12_8,
  archList,
  source: {
    cuda: `github.com/vllm-project/vllm/blob/v${version}/docker/Dockerfile (ARG CUDA_VERSION=12.8.1, FINAL_BASE_IMAGE nvidia/cuda:\${CUDA_VERSION}-devel-ubuntu22.04); ${CUDA_12_8_1_SOURCE}`,
    archList: archSource,
  },
});

const ARCH_WITH_PTX_10 = ['7.0', '7.5', '8.0', '8.9', '9.0', '10.0+PTX'] as const;
const ARCH_WITH_12_0 = ['7.0', '7.5', '8.0', '8.9', '9.0', '10.0', '12.0'] as const;
const archSource = (version: string, list: readonly string[]) =>
  `github.com/vllm-project/vllm/blob/v${version}/docker/Dockerfile: ARG torch_cuda_arch_list='${list.join(' ')}'`;

/** The vLLM releases that serve Qwen3Guard (0.9.0 and later) up to the pinned default, oldest first. */
export const KNOWN_IMAGES: readonly KnownImage[] = [
  vllmRow('0.9.0', ARCH_WITH_PTX_10, archSource('0.9.0', ARCH_WITH_PTX_10)),
  vllmRow('0.9.1', ARCH_WITH_PTX_10, archSource('0.9.1', ARCH_WITH_PTX_10)),
  vllmRow('0.9.2', ARCH_WITH_12_0, archSource('0.9.2', ARCH_WITH_12_0)),
  vllmRow('0.10.0', ARCH_WITH_12_0, archSource('0.10.0', ARCH_WITH_12_0)),
  vllmRow('0.10.1.1', ARCH_WITH_12_0, archSource('0.10.1.1', ARCH_WITH_12_0)),
  vllmRow('0.10.2', ARCH_WITH_12_0, archSource('0.10.2', ARCH_WITH_12_0)),
  vllmRow('0.11.0', ARCH_WITH_12_0, archSource('0.11.0', ARCH_WITH_12_0)),
];

/** "docker.io/vllm/vllm-openai:v0.11.0" -> { repository: "vllm/vllm-openai", tag: "v0.11.0" }; digests keep no tag. */
export function splitImageRef(ref: string): { repository: string; tag: string | null } {
  let rest = ref.trim();
  const at = rest.indexOf('@');
  if (at >= 0) rest = rest.slice(0, at);
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  const tag = colon > slash ? rest.slice(colon + 1) : null;
  let repository = colon > slash ? rest.slice(0, colon) : rest;
  repository = repository.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '');
  return { repository, tag: tag === null ? null : tag };
}

/** The table row of an image reference, or undefined for an image the doctor does not know. */
export function knownImage(ref: string): KnownImage | undefined {
  const { repository, tag } = splitImageRef(ref);
  if (tag === null) return undefined;
  return KNOWN_IMAGES.find((image) => image.repository === repository && image.tags.includes(tag));
}

/** "vllm/vllm-openai:v0.11.0" */
export function imageRef(image: KnownImage): string {
  return `${image.repository}:${image.tags[0]}`;
}
