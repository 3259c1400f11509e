/**
 * The facts of one run: gathered once by the probes (src/probes/), concurrently, each under
 * its own time limit, plus the facts derived from them (the chosen GPU), then handed to every
 * check. A check never runs a command itself, and never works out a derived fact again.
 */
import type { HubSettings } from './hub-settings.js';
import type { Mount } from './settings.js';
import type { RuntimeName } from './types.js';
import type { HttpFailureKind } from './http.js';
import type { Sample, ValidationResult } from './prom/parse.js';

/** What a probe produced: its value, or why it could not tell (timed out, crashed). */
export type ProbeOutcome<T> =
  | {
      ok: true;
      value: T;
      durationMs: number;
      /** Lines about this fact that a report shows once: on the first check that judges it (src/judge.ts). */
      details?: string[];
    }
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
  /** Podman: the diagnosis's finding for a failed `podman info` (id and fix), when it knows the failure. */
  daemonFinding?: { id: string; fix: string } | null;
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

/** The facts the probes gather (src/probes/index.ts PROBES): each one costs I/O on the host. */
export interface GatheredFacts {
  gpus: ProbeOutcome<GpuInventory>;
  runtime: ProbeOutcome<RuntimeInfo>;
  image: ProbeOutcome<ImageInfo>;
  host: ProbeOutcome<HostInfo>;
  /** null when no --mount / --model-dir was given. */
  model: ProbeOutcome<ModelFolderFacts | null>;
  port: ProbeOutcome<PortInfo>;
  /** null for --source dir. */
  hub: ProbeOutcome<HubFacts | null>;
  /** metrics: one scrape of --url. */
  scrape: ProbeOutcome<ScrapeOutcome>;
  /** metrics: whether --url also answers on this host's other addresses. */
  exposure: ProbeOutcome<ExposureFacts>;
}

/**
 * The facts worked out from gathered facts and the settings (src/probes/index.ts DERIVED), once,
 * after the probes and before the checks, like Ansible's facts that depend on other facts. No I/O.
 * A derived fact whose source probe timed out or crashed is missing in the same way.
 */
export interface DerivedFacts {
  /** The GPU (or MIG device) the server will get, and why; or why none can be had. */
  gpu: ProbeOutcome<GpuSelection>;
}

export interface Facts extends GatheredFacts, DerivedFacts {}

export type FactName = keyof Facts;
export type GatheredFactName = keyof GatheredFacts;
export type DerivedFactName = keyof DerivedFacts;
export type FactValue<K extends FactName> = Facts[K] extends ProbeOutcome<infer T> ? T : never;

// ---- the chosen GPU (derived from `gpus` and --gpu by src/gpu-choice.ts selectGpu) ----

/** What a container gets from the chosen GPU: all of it, or one MIG device. */
export type GpuDevice =
  | { kind: 'whole-gpu' }
  /** `flag`: --gpu N:M or --gpu MIG-<uuid> named it; `first`: the first MIG device, CUDA's device 0. */
  | { kind: 'mig'; device: MigDevice; reason: 'flag' | 'first' };

export type GpuSelection =
  | {
      state: 'chosen';
      gpu: GpuInfo;
      /** `flag`: --gpu named it (or holds the MIG UUID given); `only`: the one GPU that answers; `most-free`: the most usable free memory. */
      reason: 'flag' | 'only' | 'most-free';
      device: GpuDevice;
      /** What the report says once about the choice (the runner adds it to the first check that judges this fact). */
      notes: string[];
    }
  | {
      state: 'none';
      /**
       * `no-inventory`: nvidia-smi gave no GPU facts (gpu.driver says why); `no-gpus`: it lists none;
       * `out-of-range`: --gpu names an index that is not there; `lost`: the GPU named (or every GPU) fell
       * off the bus; `not-mig`, `no-such-mig-device`, `mig-no-device`: the GPU's MIG set-up gives a
       * container nothing.
       */
      cause: 'no-inventory' | 'no-gpus' | 'out-of-range' | 'lost' | 'not-mig' | 'no-such-mig-device' | 'mig-no-device';
      summary: string;
      fix: string;
      /** The GPU whose MIG set-up gives nothing (the `*mig*` causes); null when no GPU could be chosen. */
      gpu: GpuInfo | null;
      /** The cause is one gpu.driver reports (no inventory, a lost GPU): checks that need this fact show "needs gpu.driver". */
      factsMissing: boolean;
      notes: string[];
    };

// ---- the model folder (src/probes/model.ts) ----

