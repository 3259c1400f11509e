/**
 * The diagnose knowledge base: what failed deployments print, and what it means. Every row of
 * FACTS.md's failure table is here, plus what else shows up in the field (Hugging Face
 * offline/gated errors, vLLM context-length limits, shared memory, wrong image platform).
 *
 * Order matters: findings are reported in this order, so root causes that explain later
 * symptoms (no GPU runtime, driver too old) come before the symptoms (CUDA OOM, tracebacks).
 * Patterns are matched line by line against the log with ANSI colours removed; keep them
 * specific enough that a healthy vLLM start-up log (INFO lines naming gpu_memory_utilization,
 * KV cache sizes, max_model_len) matches nothing.
 */
import { VLLM_FLOOR_TEXT } from './serving.js';

export interface Signature {
  id: string;
  /** Any of these on one line is evidence. */
  patterns: readonly RegExp[];
  /** Lines that look like a match but are not (checked only on lines a pattern matched). */
  unless?: readonly RegExp[];
  /** What went wrong, one sentence. A function may quote numbers from the first matching line. */
  cause: string | ((match: RegExpMatchArray) => string);
  /** What to do, one sentence; may also use the first matching line. */
  fix: string | ((match: RegExpMatchArray) => string);
  /**
   * Evidence only on lines that name the model's files (a `/models/...` folder, a config.json
   * or weights file, or a path the caller knows is the model dir), because the same words on
   * other lines mean something else (`No such file or directory` of a socket).
   */
  modelPathPatterns?: readonly RegExp[];
}

/** Words that show a line is about the model's files. */
export const MODEL_PATH_HINT = /(\/models?\/|config\.json|\.safetensors|tokenizer(_config)?\.json|generation_config\.json|model\.safetensors\.index\.json|模型)/i;

