/**
 * diagnose: every signature against realistic logs (vLLM start-up logs with INFO lines and
 * Python tracebacks, docker CLI errors, the web image's log), read the way a user feeds them:
 * --log files, standard input, and a real container (--container, with a real Docker daemon).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { runCli, ROOT } from '../helpers/cli.js';
import { skipDocker, testImage } from '../helpers/docker.js';
import { diagnose } from '../../src/diagnose.js';
import { SIGNATURES } from '../../src/data/signatures.js';

const LOGS = path.join(ROOT, 'test', 'fixtures', 'logs');
const fixture = (name: string) => path.join(LOGS, name);
const REQUIRED_IDS = [
  'cuda-oom', 'vllm-gpu-memory-utilization', 'vllm-kv-cache-too-small', 'no-kernel-image', 'bf16-unsupported',
  'container-toolkit-missing', 'driver-too-old', 'no-driver', 'model-dir-missing', 'permission-denied',
  'request-missing-text', 'broken-image', 'port-in-use', 'host-oom-killed',
];

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'gd-diagnose-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Recorded logs: file, the finding that must come out, and the 1-based line that proves it. */
const RECORDED: { file: string; id: string; line: number; also?: string[] }[] = [
  { file: 'vllm-cuda-oom.txt', id: 'cuda-oom', line: 12 },
  { file: 'vllm-gpu-memory-utilization.txt', id: 'vllm-gpu-memory-utilization', line: 7 },
  { file: 'vllm-kv-cache.txt', id: 'vllm-kv-cache-too-small', line: 8 },
  { file: 'vllm-v0-kv-cache.txt', id: 'vllm-kv-cache-too-small', line: 7 },
  { file: 'vllm-no-kernel.txt', id: 'no-kernel-image', line: 5 },
  { file: 'vllm-bf16.txt', id: 'bf16-unsupported', line: 5 },
  { file: 'docker-toolkit-missing.txt', id: 'container-toolkit-missing', line: 2 },
  { file: 'docker-cdi-missing.txt', id: 'container-toolkit-missing', line: 1 },
  { file: 'docker-driver-too-old.txt', id: 'image-cuda-requirement', line: 2 },
  { file: 'docker-no-driver.txt', id: 'no-driver', line: 2 },
  { file: 'web-no-driver.txt', id: 'no-driver', line: 1 },
  { file: 'vllm-model-dir-case.txt', id: 'model-dir-missing', line: 9 },
  { file: 'web-model-dir-missing.txt', id: 'model-dir-missing', line: 3 },
  { file: 'vllm-permission-denied.txt', id: 'permission-denied', line: 5 },
  { file: 'web-keyerror-text.txt', id: 'request-missing-text', line: 12 },
  { file: 'web-broken-image.txt', id: 'broken-image', line: 4 },
  { file: 'docker-port-allocated.txt', id: 'port-in-use', line: 2 },
  { file: 'vllm-port-in-use.txt', id: 'port-in-use', line: 2 },
  { file: 'kernel-oom.txt', id: 'host-oom-killed', line: 2 },
];

/** Shorter logs for the signatures beyond FACTS.md's table, as the tools print them. */
describe('numbers quoted from the log', () => {
  it('vllm-kv-cache-too-small names the context length vLLM says fits', async () => {
    for (const [file, tokens] of [['vllm-kv-cache.txt', 15360], ['vllm-v0-kv-cache.txt', 19456]] as const) {
      const text = await readFile(path.join(ROOT, 'test/fixtures/logs', file), 'utf8');
      const finding = diagnose([{ name: file, text }]).find((f) => f.id === 'vllm-kv-cache-too-small');
      expect(finding?.fix, file).toContain(`lower --max-model-len to ${tokens}`);
    }
  });

  it('falls back to an example when the log gives no number', () => {
    const finding = diagnose([{ name: 'log', text: 'RuntimeError: No available memory for the cache blocks.' }]).find((f) => f.id === 'vllm-kv-cache-too-small');
    expect(finding?.fix).toContain('lower --max-model-len (e.g. 8192)');
  });
});

