/**
 * The facts of one run: gathered once by the probes (src/probes/), concurrently, each under
 * its own time limit, then handed to every check. A check never runs a command itself.
 */
import type { ModelFolderFacts } from './probes/model.js';
import type { HubFacts } from './probes/hub.js';
import type { RuntimeName } from './types.js';

/** What a probe produced: its value, or why it could not tell (timed out, crashed). */
export type ProbeOutcome<T> =
  | { ok: true; value: T; durationMs: number }
  | { ok: false; kind: 'timeout' | 'crash'; message: string; durationMs: number };

// ---- GPUs (nvidia-smi) ----

/** A MIG device: the slice of a GPU a container gets when the GPU is in MIG mode. */
export interface MigDevice {
  /** The MIG device index within its GPU (`nvidia-smi -L`: "MIG 3g.40gb Device 0"). */
  index: number;
  /** The profile, e.g. "3g.40gb" (from `nvidia-smi -L`); null when not read. */
  profile: string | null;
  uuid: string | null;
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
  memoryFreeMiB: number | null;
}

export interface GpuInfo {
  index: number;
  name: string;
  uuid: string | null;
  driverVersion: string | null;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
  memoryFreeMiB: number | null;
  /** nvidia-smi gave no memory figures at all (not even [N/A]): the memory is unknown, not unified. */
  memoryUnread?: boolean;
  /** "8.6"; null when unknown. */
  computeCapability: string | null;
  /** Where the capability came from: nvidia-smi's compute_cap, the name table (old drivers), or nowhere. */
  computeCapabilitySource: 'nvidia-smi' | 'name-table' | 'unknown';
  /** NVML's brand as nvidia-smi prints it ("GeForce", "Tesla", "NVIDIA", "NVIDIA RTX", ...); null when not known. */
  brand?: string | null;
  /** `nvidia-smi -q` "Product Brand", or the stated fallback: guessed from the name. */
  brandSource?: 'nvidia-smi' | 'name';
  /** mig.mode.current: true when enabled; false disabled; null not supported or not read. */
  migEnabled?: boolean | null;
  /** The MIG devices of a GPU in MIG mode (empty when MIG is on but no instance is created). */
  migDevices?: MigDevice[];
}

/** A GPU nvidia-smi cannot reach: "Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error". */
export interface LostGpu {
  /** The id nvidia-smi names it by (a PCI bus id, or "GPU<N>"). */
  id: string;
  /** nvidia-smi's own line. */
  line: string;
}

/** Where the driver's CUDA version came from. */
export type CudaVersionSource =
  /** nvidia-smi printed it (--version, the banner, or -q). */
  | 'nvidia-smi'
  /** Worked out from the driver version with NVIDIA's table (no nvidia-smi call spent on it). */
  | 'derived'
  /** nvidia-smi printed something that is not a version ("ERR!", "Not Found"): CUDA cannot be assumed to work. */
  | 'unreadable';

export type GpuInventory =
  | {
      state: 'ok';
      driverVersion: string | null;
      /** Newest CUDA the driver supports (nvidia-smi header / --version / -q, or derived from the driver version). */
      cudaVersion: string | null;
      cudaVersionSource?: CudaVersionSource;
      /** What nvidia-smi printed in the CUDA Version field when it was not a version ("ERR!", "Not Found"). */
      cudaVersionText?: string | null;
      gpus: GpuInfo[];
      /** GPUs nvidia-smi lists as unreachable (fallen off the bus), besides the ones in `gpus`. */
      lostGpus?: LostGpu[];
      /** Things worth saying, e.g. "driver rejects compute_cap; capability taken from the GPU name". */
      notes: string[];
      /** How many times nvidia-smi ran for these facts. */
      smiCalls?: number;
    }
  /** nvidia-smi is not on PATH. */
  | { state: 'no-nvidia-smi'; message: string }
  /** nvidia-smi ran but could not talk to the driver. */
  | { state: 'no-driver'; message: string }
  /** "Failed to initialize NVML: Driver/library version mismatch": the driver was updated, the old kernel module still runs. */
  | { state: 'nvml-mismatch'; message: string; libraryVersion: string | null; kernelVersion: string | null }
  /** "No devices were found": a driver answers but there is no usable GPU. */
  | { state: 'no-devices'; message: string }
  /** nvidia-smi answered something the parser could not read, or exited non-zero otherwise. */
  | { state: 'unreadable'; message: string };