export const SIGNATURES: readonly Signature[] = [
  // ---- the container runtime and the GPU hand-over ----
  {
    id: 'container-toolkit-missing',
    patterns: [
      /could not select device driver "[^"]*" with capabilities: \[\[gpu\]\]/,
      /failed to discover GPU vendor from CDI/,
      /unresolvable CDI devices? nvidia\.com\/gpu/,
      /unknown or invalid runtime name: nvidia/,
    ],
    cause: 'the container runtime cannot hand a GPU to a container: the NVIDIA container toolkit is not installed or not registered with the runtime',
    fix: 'install nvidia-container-toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker` and restart the daemon (podman: `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`)',
  },
  {
    id: 'driver-too-old',
    patterns: [
      /unsatisfied condition: cuda>=(\d+\.\d+)/,
      /CUDA driver version is insufficient for CUDA runtime version/,
      /The NVIDIA driver on your system is too old/,
      /cudaErrorInsufficientDriver/,
    ],
    cause: (m) =>
      m[1]
        ? `the NVIDIA driver is older than the image's CUDA ${m[1]} needs`
        : "the NVIDIA driver is older than the CUDA version the image was built with",
    fix: (m) =>
      m[1]
        ? `update the NVIDIA driver to one that supports CUDA ${m[1]} (see \`guard-doctor check\`, gpu.driver), or use an image built for an older CUDA`
        : 'update the NVIDIA driver (see `guard-doctor check`, gpu.driver), or use an image built for an older CUDA',
  },
  {
    id: 'no-driver',
    patterns: [
      /failed to initialize NVML/i,
      /nvml error: driver not loaded/,
      /nvidia-smi: (command )?not found/,
      /NVIDIA-SMI has failed/,
      /Found no NVIDIA driver on your system/,
      /libcuda\.so(\.1)?: cannot open shared object file/,
      /libnvidia-ml\.so(\.1)?: cannot open shared object file/,
    ],
    cause: 'no NVIDIA driver is reachable: it is not installed or loaded on the host, or it was not passed into the container',
    fix: 'check `nvidia-smi` on the host; install or load the driver, and start the container with a GPU (--gpus all, or podman --device nvidia.com/gpu=all)',
  },
  {
    id: 'no-gpu-visible',
    patterns: [
      /Failed to infer device type/,
      /No CUDA GPUs are available/,
      /RuntimeError: CUDA error: no CUDA-capable device is detected/,
      /CUDA driver initialization failed, you might not have a CUDA gpu/,
    ],
    cause: 'the serving process sees no GPU inside the container',
    fix: 'start the container with a GPU request (--gpus all or --gpus device=N; podman: --device nvidia.com/gpu=all), or serve on CPU with an image built for it',
  },
  {
    id: 'image-not-found',
    // "Unable to find image ... locally" alone is not evidence: docker prints it before every pull.
    patterns: [
      /pull access denied for/,
      /manifest for \S+ not found/,
      /manifest unknown/,
      /repository does not exist or may require 'docker login'/,
      /Error: initializing source docker:\/\/\S+: reading manifest/,
    ],
    cause: 'the image is not on this host and could not be pulled (wrong name or tag, no network, or a private registry)',
    fix: 'check the --image reference, `docker login` for a private registry, or `docker pull` it where there is network and `docker save`/`docker load` it here',
  },
  {
    id: 'image-wrong-platform',
    patterns: [/exec format error/, /image's platform \(\S+\) does not match the detected host platform/],
    cause: "the image was built for another CPU architecture than this host's",
    fix: 'use the image built for this architecture (e.g. the linux/amd64 or linux/arm64 tag), or pass --platform to docker pull',
  },
  {
    id: 'port-in-use',
    patterns: [
      /address already in use/i,
      /port is already allocated/,
      /Bind for \S+ failed/,
      /\[Errno 98\]/,
    ],
    cause: 'the port is already taken by another process or container',
    fix: 'stop what holds the port (`docker ps`, `ss -ltnp`), or publish on another one with --port',
  },
  {
    id: 'docker-permission-denied',
    patterns: [/permission denied while trying to connect to the Docker daemon socket/, /Got permission denied while trying to connect to the Docker daemon/],
    cause: 'this user may not talk to the Docker daemon',
    fix: 'add the user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run with sudo',
  },
  // ---- GPU memory ----
  {
    id: 'vllm-gpu-memory-utilization',
    patterns: [
      /Free memory on device(?: \S+)? \(([\d.]+)\/([\d.]+) GiB\) on startup is less than desired GPU memory utilization \(([\d.]+), ([\d.]+) GiB\)/,
      /Free memory on device .*is less than desired GPU memory utilization/,
    ],
    cause: (m) =>
      m[1] && m[2] && m[3]
        ? `vLLM refused to start: only ${m[1]} of ${m[2]} GiB GPU memory was free, but --gpu-memory-utilization ${m[3]} asks for ${m[4]} GiB; other processes hold GPU memory`
        : 'vLLM refused to start: other processes hold GPU memory, so less is free than --gpu-memory-utilization asks for',
    fix: (m) => {
      if (m[1] && m[2]) {
        const fraction = Math.floor((Number(m[1]) / Number(m[2])) * 100 - 2) / 100;
        if (fraction > 0.05) return `free GPU memory (\`nvidia-smi\` lists the processes holding it), or lower --gpu-memory-utilization to ${fraction.toFixed(2)} or less`;
      }
      return 'free GPU memory (`nvidia-smi` lists the processes holding it), or lower --gpu-memory-utilization';
    },
  },
  {
    id: 'vllm-kv-cache-too-small',
    patterns: [
      /larger than the available KV cache memory/,
      /larger than the maximum number of tokens that can be stored in KV cache/,
      /No available memory for the cache blocks/,
      /Insufficient memory for KV cache|not enough KV cache space/,
    ],
    cause: "vLLM's KV cache is too small for --max-model-len: the weights leave too little GPU memory for one full-length request",
    fix: (match) => {
      const fits = kvCacheFitTokens(match.input ?? '');
      const lower = fits ? `lower --max-model-len to ${fits} (vLLM says ${fits} tokens fit)` : 'lower --max-model-len (e.g. 8192)';
      return `${lower}, raise --gpu-memory-utilization if memory is free, or use a GPU with more memory or a smaller model`;
    },
  },
  {
    id: 'cuda-oom',
    patterns: [/CUDA out of memory/, /torch\.cuda\.OutOfMemoryError/, /torch\.OutOfMemoryError/, /CUDA error: out of memory/, /cudaErrorMemoryAllocation/],
    cause: 'the GPU ran out of memory (weights plus KV cache do not fit in what is free)',
    fix: 'free GPU memory or pick another GPU (--gpu), lower --max-model-len and --gpu-memory-utilization, or use a smaller model (Qwen3Guard-Gen-8B needs at least 26 GiB free)',
  },
  {
    id: 'no-kernel-image',
    patterns: [/no kernel image is available for execution on the device/, /cudaErrorNoKernelImageForDevice/],
    cause: "the image was not compiled for this GPU's compute capability",
    fix: "use an image whose TORCH_CUDA_ARCH_LIST includes this GPU's compute capability (`guard-doctor check` shows both), or a GPU it was built for",
  },
  {
    id: 'bf16-unsupported',
    patterns: [/Bfloat16 is only supported on GPUs with compute capability of at least 8\.0/, /bf16 is not supported on your GPU/i],
    cause: 'the GPU is older than Ampere (compute capability below 8.0) and has no bfloat16 support',
    fix: 'use a GPU with compute capability 8.0 or higher, or start vLLM with `-- --dtype half` (float16; results may differ slightly)',
  },
  {
    id: 'shm-too-small',
    patterns: [/insufficient shared memory \(shm\)/, /No space left on device.*\/dev\/shm|\/dev\/shm.*No space left on device/, /unable to write to file <\/torch_/],
    cause: "the container's /dev/shm is too small for the serving process's workers (Docker gives 64 MiB by default)",
    fix: 'start the container with --ipc=host (guard-doctor up does for vllm) or --shm-size 16g',
  },
  {
    id: 'disk-full',
    patterns: [/No space left on device/, /\[Errno 28\]/],
    unless: [/\/dev\/shm/],
    cause: 'a disk the container writes to is full (often the Hugging Face cache or /tmp)',
    fix: 'free disk space (`df -h`, `docker system df`), or point HF_HOME at a bigger disk with --env HF_HOME=...',
  },
  // ---- the model's files ----
  {
    id: 'model-dir-missing',
    patterns: [
      /模型目录不存在/,
      /does not appear to have a file named config\.json/,
      /Incorrect path_or_model_id/,
      /Invalid repository ID or local directory specified/,
      /Can't load the configuration of '[^']*'.*(No such file or directory|correct path to a directory containing a config\.json)/,
    ],
    modelPathPatterns: [/No such file or directory/, /Repo id must (be in the form|use alphanumeric chars)/, /FileNotFoundError/],
    cause: 'the serving process did not find the model at the path it was given: the folder is mounted at another path (case or depth differs) or is empty',
    fix: 'mount the folder that holds config.json exactly at the container model dir (`guard-doctor check` shows what the container will see in model.mount)',
  },
  {
    id: 'permission-denied',
    patterns: [],
    modelPathPatterns: [/Permission denied/i, /\[Errno 13\]/],
    unless: [/Docker daemon socket/],
    cause: "the container's user cannot read the model's files",
    fix: 'make the model folder readable: `chmod -R a+rX <model folder>` (SELinux hosts: add the :z mount option)',
  },
  {
    id: 'tokenizer-missing',
    patterns: [/Can't load tokenizer for/, /tokenizer\.json.*(not found|No such file)/i, /Couldn't instantiate the backend tokenizer/],
    cause: "the model folder lacks the tokenizer files (tokenizer.json, tokenizer_config.json, vocab.json, merges.txt)",
    fix: 'download the complete model folder again (e.g. `huggingface-cli download Qwen/<model> --local-dir <folder>`)',
  },
  {
    id: 'weights-incomplete',
    patterns: [
      /SafetensorError: Error while deserializing header/,
      /safetensors_rust\.SafetensorError/,
      /HeaderTooLarge|MetadataIncompleteBuffer/,
      /version https:\/\/git-lfs\.github\.com\/spec/,
    ],
    cause: 'a weights file is not a complete safetensors file (a Git LFS pointer or an interrupted download)',
    fix: 'download the weights again (`git lfs pull` in a git clone, or `huggingface-cli download`), then compare sizes with model.safetensors.index.json',
  },
  {
    id: 'trust-remote-code',
    patterns: [/set the option `?trust_remote_code=True`? to remove this error/, /requires you to execute the configuration file in that repo/, /contains custom code which must be executed/],
    cause: 'the model asks to run its own code from the model folder, which the server refuses by default',
    fix: 'Qwen3Guard-Gen does not need remote code: check that the folder holds Qwen3Guard-Gen (not Qwen3Guard-Stream); if you trust the code, pass `-- --trust-remote-code`',
  },
  {
    id: 'transformers-too-old',
    patterns: [
      /model type `?qwen3`? but Transformers does not recognize this architecture/,
      /KeyError: 'qwen3'/,
      /Model architectures \['Qwen3ForCausalLM'\] are not supported/,
    ],
    cause: 'the serving image is too old for the Qwen3 architecture',
    fix: `use a newer image: ${VLLM_FLOOR_TEXT}, with transformers 4.51 or later`,
  },
  {
    id: 'hf-offline',
    patterns: [
      /We couldn't connect to 'https:\/\/huggingface\.co'/,
      /LocalEntryNotFoundError/,
      /outgoing traffic has been disabled\. To enable hf\.co look-ups and downloads online, set 'local_files_only' to False/,
      /Cannot find an appropriate cached snapshot folder/,
    ],
    cause: 'the server tried to download the model from the Hugging Face Hub and could not reach it: the model path was not found locally, so it was read as a Hub repo id',
    fix: 'mount the downloaded model folder and pass its container path (--model-dir / --mount), or allow network access for the download',
  },
  {
    id: 'model-not-found-on-hub',
    patterns: [
      /RepositoryNotFoundError/,
      /GatedRepoError/,
      /is not a local folder and is not a valid model identifier listed on 'https:\/\/huggingface\.co\/models'/,
      /401 Client Error.*huggingface\.co/,
    ],
    cause: 'the model name was looked up on the Hugging Face Hub and not found there (or it needs a token): the local path was not found',
    fix: 'mount the model folder at the path the server is given (--model-dir / --mount); for Hub downloads pass --env HF_TOKEN=... and check the repo id (Qwen/Qwen3Guard-Gen-8B)',
  },
  {
    id: 'max-model-len-too-large',
    patterns: [/User-specified max_model_len \((\d+)\) is greater than the derived max_model_len \([^)]*?=(\d+)/, /User-specified max_model_len .* is greater than the derived max_model_len/],
    cause: (m) =>
      m[1] && m[2] ? `--max-model-len ${m[1]} is longer than the model supports (${m[2]} tokens)` : '--max-model-len is longer than the model supports',
    fix: (m) => (m[2] ? `start with --max-model-len ${m[2]} or less` : "lower --max-model-len to the model's max_position_embeddings (config.json)"),
  },
  // ---- the web image ----
  {
    id: 'request-missing-text',
    patterns: [/KeyError: 'text'/],
    cause: 'a request to /judge did not carry {"text": ...} as JSON: the body had another field, or no Content-Type: application/json',
    fix: 'send POST /judge with the header Content-Type: application/json and a body like {"text": "..."}',
  },
  {
    id: 'broken-image',
    patterns: [
      /No module named '(transformers|torch|vllm|fastapi|uvicorn|gradio)[^']*'/,
      /ModuleNotFoundError: No module named/,
      /executable file not found in \$PATH/,
      /ImportError: lib\S+\.so[\d.]*: cannot open shared object file/,
    ],
    unless: [/libcuda\.so|libnvidia-ml\.so/],
    cause: 'the image is incomplete or damaged: a Python module or program it needs is missing',
    fix: 'pull the image again (`docker pull <image>`), or check that --image names the serving image',
  },
  // ---- the host ----
  {
    id: 'host-oom-killed',
    patterns: [/Out of memory: Killed process \d+/, /oom-kill:constraint=/, /Memory cgroup out of memory: Killed process/],
    cause: "the kernel killed the server because the host (or the container's memory limit) ran out of RAM",
    fix: 'free host memory or raise the container memory limit; loading weights needs about their size in free RAM (Qwen3Guard-Gen-8B: 16 GiB or more)',
  },
];

/** Findings that come from the container's state (docker inspect), not from a log line. */
export const STATE_SIGNATURES = {
  'host-oom-killed': {
    cause: "the kernel killed the container (exit code 137, OOMKilled) because the host or the container's memory limit ran out of RAM",
    fix: 'free host memory or raise the container memory limit (--memory); loading weights needs about their size in free RAM (Qwen3Guard-Gen-8B: 16 GiB or more)',
  },
} as const;

/**
 * The largest context vLLM says fits, rounded down to a multiple of 1024: V1 prints "the
 * estimated maximum model length is 15504", V0 "stored in KV cache (20000)".
 */
export function kvCacheFitTokens(line: string): number | null {
  const m = /estimated maximum model length is (\d+)/.exec(line) ?? /can be stored in KV cache \((\d+)\)/.exec(line);
  if (!m) return null;
  const rounded = Math.floor(Number(m[1]) / 1024) * 1024;
  return rounded >= 1024 ? rounded : null;
}