const INLINE: { name: string; id: string; line: number; log: string }[] = [
  {
    name: 'transformers asks for remote code',
    id: 'trust-remote-code',
    line: 4,
    log: [
      '(APIServer pid=1) Traceback (most recent call last):',
      '(APIServer pid=1)   File "/usr/local/lib/python3.12/dist-packages/transformers/dynamic_module_utils.py", line 676, in resolve_trust_remote_code',
      '(APIServer pid=1)     raise ValueError(',
      "(APIServer pid=1) ValueError: The repository for /models/Qwen3Guard-Stream-4B contains custom code which must be executed to correctly load the model. You can inspect the repository content at https://hf.co//models/Qwen3Guard-Stream-4B.",
    ].join('\n'),
  },
  {
    name: 'offline: the path was read as a Hub repo id',
    id: 'hub-unreachable',
    line: 3,
    log: [
      'Traceback (most recent call last):',
      '  File "/usr/local/lib/python3.12/dist-packages/transformers/utils/hub.py", line 479, in cached_files',
      "OSError: We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached files.",
    ].join('\n'),
  },
  {
    name: 'the Hub has no such repo',
    id: 'model-not-found-on-hub',
    line: 2,
    log: [
      'Traceback (most recent call last):',
      "huggingface_hub.errors.RepositoryNotFoundError: 401 Client Error. (Request ID: Root=1-6735f0c1-3e1b)",
    ].join('\n'),
  },
  {
    name: 'no tokenizer files',
    id: 'tokenizer-missing',
    line: 2,
    log: [
      '(APIServer pid=1) INFO 11-21 15:20:05 [api_server.py:1839] vLLM API server version 0.11.0',
      "(APIServer pid=1) OSError: Can't load tokenizer for '/models/Qwen3Guard-Gen-8B'. If you were trying to load it from 'https://huggingface.co/models', make sure you don't have a local directory with the same name.",
    ].join('\n'),
  },
  {
    name: 'max-model-len beyond the model',
    id: 'max-model-len-too-large',
    line: 3,
    log: [
      "(APIServer pid=1) INFO 11-21 15:20:05 [utils.py:233] non-default args: {'model': '/models/Qwen3Guard-Gen-8B', 'max_model_len': 65536}",
      "(APIServer pid=1) pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n  Value error, User-specified max_model_len (65536) is greater than the derived max_model_len (max_position_embeddings=40960 or model_max_length=None in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1.",
    ].join('\n'),
  },
  {
    name: 'disk full while caching',
    id: 'disk-full',
    line: 2,
    log: ['Downloading shards:  40%|████      | 2/5', "OSError: [Errno 28] No space left on device: '/root/.cache/huggingface/hub/models--Qwen--Qwen3Guard-Gen-8B'"].join('\n'),
  },
  {
    name: 'weights are Git LFS pointers',
    id: 'weights-incomplete',
    line: 2,
    log: ['(EngineCore_DP0 pid=198) Loading safetensors checkpoint shards:   0% Completed | 0/5', '(EngineCore_DP0 pid=198) safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge'].join('\n'),
  },
  {
    name: 'image too old for Qwen3',
    id: 'transformers-too-old',
    line: 1,
    log: "ValueError: The checkpoint you are trying to load has model type `qwen3` but Transformers does not recognize this architecture. This could be because of an issue with the checkpoint, or because your version of Transformers is out of date.",
  },
  {
    name: 'image cannot be pulled',
    id: 'image-not-found',
    line: 2,
    log: ["Unable to find image 'vllm/vllm-openai:v9.9.9' locally", 'docker: Error response from daemon: manifest for vllm/vllm-openai:v9.9.9 not found: manifest unknown: manifest unknown.'].join('\n'),
  },
  {
    name: 'arm image on amd64',
    id: 'image-wrong-platform',
    line: 1,
    log: 'exec /usr/bin/python3: exec format error',
  },
  {
    name: 'no GPU inside the container',
    id: 'no-gpu-visible',
    line: 1,
    log: ['INFO 11-21 13:01:22 [__init__.py:241] No platform detected, vLLM is running on UnspecifiedPlatform', 'RuntimeError: Failed to infer device type'].join('\n'),
  },
  {
    name: 'docker socket not allowed',
    id: 'docker-permission-denied',
    line: 1,
    log: 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.24/containers/json": dial unix /var/run/docker.sock: connect: permission denied',
  },
  // Lines as real threads print them (the thread in each name); test/unit/diagnose-real-logs.test.ts runs the whole logs.
  {
    name: 'torch on a driver older than its CUDA',
    id: 'driver-too-old',
    line: 1,
    log: 'RuntimeError: The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx',
  },
  { name: 'GPU access lost inside a running container (hand-written: nvidia-smi in the container)', id: 'gpu-access-lost', line: 1, log: 'Failed to initialize NVML: Unknown Error' },
  {
    name: "torch's warning for a GPU newer than its build (hand-written from torch's message)",
    id: 'no-kernel-image',
    line: 1,
    log: '/usr/local/lib/python3.12/dist-packages/torch/cuda/__init__.py:262: UserWarning: NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.',
  },
  {
    name: "the toolkit's hook cannot reach the driver (nvidia-container-toolkit#556)",
    id: 'no-driver',
    line: 2,
    log: "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'\nnvidia-container-cli: initialization error: driver rpc error: failed to process request: unknown.",
  },
  { name: 'NVRM API mismatch in dmesg (dalle-playground#104)', id: 'nvml-driver-mismatch', line: 1, log: '[ 7386.259769] NVRM: API mismatch: the client has the version 515.48.07, but' },
  { name: 'Error 804 (apollo-lite#80)', id: 'forward-compat-unsupported', line: 1, log: 'Error 804: forward compatibility was attempted on non supported HW' },
  {
    name: 'Error 803 in torch\'s warning (easydiffusion#379)',
    id: 'cuda-compat-mismatch',
    line: 1,
    log: "/env/lib/python3.8/site-packages/torch/cuda/__init__.py:82: UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling NumCudaDevices() that might have already set an error? Error 803: system has unsupported display driver / cuda driver combination (Triggered internally at  /pytorch/c10/cuda/CUDAFunctions.cpp:112.)",
  },
  { name: 'illegal memory access (vllm#39374)', id: 'illegal-memory-access', line: 1, log: 'torch.AcceleratorError: CUDA error: an illegal memory access was encountered' },
  {
    name: 'NCCL error in a worker (gpustack#1263)',
    id: 'nccl-error',
    line: 3,
    log: [
      '(VllmWorkerProcess pid=1699362) ERROR 02-19 19:18:42 multiproc_worker_utils.py:242]   File "/usr/local/lib/python3.10/dist-packages/vllm/distributed/device_communicators/pynccl_wrapper.py", line 256, in NCCL_CHECK',
      '(VllmWorkerProcess pid=1699362) ERROR 02-19 19:18:42 multiproc_worker_utils.py:242]     raise RuntimeError(f"NCCL error: {error_str}")',
      '(VllmWorkerProcess pid=1699362) ERROR 02-19 19:18:42 multiproc_worker_utils.py:242] RuntimeError: NCCL error: unhandled cuda error (run with NCCL_DEBUG=INFO for details)',
    ].join('\n'),
  },
  { name: 'Killed after a progress bar (DeepSeek-VL2#90)', id: 'host-oom-killed', line: 1, log: 'Loading checkpoint shards:  75%|███████ ...... 3/4 [00:08<00:02,  2.83s/it]Killed' },
  { name: 'compose exit 137', id: 'host-oom-killed', line: 2, log: 'vllm-1  | INFO 11-21 13:01:22 [loader.py:458] Loading weights took 38.52 seconds\nvllm-1 exited with code 137' },
  {
    name: 'gated repo (gemma3-object-detection#5)',
    id: 'hf-gated-repo',
    line: 2,
    log: '403 Client Error. (Request ID: Root=1-6824e511-0a1d60376d4eefac56a9c456;85e8458c-a7d7-452d-b8fe-576bb259b500)\nCannot access gated repo for url https://huggingface.co/google/gemma-3-4b-pt/resolve/main/config.json.',
  },
  { name: 'a Hub id the Hub could not serve (vllm#13510)', id: 'hub-unreachable', line: 1, log: "ValueError: Invalid repository ID or local directory specified: 'neuralmagic/Meta-Llama-3-8B-Instruct-FP8-dynamic'." },
  { name: 'GPU below 7.0 (vllm#1284)', id: 'compute-capability-too-low', line: 1, log: 'RuntimeError: GPUs with compute capability below 7.0 are not supported.' },
  {
    name: 'torch rendezvous port (torchtune#1025)',
    id: 'dist-port-in-use',
    line: 1,
    log: 'torch.distributed.DistNetworkError: The server socket has failed to listen on any local network address. The server socket has failed to bind to [::]:29500 (errno: 98 - Address already in use).',
  },
  { name: 'the cache folder (deepke#537)', id: 'cache-permission-denied', line: 1, log: "PermissionError: [Errno 13] Permission denied: 'C:\\\\Users\\\\lenovo/.cache\\\\huggingface\\\\hub\\\\models--bert-base-chinese\\\\refs\\\\main'" },
  { name: 'a lock file (huggingface_hub#3714)', id: 'lock-permission-denied', line: 1, log: "PermissionError: [Errno 13] Permission denied: '.locks/models--deepseek-ai--DeepSeek-R1-0528/6e2501...lock'" },
  { name: 'shm bus error (DCPDN#58)', id: 'shm-too-small', line: 1, log: 'ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).' },
  { name: 'engine failure with nothing above it (vllm#21882)', id: 'engine-core-failed', line: 1, log: "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore_0': 1}" },
  // podman on machines that refuse it (test/fixtures/podman/SOURCES.md; podman-probe.test.ts has the whole captures)
  { name: 'podman: a refused rlimit (runc)', id: 'podman-rlimit', line: 1, log: 'Error: runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: OCI permission denied' },
  { name: 'podman: systemd cgroup manager without systemd', id: 'podman-cgroup-manager', line: 1, log: 'Error: container create failed: systemd cgroup flag passed, but systemd support for managing cgroups is not available' },
  { name: 'podman: journald events logger without a journal', id: 'podman-events-logger', line: 1, log: 'Error: Cannot get exit code: failed to get journal cursor: failed to get cursor: cannot assign requested address' },
  { name: 'rootless podman: /dev/net/tun', id: 'podman-rootless-network', line: 1, log: 'Error: /usr/bin/slirp4netns failed: "open(\\"/dev/net/tun\\"): Permission denied\\nchild failed(1)\\n"' },
  { name: 'rootless podman: --ipc=host without /dev/mqueue', id: 'podman-ipc-host-mqueue', line: 1, log: 'Error: statfs /dev/mqueue: no such file or directory' },
  { name: 'podman: overlay over nfs (podman#8521)', id: 'podman-storage-driver', line: 1, log: `Error: kernel does not support overlay fs: 'overlay' is not supported over nfs at "/storage/sami/overlay": backing file system is unsupported for this graph driver` },
  { name: 'rootless podman: no subuid ranges', id: 'podman-no-subuid', line: 1, log: 'time="2026-11-30T16:22:42Z" level=error msg="cannot find UID/GID for user gdnosub: no subuid ranges found for user \\"gdnosub\\" in /etc/subuid - check rootless mode in man pages."' },
  { name: 'podman: a short image name', id: 'podman-short-name', line: 1, log: 'Error: short-name "guard-doctor-test/nope:x" did not resolve to an alias and no unqualified-search registries are defined in "/etc/containers/registries.conf"' },
];