// ---- Container runtime ----

export interface RuntimeInfo {
  runtime: RuntimeName;
  /** The CLI is installed and answers `version`. */
  cliInstalled: boolean;
  cliVersion: string | null;
  daemonAnswering: boolean;
  daemonVersion: string | null;
  /** Why the daemon did not answer (the CLI's own words), when it did not. */
  daemonMessage: string | null;
  /** Runtimes registered with the daemon (docker info .Runtimes keys). */
  runtimes: string[];
  defaultRuntime: string | null;
  /** CDI spec folders the daemon reads, and the NVIDIA devices found in specs there. */
  cdiSpecDirs: string[];
  cdiNvidiaDevices: string[];
  /**
   * nvidia-container-runtime-hook on this machine: Docker's `--gpus` works with it even when
   * the nvidia runtime is not registered. null when absent or the daemon is remote.
   */
  nvidiaHookPath: string | null;
  /** The NVIDIA runtime, the hook, or an NVIDIA CDI spec the runtime reads is there. */
  gpuRuntimeRegistered: boolean;
  /** Where the NVIDIA CDI devices were found: spec files read directly, and/or `nvidia-ctk cdi list`. */
  cdiSources?: string[];
  /** Podman only: how this podman runs (rootless or not, its storage, network and cgroup set-up). */
  podman?: PodmanHost | null;
}

export interface PodmanHost {
  rootless: boolean;
  cgroupManager: string | null;
  cgroupVersion: string | null;
  eventLogger: string | null;
  networkBackend: string | null;
  graphDriver: string | null;
  graphRoot: string | null;
  /** Rootless: the subordinate uid ranges podman maps (empty: only the user's own uid). */
  uidMapSize: number | null;
  /** Rootless network helper (slirp4netns or pasta) podman found; null: it reports none; absent: not reported. */
  rootlessNetwork?: string | null;
}

export interface ImageInfo {
  ref: string;
  /** The image is present locally (docker image inspect answered). */
  present: boolean;
  /** CUDA_VERSION from the image's environment, e.g. "12.8.1". */
  cudaVersion: string | null;
  /** TORCH_CUDA_ARCH_LIST from the image's environment, split, e.g. ["7.5","8.0","8.6+PTX"]. */
  torchCudaArchList: string[] | null;
  /** NVIDIA_REQUIRE_CUDA from the image's environment: the start gate nvidia-container-cli evaluates. */
  requireCuda?: string | null;
  /** Other NVIDIA_REQUIRE_* variables (not JETPACK), by name: the runtime checks them too. */
  otherRequires?: Record<string, string>;
  /** NVIDIA_DISABLE_REQUIRE as set in the image ("1", "true" switch the gate off). */
  disableRequire?: string | null;
}

// ---- Host ----

export interface HostInfo {
  os: string;
  memTotalBytes: number;
  memAvailableBytes: number;
  /** Free bytes on the file system holding the model folder (or the working folder). */
  diskFreeBytes: number | null;
  diskPath: string;
}

export interface PortInfo {
  port: number;
  host: string;
  free: boolean;
  /**
   * What trying to listen there found: `untested` when the doctor could not try (a port below
   * 1024 without root), `address-not-local` when the publish address is not this machine's.
   */
  state: 'free' | 'in-use' | 'address-not-local' | 'untested';
  /** Who holds it, when that could be learnt (e.g. a container name). */
  holder: string | null;
  message: string | null;
  /** A nearby port that is free, when this one is taken. */
  alternative: number | null;
}

export interface Facts {
  gpus: ProbeOutcome<GpuInventory>;
  runtime: ProbeOutcome<RuntimeInfo>;
  image: ProbeOutcome<ImageInfo>;
  host: ProbeOutcome<HostInfo>;
  /** null when no --mount / --model-dir was given. */
  model: ProbeOutcome<ModelFolderFacts | null>;
  port: ProbeOutcome<PortInfo>;
  /** null for --source dir. */
  hub: ProbeOutcome<HubFacts | null>;
}

export type FactName = keyof Facts;
export type FactValue<K extends FactName> = Facts[K] extends ProbeOutcome<infer T> ? T : never;
