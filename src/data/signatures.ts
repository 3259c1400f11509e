/**
 * The diagnose knowledge base: what failed deployments print, and what it means. Every row of
 * FACTS.md's failure table is here, plus what else shows up in the field (Hugging Face
 * offline/gated errors, vLLM context-length limits, shared memory, wrong image platform).
 *
 * Order matters: findings are reported in this order, so root causes that explain later
 * symptoms (no GPU runtime, driver too old) come before the symptoms (CUDA OOM, tracebacks).
 * Patterns are matched line by line against the log's message: ANSI colours removed and the
 * prefixes of compose, journald, Ray, torchrun (`[rank0]:`), vLLM's process tags and log levels
 * stripped (see diagnose.ts), so `^` anchors at the message itself. Keep them
 * specific enough that a healthy vLLM start-up log (INFO lines naming gpu_memory_utilization,
 * KV cache sizes, max_model_len) matches nothing.
 */
import { VLLM_FLOOR_TEXT } from './serving.js';

import { CUDA_DRIVER_MINIMUMS } from './cuda.js';

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
  /** A pattern match counts only when this also matches the same line. */
  requireOnLine?: RegExp;
  /** Evidence only shortly after another line: `pattern` counts within `within` lines after a line matching `after`. */
  contextual?: readonly { pattern: RegExp; after: RegExp; within: number }[];
  /** Where the text and its meaning come from (FACTS.md, a thread, a corpus log). */
  source: string;
}

/** Words that show a line is about the model's files. */
export const MODEL_PATH_HINT = /(\/models?\/|config\.json|\.(safetensors|bin|pt|pth|pb|onnx|gguf|h5|ckpt)\b|tokenizer(_config)?\.json|generation_config\.json|model\.safetensors\.index\.json|模型)/i;