describe('the knowledge base', () => {
  it('has every finding id CONTRACT.md requires, once each, with a cause and a fix', () => {
    const ids = SIGNATURES.map((s) => s.id);
    for (const id of REQUIRED_IDS) expect(ids).toContain(id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every signature names its source and is exercised by a log in these tests', () => {
    const tested = new Set([...RECORDED.map((r) => r.id), ...INLINE.map((r) => r.id)]);
    for (const s of SIGNATURES) {
      expect(s.source.length, s.id).toBeGreaterThan(5);
      expect(tested.has(s.id), `${s.id} has no log in RECORDED or INLINE`).toBe(true);
    }
  });
});

describe('diagnose --log on recorded logs', () => {
  it.each(RECORDED)('$file -> $id at line $line', async ({ file, id, line }) => {
    const result = await runCli(['diagnose', '--log', fixture(file), '--json']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(1);
    expect(result.json).toMatchObject({ schemaVersion: 1, tool: 'guard-doctor', command: 'diagnose', ok: false, exitCode: 1 });
    const finding = result.json.findings.find((f: { id: string }) => f.id === id);
    expect(finding, `findings: ${result.json.findings.map((f: { id: string }) => f.id).join(', ')}`).toBeDefined();
    expect(finding.cause.length).toBeGreaterThan(10);
    expect(finding.fix.length).toBeGreaterThan(10);
    const text = (await readFile(fixture(file), 'utf8')).split('\n')[line - 1]!;
    expect(finding.lines[0]).toMatchObject({ n: line, text: text.trimEnd() });
  });
});

describe('diagnose on the signatures beyond the table', () => {
  it.each(INLINE)('$name -> $id', ({ id, line, log }) => {
    const findings = diagnose([{ name: 'log', text: log }]);
    const finding = findings.find((f) => f.id === id);
    expect(finding, `got ${findings.map((f) => f.id).join(', ') || 'nothing'}`).toBeDefined();
    expect(finding!.lines[0]!.n).toBe(line);
  });
});

describe('what the user reads', () => {
  it('a healthy vLLM start-up log has no finding, says what shows it is healthy, and exits 0', async () => {
    const result = await runCli(['diagnose', '--log', fixture('vllm-healthy.txt')]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('read 41 lines');
    expect(result.stdout).toContain('Healthy: the server finished starting and nothing failed after that.');
    expect(result.stdout).toContain(`${fixture('vllm-healthy.txt')}:36: (APIServer pid=1) INFO:     Application startup complete.`);
    const json = await runCli(['diagnose', '--log', fixture('vllm-healthy.txt'), '--json']);
    expect(json.json).toMatchObject({ ok: true, exitCode: 0, diagnosis: 'healthy', findings: [] });
    expect(json.json.evidence[0]).toMatchObject({ n: 36, text: '(APIServer pid=1) INFO:     Application startup complete.' });
  });

  it('none of the recorded logs of one failure trips a signature of another kind', async () => {
    // Each recorded failure names its root cause; tracebacks and INFO lines around it must not add unrelated findings.
    const allowed: Record<string, string[]> = {
      'vllm-kv-cache.txt': ['vllm-kv-cache-too-small', 'engine-core-failed'],
      'vllm-cuda-oom.txt': ['cuda-oom', 'engine-core-failed'],
      'vllm-gpu-memory-utilization.txt': ['vllm-gpu-memory-utilization', 'engine-core-failed'],
      'vllm-no-kernel.txt': ['no-kernel-image', 'engine-core-failed'],
      'docker-driver-too-old.txt': ['image-cuda-requirement'],
      'web-model-dir-missing.txt': ['model-dir-missing'],
      'web-no-driver.txt': ['no-driver'],
    };
    for (const { file, id } of RECORDED) {
      const findings = diagnose([{ name: file, text: await readFile(fixture(file), 'utf8') }]).map((f) => f.id);
      expect(findings, file).toEqual(allowed[file] ?? [id]);
    }
  });

  it('prints the cause, the fix and the numbered matching line; quotes the numbers of the log', async () => {
    const result = await runCli(['diagnose', '--log', fixture('vllm-gpu-memory-utilization.txt')]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('vllm-gpu-memory-utilization: vLLM refused to start: only 21.53 of 79.19 GiB GPU memory was free');
    expect(result.stdout).toMatch(/fix: .*lower --gpu-memory-utilization to 0\.25 or less/);
    expect(result.stdout).toContain('line 7: (EngineCore_DP0 pid=180) ERROR 11-21 10:31:55 [core.py:708] ValueError: Free memory on device');
    expect(result.stdout).toContain('engine-core-failed: vLLM\'s engine core process failed to start because of the failure above it: vllm-gpu-memory-utilization (line 7)');
    expect(result.stdout).toContain('2 known failures found');
  });

  it('reads standard input when no --log or --container is given', async () => {
    const log = await readFile(fixture('vllm-cuda-oom.txt'), 'utf8');
    const result = await runCli(['diagnose', '--json'], { input: log });
    expect(result.exitCode).toBe(1);
    expect(result.json.findings.map((f: { id: string }) => f.id)).toEqual(['cuda-oom', 'engine-core-failed']);
    expect(result.json.findings[0].lines[0]).toMatchObject({ n: 12, source: 'standard input' });
  });

  it('handles CRLF line ends, colours and progress-bar redraws without shifting line numbers', async () => {
    const log = [
      '\x1b[32mINFO\x1b[0m 11-21 09:14:02 [__init__.py:216] Automatically detected platform cuda.',
      'Loading safetensors checkpoint shards:  20% Completed\rLoading safetensors checkpoint shards:  60% Completed',
      '\x1b[31mERROR\x1b[0m torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB.',
    ].join('\r\n');
    const result = await runCli(['diagnose', '--json'], { input: log });
    expect(result.json.findings[0]).toMatchObject({ id: 'cuda-oom', lines: [{ n: 3, text: 'ERROR torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB.' }] });
  });

  it('several --log files: each line names its file; exit 1', async () => {
    const result = await runCli(['diagnose', '--log', fixture('vllm-healthy.txt'), '--log', fixture('docker-toolkit-missing.txt')]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`${fixture('docker-toolkit-missing.txt')}:2: docker: Error response from daemon: could not select device driver`);
  });

  it('a log path with spaces, quotes and $(...) is read as a path and nothing in it runs', async () => {
    const weird = path.join(tmp, `it's a "log" $(touch pwned) ü.txt`);
    await writeFile(weird, 'KeyError: \'text\'\n');
    const result = await runCli(['diagnose', '--log', weird, '--json'], { cwd: tmp });
    const marker = path.join(tmp, 'pwned');
    expect(result.json.findings[0].id).toBe('request-missing-text');
    await expect(readFile(marker)).rejects.toThrow();
  });

  it('a missing --log file is a clear message and exit 2, not a stack trace', async () => {
    const missing = path.join(tmp, 'nope.log');
    const result = await runCli(['diagnose', '--log', missing]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`--log: cannot read ${missing}: it does not exist`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('an empty log (standard input or file) cannot be judged: says so, exit 3, ok false', async () => {
    const result = await runCli(['diagnose'], { input: '' });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toContain('The log is empty: there is nothing to judge.');
    const empty = path.join(tmp, 'empty.log');
    await writeFile(empty, '\n\n');
    const json = await runCli(['diagnose', '--log', empty, '--json']);
    expect(json.json).toMatchObject({ ok: false, exitCode: 3, diagnosis: 'empty', findings: [] });
  });

  it('a container OOM-killed by the kernel (exit 137, OOMKilled) is host-oom-killed, from its state alone', () => {
    const findings = diagnose([{ name: 'container x', text: 'INFO loading weights\n' }], { state: { status: 'exited', exitCode: 137, oomKilled: true, error: null } });
    expect(findings.map((f) => f.id)).toEqual(['host-oom-killed']);
    // docker kill / docker stop also end in 137, but without OOMKilled: not a memory problem.
    expect(diagnose([{ name: 'c', text: '' }], { state: { status: 'exited', exitCode: 137, oomKilled: false, error: null } })).toEqual([]);
  });

  it('"No such file or directory" counts only on lines about the model files', () => {
    const log = ["FileNotFoundError: [Errno 2] No such file or directory: '/var/run/nvidia-persistenced/socket'", "FileNotFoundError: [Errno 2] No such file or directory: '/srv/weights/config.json'"].join('\n');
    expect(diagnose([{ name: 'l', text: log }]).map((f) => [f.id, f.lines.map((l) => l.n)])).toEqual([['model-dir-missing', [2]]]);
    const custom = "FileNotFoundError: [Errno 2] No such file or directory: '/data/guard'";
    // Not known to be the model's path: not model-dir-missing, but still a failure, never healthy.
    expect(diagnose([{ name: 'l', text: custom }]).map((f) => f.id)).toEqual(['unrecognized-failure']);
    expect(diagnose([{ name: 'l', text: custom }], { modelPaths: ['/data/guard'] }).map((f) => f.id)).toEqual(['model-dir-missing']);
  });
});

describe.skipIf(skipDocker)('diagnose --container with a real Docker daemon', () => {
  const names: string[] = [];
  const name = (suffix: string) => {
    const n = `gd-diag-${process.pid}-${suffix}`;
    names.push(n);
    return n;
  };
  afterAll(async () => {
    for (const n of names) await execa('docker', ['rm', '-f', n], { reject: false, timeout: 30_000 });
  });

  it('reads stdout and stderr of a crashed container in order and finds the model-dir problem', async () => {
    const n = name('crash');
    // The stand-in vLLM server with a model path that does not exist prints the real start-up traceback.
    await execa('docker', ['run', '--name', n, testImage()!, '--model', '/models/qwen3guard-gen-8b'], { reject: false, timeout: 60_000 });
    const result = await runCli(['diagnose', '--container', n, '--json']);
    expect(result.exitCode).toBe(1);
    expect(result.json.containerState).toMatchObject({ status: 'exited', exitCode: 1, oomKilled: false });
    const finding = result.json.findings.find((f: { id: string }) => f.id === 'model-dir-missing');
    expect(finding.lines[0].text).toContain("No such file or directory: '/models/qwen3guard-gen-8b/config.json'");
    const human = await runCli(['diagnose', '--container', n]);
    expect(human.stdout).toContain(`container ${n} is exited, exit code 1`);
  });

  it('a container the kernel killed for memory is host-oom-killed', async (ctx) => {
    const n = name('oom');
    // node filling a 48 MiB cgroup: the kernel's OOM killer ends it (exit 137, OOMKilled true).
    await execa(
      'docker',
      ['run', '--name', n, '--memory', '48m', '--memory-swap', '48m', '--entrypoint', '/usr/local/bin/node', testImage()!, '-e', 'const a=[];for(;;)a.push(Buffer.alloc(4<<20,1))'],
      { reject: false, timeout: 60_000 },
    );
    const inspected = await execa('docker', ['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', n], { reject: false });
    if (inspected.stdout.trim() !== 'true 137') {
      // Some daemons run without the memory cgroup controller; the state-only path is covered above.
      ctx.skip(`this daemon does not OOM-kill under --memory (state: ${inspected.stdout.trim()})`);
    }
    const result = await runCli(['diagnose', '--container', n, '--json']);
    expect(result.exitCode).toBe(1);
    expect(result.json.findings.map((f: { id: string }) => f.id)).toContain('host-oom-killed');
  });

  it('an unknown container is a clear message and exit 2', async () => {
    const result = await runCli(['diagnose', '--container', `gd-diag-${process.pid}-missing`]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`--container: no container named gd-diag-${process.pid}-missing`);
  });
});