export interface ModelFileEntry {
  /** Relative to the inspected folder, with `/` separators (`config.json`, `original/params.json`). */
  path: string;
  /** What the entry is once links are followed; `broken-link` when the link leads nowhere. */
  type: 'file' | 'folder' | 'other' | 'broken-link';
  sizeBytes: number;
  /** Permission bits (mode & 0o7777) of the entry, or of the link's target. */
  mode: number;
  uid: number;
  /** The entry is a symbolic link to `linkTarget` (as written in the link). */
  symlink: boolean;
  linkTarget: string | null;
  /** A link whose target lies outside the mounted host folder: inside the container it dangles. */
  linkEscapesMount: boolean;
  lfsPointer: boolean;
  /** Files: readable by "others". Folders: readable and searchable (r and x) by "others". */
  readableByOthers: boolean;
}

/** A folder on the way from the mount's host root down to the inspected folder. */
export interface PathFolder {
  hostPath: string;
  mode: number;
  uid: number;
}

export interface ShardFacts {
  name: string;
  present: boolean;
  sizeBytes: number | null;
  lfsPointer: boolean;
  /** Length N of the JSON header, from the first 8 bytes (little-endian). */
  headerBytes: number | null;
  /** Bytes after the header: file size - 8 - N. For a whole shard, its tensors' bytes. */
  dataBytes: number | null;
  /** Where the header says the last tensor ends; more than `dataBytes` means a cut-off file. */
  declaredDataBytes: number | null;
  /** Why the shard's header could not be read, when it could not. */
  problem: string | null;
}

export type InspectedRole =
  /** The folder the server will read, exactly as mounted. */
  | 'model-dir'
  /** A folder that differs from the expected path only in letter case. */
  | 'case-mismatch'
  /** The mount's host root, which holds the model while the server reads elsewhere. */
  | 'mount-root'
  /** A subfolder holding the model, one level below where the server reads or the mount root. */
  | 'subfolder';

export interface CaseMismatch {
  /** `host`: a folder on disk is spelled differently; `container`: the mount's container path is. */
  side: 'host' | 'container';
  expected: string;
  found: string;
  /** host side: the folder holding the differently spelled entry. */
  parentHostPath: string | null;
}

export interface ModelFolderFacts {
  mount: Mount;
  containerModelDir: string;
  hostPathState: 'folder' | 'missing' | 'not-a-folder' | 'unreadable';
  hostPathMessage: string | null;
  /** containerModelDir relative to the mount's container path (`''` when equal); null when the mount does not cover it. */
  relativeDir: string | null;
  /** The host folder that maps to containerModelDir (null when the mount does not cover it). */
  hostModelDir: string | null;
  /** hostModelDir exists, as a folder, with exactly this spelling. */
  hostModelDirExists: boolean;
  /** The first path part under the mount that does not exist (when hostModelDir does not). */
  missingHostPath: string | null;
  caseMismatch: CaseMismatch | null;
  /** The model's files sit at the mount's root while the server reads a subfolder of it. */
  tooShallow: boolean;
  /** The folder the server reads holds no model but exactly this subfolder does (one level too deep). */
  tooDeepSubfolder: string | null;
  /** Subfolders of the mount root (or of the server's folder) that hold a config.json. */
  modelSubfolders: string[];
  /** A `HOST:CONTAINER[:mode]` that puts the found model exactly at containerModelDir. */
  suggestedMount: string | null;
  /** A --container-model-dir that would make the mount as given work. */
  suggestedContainerModelDir: string | null;
  /** The folder whose files were read: the server's folder or, when that is missing or empty, the best candidate. */
  inspectedDir: string | null;
  inspectedRole: InspectedRole | null;
  /** Folders from the mount's host root down to inspectedDir, inclusive. */
  pathFolders: PathFolder[];
  files: ModelFileEntry[];
  /** A folder had more entries than the probe lists (MAX_ENTRIES_PER_FOLDER in src/probes/model.ts); the listing stops there. */
  listingTruncated: boolean;
  configJson: Record<string, unknown> | null;
  configProblem: string | null;
  index: { shardNames: string[]; totalSize: number | null } | null;
  indexProblem: string | null;
  tokenizer: { tokenizerJson: boolean; tokenizerConfig: boolean; vocabAndMerges: boolean };
  /** The index's shards, or every top-level *.safetensors when there is no index. */
  shards: ShardFacts[];
  /** Sum of the *.safetensors file sizes that are not LFS pointers; null when there are none. */
  weightBytes: number | null;
  /** `pytorch_model*.bin` files present (weights the doctor cannot verify). */
  pytorchWeightFiles: string[];
  /** Free bytes on the file system holding the model (for non-root users). */
  diskFreeBytes: number | null;
  /** With --source hf|modelscope: the cached snapshot these facts describe (see hub-cache.ts). */
  hubSnapshot?: HubSnapshotFacts;
}

// ---- the hub: the cached snapshot (src/probes/hub-cache.ts) and the hub itself (src/probes/hub.ts) ----