// Paths of the caches and locks a server writes to (never the model folder the user mounts).
const CACHE_PATH = /([\\/][\w.-]*cache[\w.-]*(?=[\\/'"\s]|$)|[\\/]huggingface\b|\bHF_HOME\b|[\\/]\.triton\b|[\\/]\.config[\\/]|[\\/]\.nv[\\/]|torch_extensions|[\\/]\.local[\\/]share)/i;
const LOCK_PATH = /(\.lock\b|\/\.locks\/)/;
const PERMISSION = /Permission denied|\[Errno 13\]|PermissionError|EACCES|Read-only file system|\[Errno 30\]/;
// torch.distributed's rendezvous (TCPStore / c10d) binding a port: not the server's port.
const DIST_BIND = /(DistNetworkError|\[c10d\]|c10d::|TCPStore|The server socket has failed to (listen|bind)|init_process_group|torch\.distributed)/;

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
    source: 'FACTS.md (Docker); NVIDIA container toolkit install guide; real logs: https://github.com/OpenBMB/XAgent/issues/273, https://github.com/NVIDIA/retinanet-examples/issues/278, https://github.com/ShaneIsrael/fireshare/issues/689',
  },
  {
    id: 'image-cuda-requirement',
    patterns: [/unsatisfied condition: ((?:cuda|driver|arch|brand)\s*[<>=!]+\s*[\w.]+(?:,\s*(?:cuda|driver|arch|brand)\s*[<>=!]+\s*[\w.]+)*)/],
    cause: (m) => `the image's own start gate (NVIDIA_REQUIRE_CUDA) refused this host: unsatisfied condition: ${m[1]}; nvidia-container-cli checks it before the container starts`,
    fix: (m) => {
      const cuda = /cuda\s*>=\s*(\d+\.\d+)/.exec(m[1] ?? '')?.[1];
      const floor = cuda ? driverFloor(cuda) : null;
      const driver = cuda ? `update the NVIDIA driver to one that supports CUDA ${cuda}${floor ? ` (${floor} or later)` : ''}` : 'update the NVIDIA driver';
      return `${driver}, or use an image built for the CUDA this driver supports; \`guard-doctor check\` evaluates the same gate before a launch (gpu.driver)`;
    },
    source: 'FACTS.md (The image\'s own start gate); nvidia-container-cli requirement error; real logs: https://github.com/SyneRBI/PETRIC2/issues/27, https://github.com/theroyallab/tabbyAPI/issues/324, https://github.com/NVIDIA/nvidia-docker/issues/688',
  },
  {
    id: 'nvml-driver-mismatch',
    patterns: [/Driver\/library version mismatch/i, /^NVML library version: [\d.]+\s*$/, /NVRM: API mismatch: the client has the version/],
    cause: 'the NVIDIA driver was upgraded but the old kernel module is still loaded: the user-space driver libraries and the kernel module differ (the driver is there, not missing)',
    fix: 'reboot the host, or reload the nvidia kernel modules (`sudo systemctl stop nvidia-persistenced; sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia; sudo modprobe nvidia`); hold automatic driver upgrades on serving hosts',
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/saharmor/dalle-playground/issues/104, https://github.com/k4yt3x/video2x/issues/1226, https://github.com/tinygrad/open-gpu-kernel-modules/issues/47',
  },
  {
    id: 'driver-too-old',
    patterns: [
      /CUDA driver version is insufficient for CUDA runtime version/,
      /The NVIDIA driver on your system is too old/,
      /cudaErrorInsufficientDriver/,
      /CUDA_ERROR_INSUFFICIENT_DRIVER/,
    ],
    cause: 'the NVIDIA driver is older than the CUDA version the image was built with',
    fix: 'update the NVIDIA driver (see `guard-doctor check`, gpu.driver), or use an image built for an older CUDA',
    source: 'FACTS.md (NVIDIA driver and CUDA)',
  },
  {
    id: 'forward-compat-unsupported',
    patterns: [/Error 804/, /forward compatibility was attempted on non supported HW/, /cudaErrorCompatNotSupportedOnDevice|CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE/],
    cause: "the image tried CUDA forward compatibility (its compat libraries) on a GPU that does not support it (GeForce cards): the host driver is too old for the image's CUDA",
    fix: "update the host driver to one that supports the image's CUDA natively (e.g. 570 or later for CUDA 12.8 images), or use an image built for the CUDA this driver supports; forward compatibility works on datacenter and workstation GPUs only",
    source: 'FACTS.md (Failures seen in logs; The image\'s own start gate); real logs: https://github.com/wheelos/apollo-lite/issues/80, https://github.com/SYSTRAN/faster-whisper/issues/653, https://github.com/rapidsai/cusignal/issues/398',
  },
  {
    id: 'cuda-compat-mismatch',
    patterns: [/Error 803/, /system has unsupported display driver \/ cuda driver combination/, /cudaErrorSystemDriverMismatch|CUDA_ERROR_SYSTEM_DRIVER_MISMATCH/],
    cause: "the CUDA user-mode libraries the container loads (the image's compat libraries, or a libcuda mounted from elsewhere) do not match the host's kernel driver",
    fix: "use an image whose CUDA the host driver supports natively, or update the host driver to match; do not put the image's /usr/local/cuda/compat on LD_LIBRARY_PATH when the host driver is newer; let the container toolkit mount the host's libcuda (--gpus all)",
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/easydiffusion/easydiffusion/issues/379, https://github.com/NVIDIA/nvidia-docker/issues/1256, https://github.com/gpustack/gpustack/issues/2691',
  },
  {
    id: 'gpu-access-lost',
    // NVIDIA container toolkit troubleshooting: "Containers losing access to GPUs with error: Failed to initialize NVML: Unknown Error".
    patterns: [/Failed to initialize NVML: Unknown Error/],
    cause: "the container lost access to the GPU's device nodes while it ran (on cgroup v2 hosts a `systemctl daemon-reload` or a driver update revokes them); the driver itself is fine",
    fix: 'restart the container; for a lasting fix hand the GPU over with CDI (`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, then --device nvidia.com/gpu=all) instead of the legacy hook',
    source: 'NVIDIA container toolkit troubleshooting guide (Failed to initialize NVML: Unknown Error)',
  },
  {
    id: 'no-driver',
    patterns: [
      /failed to initialize NVML/i,
      /nvml error: driver not loaded/,
      // The toolkit's hook could not reach the driver at all (nvidia-docker#1203, libnvidia-container#103).
      /nvidia-container-cli: initialization error: (?:driver (?:rpc )?error|cuda error|load library failed|cannot open shared object file)/,
      /nvidia-smi: (command )?not found/,
      /NVIDIA-SMI has failed/,
      /Found no NVIDIA driver on your system/,
      /libcuda\.so(\.1)?: cannot open shared object file/,
      // WSL and broken driver mounts: a libcuda stub that is not the driver's.
      /libcuda\.so(\.1)?: file too short/,
      /libnvidia-ml\.so(\.1)?: cannot open shared object file/,
    ],
    unless: [/version mismatch/i, /NVML: Unknown Error/],
    cause: 'no NVIDIA driver is reachable: it is not installed or loaded on the host, or it was not passed into the container',
    fix: 'check `nvidia-smi` on the host; install or load the driver, and start the container with a GPU (--gpus all, or podman --device nvidia.com/gpu=all)',
    source: 'FACTS.md (nvidia-smi; Failures seen in logs); real logs: https://github.com/NVIDIA/nvidia-docker/issues/1234, https://github.com/yuh-zha/AlignScore/issues/19, https://github.com/runpod/containers/issues/56',
  },
  {
    id: 'no-gpu-visible',
    patterns: [
      /Failed to infer device type/,
      /No platform detected, vLLM is running on UnspecifiedPlatform/,
      /No CUDA GPUs are available/,
      /RuntimeError: CUDA error: no CUDA-capable device is detected/,
      /CUDA driver initialization failed, you might not have a CUDA gpu/,
    ],
    cause: 'the serving process sees no GPU inside the container',
    fix: 'start the container with a GPU request (--gpus all or --gpus device=N; podman: --device nvidia.com/gpu=all), or serve on CPU with an image built for it',
    source: 'vLLM platform detection and torch messages',
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
    source: 'docker and podman pull errors',
  },
  {
    id: 'image-wrong-platform',
    patterns: [/exec format error/, /image's platform \(\S+\) does not match the detected host platform/],
    cause: "the image was built for another CPU architecture than this host's",
    fix: 'use the image built for this architecture (e.g. the linux/amd64 or linux/arm64 tag), or pass --platform to docker pull',
    source: 'docker run errors',
  },
  {
    id: 'docker-permission-denied',
    patterns: [/permission denied while trying to connect to the Docker daemon socket/, /Got permission denied while trying to connect to the Docker daemon/],
    cause: 'this user may not talk to the Docker daemon',
    fix: 'add the user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run with sudo',
    source: 'docker CLI error',
  },
  {
    id: 'dist-port-in-use',
    patterns: [/EADDRINUSE/, /address already in use/i, /errno: 98\b/, /\[Errno 98\]/],
    requireOnLine: DIST_BIND,
    cause: "torch.distributed's rendezvous port (the TCPStore the serving process opens for its workers) is taken: another process, often an earlier server still running or a second instance on the host network, holds it; this is not the server's --port",
    fix: 'stop the earlier server (`docker ps`, `ss -ltnp`), and do not share the host network between two servers (drop --network host), or give this one other internal ports (VLLM_PORT, MASTER_PORT); changing --port does not help',
    source: 'torch c10d TCPStore bind errors in vLLM issues; real logs: https://github.com/vllm-project/vllm-omni/issues/6425, https://github.com/meta-pytorch/torchtune/issues/1025, https://github.com/vllm-project/vllm/issues/11617',
  },
  {
    id: 'port-in-use',
    patterns: [
      /address already in use/i,
      /port is already allocated/,
      /Bind for \S+ failed/,
      /Bind for \S+: unexpected error/,
      /\[Errno 98\]/,
      /EADDRINUSE/,
    ],
    unless: [DIST_BIND],
    cause: 'the port is already taken by another process or container',
    fix: 'stop what holds the port (`docker ps`, `ss -ltnp`), or publish on another one with --port',
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/0xmoei/allora-testnet/issues/11, https://github.com/getumbrel/llama-gpt/issues/103, https://github.com/woodjme/unifi-hotspot/issues/11',
  },
  // ---- the GPU itself ----
  {
    id: 'compute-capability-too-low',
    patterns: [
      /GPUs with compute capability (?:below|less than) (\d+\.\d+) (?:are|is) not supported/,
      /which is of cuda capability (\d+\.\d+)\. PyTorch no longer supports this GPU because it is too old/,
      /Minimum capability: (\d+)\. Current capability: (\d+)/,
      /compute capability (\d+\.\d+) is (?:too low|not supported|lower than)/i,
    ],
    cause: 'the GPU is too old for this serving stack: vLLM needs compute capability 7.0 or higher (8.0 for bf16 and the web image)',
    fix: 'use a GPU with compute capability 8.0 or higher (7.x serves in fp16 with `-- --dtype half`); `guard-doctor check` shows the capability (gpu.compute-capability)',
    source: 'FACTS.md (compute capability); real logs: https://github.com/vllm-project/vllm/issues/463, https://github.com/vllm-project/vllm/issues/1284',
  },
  {
    id: 'bf16-unsupported',
    patterns: [/Bfloat16 is only supported on GPUs with compute capability of at least 8\.0/, /bf16 is not supported on your GPU/i],
    cause: 'the GPU is older than Ampere (compute capability below 8.0) and has no bfloat16 support',
    fix: 'use a GPU with compute capability 8.0 or higher, or start vLLM with `-- --dtype half` (float16; results may differ slightly)',
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/substratusai/vllm-docker/issues/37, https://github.com/imoneoi/openchat/issues/120, https://github.com/xorbitsai/inference/issues/3486',
  },
  {
    id: 'no-kernel-image',
    patterns: [
      /no kernel image is available for execution on the device/,
      /cudaErrorNoKernelImageForDevice/,
      // torch's warning before that crash, e.g. an RTX 5090 (sm_120) under a build without Blackwell kernels.
      /with CUDA capability sm_\d+ is not compatible with the current PyTorch installation/,
    ],
    cause: "the image was not compiled for this GPU's compute capability",
    fix: "use an image whose TORCH_CUDA_ARCH_LIST includes this GPU's compute capability (`guard-doctor check` shows both), or a GPU it was built for",
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/vllm-project/vllm/issues/16307, https://github.com/vllm-project/vllm/issues/19596, https://github.com/vllm-project/vllm/issues/5547',
  },
  // ---- podman: limits of the machine it runs on (nested sandboxes, rootless users) ----
  {
    // runc: "error setting rlimit type 7: operation not permitted" (captured here; podman #17358);
    // crun: "setrlimit `RLIMIT_NPROC`: Operation not permitted" (podman #19634).
    id: 'podman-rlimit',
    patterns: [/error setting rlimit type (\d+): operation not permitted/, /setrlimit `?(RLIMIT_[A-Z]+)`?: Operation not permitted/],
    cause: (m) => `the OCI runtime may not set ${rlimitName(m[1])} for the container: podman asks for more than this machine (a container, sandbox or user session with a lower hard limit) allows`,
    fix: (m) => `lower what podman asks for: in containers.conf ([containers] table; /etc/containers/containers.conf, or ~/.config/containers/containers.conf for rootless) set default_ulimits = ["${RLIMIT_ULIMIT[rlimitKey(m[1])] ?? 'nofile'}=N:N"] with N no higher than the hard limit of the shell that starts podman (ulimit ${RLIMIT_SHELL_FLAG[rlimitKey(m[1])] ?? '-H'}; a sandbox may allow less still, and 4096 is a value most accept), or raise that hard limit`,
    source: 'captured here (test/fixtures/podman/podman-run-rlimit-runc.stderr); https://github.com/containers/podman/issues/17358 (runc), https://github.com/containers/podman/issues/19634 (crun)',
  },
  {
    // podman #1534, #10458, #17196: the systemd cgroup manager where systemd does not run.
    id: 'podman-cgroup-manager',
    patterns: [/systemd cgroup flag passed, but systemd support for managing cgroups is not available/, /cannot open sd-bus: No such file or directory/, /systemd not supported: Operation not supported/],
    cause: 'podman is set to manage cgroups through systemd, and systemd does not run here (a container, a CI runner, or a session without a systemd user instance)',
    fix: 'use the cgroupfs manager: cgroup_manager = "cgroupfs" in the [engine] table of containers.conf (or podman --cgroup-manager=cgroupfs); rootless users can instead log in through systemd or run loginctl enable-linger',
    source: 'https://github.com/containers/podman/issues/1534, https://github.com/containers/podman/issues/10458, https://github.com/containers/podman/issues/17196',
  },
  {
    // podman #9993, #10987: the journald events logger without a readable journal.
    id: 'podman-events-logger',
    patterns: [/failed to get journal cursor/, /eventer creation: No support for journald logging/],
    cause: "podman writes its events to the journal, and the journal cannot be read or written here",
    fix: 'log events to a file: events_logger = "file" in the [engine] table of containers.conf (or podman --events-backend=file)',
    source: 'https://github.com/containers/podman/issues/9993, https://github.com/containers/podman/issues/10987',
  },
  {
    // Captured here (rootless podman 4.3, /dev/net/tun mode 0600); pasta says "Failed to open() /dev/net/tun".
    id: 'podman-rootless-network',
    patterns: [/open\(\\?"\/dev\/net\/tun\\?"\): (Permission denied|No such file or directory)/, /Failed to open\(\) \/dev\/net\/tun/, /could not find slirp4netns|exec: "slirp4netns": executable file not found/],
    cause: "rootless podman cannot set up the container's network: its user-mode network helper (slirp4netns or pasta) cannot open /dev/net/tun, or is not installed",
    fix: 'let users open the TUN device (sudo chmod 0666 /dev/net/tun, as udev sets it on a standard install; in a container, pass --device /dev/net/tun) and install slirp4netns (Podman 5: passt)',
    source: 'captured here (test/fixtures/podman/podman-run-rootless-tun.stderr)',
  },
  {
    // Captured here: rootless podman with --ipc=host where /dev/mqueue is not mounted.
    id: 'podman-ipc-host-mqueue',
    patterns: [/statfs \/dev\/mqueue: no such file or directory/],
    cause: "--ipc=host (vLLM's workers share memory through the host's IPC namespace) makes rootless podman bind the host's /dev/mqueue, and this machine has not mounted it (common inside containers)",
    fix: 'mount it: sudo mkdir -p /dev/mqueue && sudo mount -t mqueue mqueue /dev/mqueue (systemd machines mount it at boot), or run podman as root',
    source: 'captured here (test/fixtures/podman/podman-run-rootless-mqueue.stderr)',
  },
  {
    // podman #8521, buildah #3666: overlay storage on a file system (NFS, overlayfs in a container) that cannot hold it.
    id: 'podman-storage-driver',
    patterns: [/'overlay' is not supported over (\w+)/, /kernel does not support overlay fs/],
    cause: (m) => `podman's overlay storage cannot be kept on this file system${m[1] ? ` (${m[1]})` : ''}: the kernel will not stack overlay on it`,
    fix: 'use another storage: driver = "vfs" in the [storage] table of storage.conf (/etc/containers/storage.conf, or ~/.config/containers/storage.conf for rootless) with a graphroot podman has not used yet (or podman system reset first), or install fuse-overlayfs and set mount_program = "/usr/bin/fuse-overlayfs" under [storage.options.overlay]',
    source: 'https://github.com/containers/podman/issues/8521 (test/fixtures/podman/podman-info-overlay-unsupported.stderr), https://github.com/containers/buildah/issues/3666',
  },
  {
    // Captured here: podman 4.3 with no subordinate ids for the user.
    id: 'podman-no-subuid',
    patterns: [/no subuid ranges found for user/, /potentially insufficient UIDs or GIDs available in user namespace/],
    cause: "rootless podman has no subordinate uid/gid range for this user, so files in the image owned by other users cannot be mapped",
    fix: 'give the user subordinate ids: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER", then podman system migrate',
    source: 'captured here (test/fixtures/podman/podman-info-4.3.1-rootless-no-subuid.stderr)',
  },
  {
    // Captured here: Debian's registries.conf defines no unqualified-search registries.
    id: 'podman-short-name',
    patterns: [/short-name "([^"]+)" did not resolve to an alias and no unqualified-search registries are defined/, /short-name resolution enforced but cannot prompt without a TTY/],
    cause: (m) => `podman does not know which registry ${m[1] ? `"${m[1]}"` : 'the short image name'} comes from: no unqualified-search registries are configured`,
    fix: (m) => `give the image fully qualified, e.g. --image docker.io/${m[1] ?? 'vllm/vllm-openai:TAG'} (or add unqualified-search-registries = ["docker.io"] to registries.conf)`,
    source: 'captured here (test/fixtures/podman/podman-pull-short-name.stderr)',
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
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/pytorch/pytorch/issues/175666, https://github.com/vllm-project/vllm/issues/25837, https://github.com/apocas/dockerode/issues/811',
  },
  {
    id: 'vllm-kv-cache-too-small',
    patterns: [
      /larger than the available KV cache memory/,
      /larger than the maximum number of tokens that can be stored in KV cache/,
      /No available memory for the cache blocks/,
      /Insufficient memory for KV cache|not enough KV cache space/,
    ],
    cause: "vLLM's KV cache is too small for --max-model-len: after the weights (and CUDA graphs), too little of the GPU memory vLLM may use is left for one full-length request",
    fix: (match) => {
      const fits = kvCacheFitTokens(match.input ?? '');
      const lower = fits ? `lower --max-model-len to ${fits} (vLLM says ${fits} tokens fit)` : 'lower --max-model-len (e.g. 8192)';
      return `raise --gpu-memory-utilization (e.g. 0.95) when the GPU has the memory free, or ${lower}; else use a GPU with more memory or a smaller model`;
    },
    source: 'FACTS.md (Failures seen in logs); vLLM issues on "No available memory for the cache blocks"; real logs: https://github.com/vllm-project/vllm/issues/10439, https://github.com/vllm-project/vllm/issues/10517, https://github.com/gensyn-ai/rl-swarm/issues/118',
  },
  {
    id: 'cuda-oom',
    patterns: [/CUDA out of memory/, /torch\.cuda\.OutOfMemoryError/, /torch\.OutOfMemoryError/, /CUDA error: out of memory/, /CUDA driver error: out of memory/, /cudaErrorMemoryAllocation/, /CUDA_ERROR_OUT_OF_MEMORY/],
    cause: 'the GPU ran out of memory (weights plus KV cache do not fit in what is free)',
    fix: 'free GPU memory or pick another GPU (--gpu), lower --max-model-len and --gpu-memory-utilization, or use a smaller model (Qwen3Guard-Gen-8B needs at least 26 GiB free)',
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/vllm-project/vllm/issues/26863, https://github.com/vllm-project/vllm/issues/17939, https://github.com/vllm-project/vllm/issues/2140',
  },
  // ---- the container's memory: shared memory, disk, host RAM ----
  {
    id: 'shm-too-small',
    patterns: [
      /insufficient shared memory \(shm\)/,
      /No space left on device.*\/dev\/shm|\/dev\/shm.*No space left on device/,
      /unable to write to file <\/torch_/,
      /unable to (open|allocate) shared memory object/,
      /Error while creating shared memory segment/,
      /\bBus error\b/,
      /\bSIGBUS\b/,
    ],
    cause: "the container's /dev/shm is too small for the serving process's workers (Docker gives 64 MiB by default): a worker died of SIGBUS (Bus error) writing to it",
    fix: 'start the container with --ipc=host (guard-doctor up does for vllm) or --shm-size 16g',
    source: 'Docker run reference (--shm-size default 64m); vLLM Docker docs (--ipc=host); real logs: https://github.com/hezhangsprinter/DCPDN/issues/58, https://github.com/pangeo-data/pangeo-docker-images/issues/258, https://github.com/NVIDIA/flownet2-pytorch/issues/43',
  },
  {
    id: 'disk-full',
    patterns: [/No space left on device/, /\[Errno 28\]/],
    unless: [/\/dev\/shm/],
    cause: 'a disk the container writes to is full (often the Hugging Face cache or /tmp)',
    fix: 'free disk space (`df -h`, `docker system df`), or point HF_HOME at a bigger disk with --env HF_HOME=...',
    source: 'OSError errno 28',
  },
  // ---- the model's files ----
  {
    id: 'lock-permission-denied',
    patterns: [PERMISSION],
    requireOnLine: LOCK_PATH,
    cause: "the serving process may not create its lock files: a lock folder (the Hugging Face cache's .locks, or a *.lock beside the model) is not writable by the container's user",
    fix: 'mount the Hugging Face cache from a folder the container user may write (`-v ~/.cache/huggingface:/root/.cache/huggingface`, or chown it to that user), or run with HF_HUB_OFFLINE=1 and a complete local model folder so no lock is taken',
    source: 'huggingface_hub file locks (FileLock on .locks/...); real logs: https://github.com/vllm-project/vllm/issues/2179, https://github.com/huggingface/huggingface_hub/pull/3714, https://github.com/speechbrain/speechbrain/issues/1401',
  },
  {
    id: 'cache-permission-denied',
    patterns: [PERMISSION],
    requireOnLine: CACHE_PATH,
    unless: [LOCK_PATH],
    cause: "the serving process may not write its cache folders (the Hugging Face cache, HF_HOME, ~/.cache, the Triton or vLLM cache): the container's user has no writable home or cache",
    fix: 'give it a writable cache: --env HF_HOME=/data/hf with a writable volume mounted there (-v /srv/hf:/data/hf), or run the container as a user that owns its home; set XDG_CACHE_HOME and TRITON_CACHE_DIR to the same volume when you run as a non-root user',
    source: 'huggingface_hub and vLLM cache folders (HF_HOME, XDG_CACHE_HOME); real logs: https://github.com/tenstorrent/tt-inference-server/issues/37, https://github.com/huggingface/sentence-transformers/issues/2317, https://github.com/bmaltais/kohya_ss/issues/1143',
  },
  {
    id: 'permission-denied',
    // The model's files first; any other path not a cache or lock is read the same way (what the container reads).
    patterns: [PERMISSION],
    unless: [/Docker daemon socket/, CACHE_PATH, LOCK_PATH],
    cause: (m) => {
      const path = deniedPath(m.input ?? '');
      return MODEL_PATH_HINT.test(m.input ?? '')
        ? `the container's user cannot read the model's files${path ? ` (${path})` : ''}`
        : `the container's user may not read or write ${path ?? 'a path it needs'} (the model folder, or a folder mounted into the container)`;
    },
    fix: 'make the model folder readable: `chmod -R a+rX <model folder>` (SELinux hosts: add the :z mount option); a folder the server writes to must be writable by the container user (chown it, or mount a writable volume)',
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/remsky/Kokoro-FastAPI/issues/364, https://github.com/tannisroot/wyoming-whisper-cpp-intel-gpu-docker/issues/6, https://github.com/IBM/MAX-Object-Detector/issues/62',
  },
  {
    id: 'model-dir-missing',
    patterns: [
      /模型目录不存在/,
      /does not appear to have a file named config\.json/,
      /Incorrect path_or_model_id/,
      /Invalid repository ID or local directory specified: '[/.~]/,
      /Can't load the configuration of '[^']*'.*(No such file or directory|correct path to a directory containing a config\.json)/,
      // A path, or a bare folder name without a namespace: it was meant as a local folder.
      /(?:^|[\s:'"])(?:[/.~][^\s']*|[^\s'/:]+)'? is not a local folder and is not a valid model identifier/,
      /Repo id must .*: '[/.~]/,
      /Can't load (?:the model|the configuration of|the config|tokenizer) for '[/.~]/,
    ],
    modelPathPatterns: [/No such file or directory/, /Repo id must (be in the form|use alphanumeric chars)/, /FileNotFoundError/],
    cause: 'the serving process did not find the model at the path it was given: the folder is mounted at another path (case or depth differs) or is empty',
    fix: 'mount the folder that holds config.json exactly at the container model dir (`guard-doctor check` shows what the container will see in model.mount)',
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/vllm-project/vllm/issues/10974, https://github.com/hiyouga/LlamaFactory/issues/8266, https://github.com/vllm-project/vllm/issues/8262',
  },
  {
    id: 'tokenizer-missing',
    patterns: [/Can't load tokenizer for/, /tokenizer\.json.*(not found|No such file)/i, /Couldn't instantiate the backend tokenizer/],
    // For a Hub id it is the Hub that could not be read (hub-unreachable).
    unless: [/Can't load tokenizer for '[\w.-]+\/[\w.-]+'/],
    cause: "the model folder lacks the tokenizer files (tokenizer.json, tokenizer_config.json, vocab.json, merges.txt)",
    fix: 'download the complete model folder again (e.g. `huggingface-cli download Qwen/<model> --local-dir <folder>`)',
    source: 'transformers tokenizer loading errors',
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
    source: 'FACTS.md (Model sizes: Git LFS pointers)',
  },
  {
    id: 'trust-remote-code',
    patterns: [/set the option `?trust_remote_code=True`? to remove this error/, /requires you to execute the configuration file in that repo/, /contains custom code which must be executed/],
    cause: 'the model asks to run its own code from the model folder, which the server refuses by default',
    fix: 'Qwen3Guard-Gen does not need remote code: check that the folder holds Qwen3Guard-Gen (not Qwen3Guard-Stream); if you trust the code, pass `-- --trust-remote-code`',
    source: 'FACTS.md (Qwen3Guard-Stream needs remote code)',
  },
  {
    id: 'transformers-too-old',
    patterns: [
      /model type `?([\w-]+)`? but Transformers does not recognize this architecture/,
      /does not recognize this architecture/,
      /KeyError: 'qwen3[\w]*'/,
      /Model architectures \[([^\]]*)\] are not supported for now/,
    ],
    // A KeyError on the model type, raised from transformers' config mapping (CONFIG_MAPPING[model_type]).
    contextual: [{ pattern: /^KeyError: '([\w.-]+)'/, after: /configuration_auto\.py/, within: 6 }],
    cause: (m) => `the serving image is too old for the model's architecture${m[1] ? ` (${m[1]})` : ''}: its transformers or vLLM does not know it`,
    fix: `use a newer image: ${VLLM_FLOOR_TEXT}, with transformers 4.51 or later`,
    source: 'FACTS.md (vLLM server surface: Qwen3Guard needs vLLM 0.9.0); real logs: https://github.com/1038lab/ComfyUI-QwenVL/issues/30, https://github.com/QwenLM/Qwen3/issues/434, https://github.com/filliptm/ComfyUI-FL-AceStep-Training/issues/3',
  },
  {
    id: 'hf-gated-repo',
    patterns: [
      /Cannot access gated repo/,
      /GatedRepoError/,
      /Access to model \S+ is restricted/,
      /You are trying to access a gated repo/,
      /enable access to public gated repositories/,
      /is a gated repo|gated repository/i,
      /(?:401 Client Error: Unauthorized|403 Client Error: Forbidden) for url: https:\/\/huggingface\.co\//,
    ],
    cause: 'the model is in a gated Hugging Face repository: the download needs a token of an account that has accepted the model\'s licence',
    fix: "accept the licence on the model's Hugging Face page, then pass a token with --env HF_TOKEN=hf_... (a fine-grained token needs \"read access to public gated repos\"); or mount a downloaded model folder",
    source: 'huggingface_hub GatedRepoError; real logs: https://github.com/kyegomez/NeoSapiens/issues/3, https://github.com/ToTheBeginning/PuLID/issues/97, https://github.com/McGill-NLP/llm2vec/issues/130',
  },
  {
    id: 'hub-unreachable',
    patterns: [
      /We couldn't connect to 'https:\/\/huggingface\.co'/,
      /LocalEntryNotFoundError/,
      /outgoing traffic has been disabled/,
      /Cannot find an appropriate cached snapshot folder/,
      /OfflineModeIsEnabled/,
      /Invalid repository ID or local directory specified: '[^/.~']/,
      /Can't load (?:the model|the configuration of|the config|tokenizer) for '[\w.-]+\/[\w.-]+'/,
      /huggingface\.co.*(Max retries exceeded|timed out|Name or service not known|Temporary failure in name resolution|Network is unreachable|NameResolutionError|ProxyError|SSLError|Connection refused|Connection reset)/,
      /hf-mirror\.com.*(Max retries exceeded|timed out|Name or service not known|Temporary failure in name resolution|Network is unreachable|NameResolutionError|ProxyError|SSLError|Connection refused|Connection reset)/,
      /(Max retries exceeded|Temporary failure in name resolution|Network is unreachable|NameResolutionError).*huggingface\.co/,
    ],
    cause: 'the server needed the Hugging Face Hub (to download the model or its config) and could not reach it: no network, a proxy, or offline mode, and the model was not in the local cache',
    fix: 'give the container network access to huggingface.co (or HF_ENDPOINT for a mirror), or download the model first and mount its folder (--model-dir / --mount) with HF_HUB_OFFLINE=1',
    source: 'huggingface_hub offline and connection errors; real logs: https://github.com/QwenLM/Qwen2.5-Omni/issues/284, https://github.com/PromtEngineer/localGPT/issues/822, https://github.com/TabbyML/tabby/issues/118',
  },
  {
    id: 'model-not-found-on-hub',
    patterns: [
      /RepositoryNotFoundError/,
      /is not a local folder and is not a valid model identifier listed on 'https:\/\/huggingface\.co\/models'/,
      /Repository Not Found for url/,
      /404 Client Error.*huggingface\.co/,
      /[\w.-]+\/[\w.-]+'? is not a local folder and is not a valid model identifier/,
    ],
    unless: [/gated/i, /(?:^|[\s:'"])(?:[/.~][^\s']*|[^\s'/:]+)'? is not a local folder/],
    cause: 'the model name was looked up on the Hugging Face Hub and not found there (or it needs a token): the local path was not found',
    fix: 'mount the model folder at the path the server is given (--model-dir / --mount); for Hub downloads pass --env HF_TOKEN=... and check the repo id (Qwen/Qwen3Guard-Gen-8B)',
    source: 'huggingface_hub RepositoryNotFoundError',
  },
  {
    id: 'max-model-len-too-large',
    patterns: [/User-specified max_model_len \((\d+)\) is greater than the derived max_model_len \([^)]*?=(\d+)/, /User-specified max_model_len .* is greater than the derived max_model_len/],
    cause: (m) =>
      m[1] && m[2] ? `--max-model-len ${m[1]} is longer than the model supports (${m[2]} tokens)` : '--max-model-len is longer than the model supports',
    fix: (m) => (m[2] ? `start with --max-model-len ${m[2]} or less` : "lower --max-model-len to the model's max_position_embeddings (config.json)"),
    source: 'vLLM ModelConfig validation',
  },
  // ---- the web image ----
  {
    id: 'request-missing-text',
    patterns: [/KeyError: 'text'/],
    cause: 'a request to /judge did not carry {"text": ...} as JSON: the body had another field, or no Content-Type: application/json',
    fix: 'send POST /judge with the header Content-Type: application/json and a body like {"text": "..."}',
    source: 'FACTS.md (Failures seen in logs)',
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
    source: 'FACTS.md (Failures seen in logs); real logs: https://github.com/vllm-project/vllm/issues/2236, https://github.com/vllm-project/vllm/issues/537',
  },
  // ---- the host ----
  {
    id: 'host-oom-killed',
    patterns: [
      /Out of memory: Killed process \d+/,
      /oom-kill:constraint=/,
      /Memory cgroup out of memory: Killed process/,
      /exited with code 137\b/,
      // The shell's word for a SIGKILLed child, alone or after a progress bar ("... 3/4 [00:08<00:02]Killed").
      /(?:^|[\s\]|])Killed\s*$/,
      /(^|\s)\d+ Killed\s+\S/,
      /ray\.exceptions\.OutOfMemoryError/,
      /Task was killed due to the node running low on memory/,
    ],
    cause: "the kernel killed the server because the host (or the container's memory limit) ran out of RAM",
    fix: 'free host memory or raise the container memory limit; loading weights needs about their size in free RAM (Qwen3Guard-Gen-8B: 16 GiB or more)',
    source: 'FACTS.md (Failures seen in logs: exit 137); real logs: https://github.com/vectorch-ai/ScaleLLM/issues/38, https://github.com/deepseek-ai/DeepSeek-VL2/issues/90, https://github.com/liunian-Jay/MU-GOT/issues/17',
  },
  // ---- kernels and collectives: errors whose cause is in the stack, not the deployment ----
  {
    id: 'illegal-memory-access',
    patterns: [/an illegal memory access was encountered/, /cudaErrorIllegalAddress|CUDA_ERROR_ILLEGAL_ADDRESS/],
    cause: 'a GPU kernel read or wrote memory it does not own: a bug in a kernel of this vLLM/torch build for this GPU (often under CUDA graphs or one attention backend), more rarely faulty GPU memory',
    fix: 'retry with `-- --enforce-eager` (no CUDA graphs), try another attention backend (--env VLLM_ATTENTION_BACKEND=FLASHINFER or FLASH_ATTN), or another image version; CUDA_LAUNCH_BLOCKING=1 names the failing kernel; check `nvidia-smi -q -d ECC` for memory errors',
    source: 'CUDA error 700 (cudaErrorIllegalAddress); real logs: https://github.com/vllm-project/vllm/issues/6976, https://github.com/SystemPanic/vllm-windows/issues/72, https://github.com/vllm-project/vllm/issues/39374',
  },
  {
    id: 'nccl-error',
    patterns: [
      /NCCL error/,
      /NCCL_ERROR_\w+|NcclError/,
      /\bnccl(SystemError|UnhandledCudaError|InternalError|InvalidUsage|RemoteError|InvalidArgument)\b/,
      /NCCL WARN/,
      /ProcessGroupNCCL.*(Watchdog caught collective operation timeout|exception|error)/i,
      /NCCL communicator was aborted/,
    ],
    cause: 'NCCL, the library the GPUs talk through, failed: typically too little shared memory, GPU peer-to-peer that does not work in this machine or VM, or a network interface it cannot use',
    fix: 'rerun with --env NCCL_DEBUG=INFO to see the cause; give the container shared memory (--ipc=host or --shm-size 16g); on hosts without working P2P (consumer cards, many VMs) set --env NCCL_P2P_DISABLE=1; Qwen3Guard-Gen fits one GPU, so --tensor-parallel-size 1 avoids NCCL altogether',
    source: 'NCCL troubleshooting guide (NCCL_DEBUG, shm, P2P); real logs: https://github.com/vllm-project/vllm/issues/7800, https://github.com/ray-project/ray_lightning/issues/24, https://github.com/gpustack/gpustack/issues/1263',
  },
  // Last: it only says the engine died; its cause sits above it (see ROOT_CAUSE_OF in diagnose.ts).
  {
    id: 'engine-core-failed',
    patterns: [/Engine core initialization failed/, /EngineCore failed to start/, /Engine process failed to start/],
    cause: "vLLM's engine core process failed to start",
    fix: 'read the root cause quoted here (the engine process prints it above this line)',
    source: 'vLLM v1 engine start-up (RuntimeError: Engine core initialization failed. See root cause above.); real logs: https://github.com/gpustack/gpustack/issues/2723, https://github.com/vllm-project/vllm/issues/23176, https://github.com/vllm-project/vllm/issues/21882',
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

/** Linux resource numbers as runc names them ("rlimit type 7") and as crun does (RLIMIT_NOFILE). */
const RLIMIT_NAMES: Record<string, string> = { '0': 'RLIMIT_CPU', '1': 'RLIMIT_FSIZE', '2': 'RLIMIT_DATA', '3': 'RLIMIT_STACK', '4': 'RLIMIT_CORE', '5': 'RLIMIT_RSS', '6': 'RLIMIT_NPROC', '7': 'RLIMIT_NOFILE', '8': 'RLIMIT_MEMLOCK', '9': 'RLIMIT_AS' };
const RLIMIT_ULIMIT: Record<string, string> = { RLIMIT_NOFILE: 'nofile', RLIMIT_NPROC: 'nproc', RLIMIT_MEMLOCK: 'memlock', RLIMIT_CORE: 'core', RLIMIT_STACK: 'stack' };
const RLIMIT_SHELL_FLAG: Record<string, string> = { RLIMIT_NOFILE: '-Hn', RLIMIT_NPROC: '-Hu', RLIMIT_MEMLOCK: '-Hl', RLIMIT_CORE: '-Hc', RLIMIT_STACK: '-Hs' };

function rlimitKey(typeOrName: string | undefined): string {
  if (!typeOrName) return '';
  return typeOrName.startsWith('RLIMIT_') ? typeOrName : (RLIMIT_NAMES[typeOrName] ?? '');
}

function rlimitName(typeOrName: string | undefined): string {
  if (!typeOrName) return 'a resource limit';
  if (typeOrName.startsWith('RLIMIT_')) return typeOrName;
  const name = RLIMIT_NAMES[typeOrName];
  return name ? `${name} (rlimit type ${typeOrName})` : `rlimit type ${typeOrName}`;
}

/** The oldest driver for a CUDA release ("12.8" -> "570.26"), from the CUDA table. */
function driverFloor(cuda: string): string | null {
  return CUDA_DRIVER_MINIMUMS.find((row) => row.cuda === cuda)?.minDriver ?? null;
}

/** The path a permission error names: `Permission denied: '/models/x'`, `open /x: permission denied`, `x; Permission denied`. */
function deniedPath(line: string): string | null {
  const m = /(?:Permission denied|\[Errno 13\][^:]*|EACCES[^:]*):\s*'([^']+)'/i.exec(line) ?? /(?:open|mkdir|stat)\s+(\S+):\s*permission denied/i.exec(line) ?? /(\S+);\s*Permission denied/.exec(line);
  return m?.[1] ?? null;
}