export interface HubSnapshotFacts {
  source: HubSettings['source'];
  /** The repo's folder in the cache (the first that exists, else where it would be). */
  repoDir: string;
  repoDirExists: boolean;
  /** HF: the commit `refs/main` names; null without the ref. */
  revision: string | null;
  /** The snapshot folder the server would load, on this host. */
  snapshotDir: string;
}

export type HubAccess =
  /** A public repo: anyone may download it. */
  | 'open'
  /** Gated, and the token's account is on the authorized list. */
  | 'granted'
  /** Gated or private, and no token was given (401). */
  | 'needs-token'
  /** Gated, and the token's account is not on the authorized list (403). */
  | 'denied'
  /** The hub does not know the repo (or hides it from this token). */
  | 'not-found'
  /** Not asked (offline) or not answered. */
  | 'unknown';

export interface HubFile {
  name: string;
  sizeBytes: number | null;
}

export interface HubFacts {
  source: HubSettings['source'];
  repoId: string;
  endpoint: string;
  endpointFrom: HubSettings['endpointFrom'];
  offline: boolean;
  /** Where the token came from (never the token); null without one. */
  tokenFrom: string | null;
  /** A proxy variable that is set; the probe itself connects directly. */
  proxyFrom: string | null;
  /** `offline`: not asked; `answered`: the hub answered HTTP; `unreachable`: no HTTP answer. */
  state: 'offline' | 'answered' | 'unreachable';
  /** Why the hub could not be reached (refused, timed out, name does not resolve). */
  problem: string | null;
  /** The model-info (ModelScope: file-list) answer. */
  status: number | null;
  /** `X-Error-Code` (GatedRepo, RepoNotFound, ...) and `X-Error-Message`, or the body's error. */
  errorCode: string | null;
  errorMessage: string | null;
  latencyMs: number | null;
  /** The commit `main` points at (HF `sha`). */
  revision: string | null;
  /** HF `gated`: false, "auto" or "manual"; null when unknown. */
  gated: false | 'auto' | 'manual' | null;
  private: boolean | null;
  files: HubFile[] | null;
  /** Sum of the listed file sizes, when the listing carries every size. */
  downloadBytes: number | null;
  access: HubAccess;
  /** The status of the access check on a gated repo (HEAD resolve), when made. */
  accessStatus: number | null;
  /** The cache folder, the nearest folder of it that exists, and the free space there. */
  cacheDir: string;
  diskPath: string;
  diskFreeBytes: number | null;
  /**
   * Set when the hub could not be asked from where the server runs (a fleet host without curl)
   * and was asked from this machine instead: the words the report adds. Unset: asked from there.
   */
  judgedFrom?: string;
}

// ---- metrics: one scrape of --url and its exposure on this host (src/probes/scrape.ts, src/probes/exposure.ts) ----

/** Why a scrape got no exposition: the HTTP client's failure kinds, a non-200 status, a body over the limit. */
export type ScrapeFailureKind = HttpFailureKind | 'status' | 'too-large';

/** One scrape of a metrics endpoint, streamed through the validator. A failed scrape is a fact too. */
export type ScrapeOutcome =
  | {
      ok: true;
      /** The URL as it may be printed (a password in it is `***`). */
      url: string;
      status: number;
      contentType: string | null;
      bytes: number;
      durationMs: number;
      result: ValidationResult;
    }
  | {
      ok: false;
      url: string;
      kind: ScrapeFailureKind;
      message: string;
      /** The HTTP status, when the server answered with something other than 200. */
      status?: number;
      durationMs: number;
    };

/** Where the host of the metrics URL is: only this host's own addresses are tried. */
export type ExposureHostKind = 'loopback' | 'this-host' | 'elsewhere';

export interface ExposureFacts {
  /** The URL's host name as given (brackets of an IPv6 literal kept), and its port. */
  hostname: string;
  port: number;
  /** The URL carries a user name or password. */
  credentialed: boolean;
  /** What the host name resolved to (empty when it did not resolve). */
  addresses: string[];
  kind: ExposureHostKind;
  /** This host's non-loopback, non-link-local addresses. */
  ownAddresses: string[];
  /**
   * The same port and path asked without credentials on other addresses of this host, and what
   * each said: `answers` (HTTP 200), `asks for credentials`, `HTTP <status>`, `refused`,
   * `no answer`, or the client's failure kind. Empty when nothing had to be tried.
   */
  tried: Array<{ address: string; outcome: string }>;
}

/**
 * The request counters of a metrics endpoint at one moment (suite and up with --metrics-url):
 * the snapshots `metrics.reconcile.*` compare (src/prom/reconcile.ts).
 */
export type MetricsSnapshot =
  | {
      ok: true;
      url: string;
      takenAt: number;
      /** Samples of the request counters of every server kind, by family name. */
      counters: Map<string, Sample[]>;
      /** Every family the exposition declared (a counter with no samples yet is declared but empty). */
      families: Set<string>;
    }
  | { ok: false; url: string; takenAt: number; message: string };
