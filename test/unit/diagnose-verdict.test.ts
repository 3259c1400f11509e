/**
 * diagnose's verdict as the user sees it: it fails closed (an error it does not know is exit 3,
 * ok:false, never healthy), says what shows a log is healthy, reads through the prefixes of
 * compose, journald, Ray and torchrun, points an engine failure at its root cause, tells apart
 * failures that share words (which folder a permission error hit; the server's port or torch's
 * rendezvous port; a Hub id or a local path), and streams logs of any size.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, ROOT } from '../helpers/cli.js';
import { LineSplitter, diagnose, diagnoseAll, parseLine, splitLines } from '../../src/diagnose.js';
import { SIGNATURES } from '../../src/data/signatures.js';
import { LiteralScanner, requiredLiterals } from '../../src/literal-scan.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'gd-diagnose-verdict-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const ids = (log: string) => diagnose([{ name: 'log', text: log }]).map((f) => f.id);
const kind = (log: string) => diagnoseAll([{ name: 'log', text: log }]).kind;

async function cliOn(name: string, log: string) {
  const file = path.join(tmp, name);
  await writeFile(file, log);
  return runCli(['diagnose', '--json', '--log', file]);
}

describe('fail closed: an error no signature knows is exit 3, ok false, never healthy', () => {
  it('a Python traceback: its last line is quoted first', async () => {
    const log = [
      '(APIServer pid=1) INFO 11-21 15:20:05 [api_server.py:1839] vLLM API server version 0.11.0',
      '(APIServer pid=1) Traceback (most recent call last):',
      '(APIServer pid=1)   File "/usr/local/lib/python3.12/dist-packages/zmq/sugar/socket.py", line 311, in bind',
      '(APIServer pid=1)     super().bind(addr)',
      '(APIServer pid=1) zmq.error.ZMQError: Operation not supported',
      'vllm-1 exited with code 1',
    ].join('\n');
    const result = await cliOn('traceback.log', log);
    expect(result.exitCode).toBe(3);
    expect(result.json).toMatchObject({ ok: false, exitCode: 3, diagnosis: 'unrecognized-failure' });
    expect(result.json.findings).toHaveLength(1);
    const finding = result.json.findings[0];
    expect(finding.id).toBe('unrecognized-failure');
    expect(finding.cause).toContain('zmq.error.ZMQError: Operation not supported');
    expect(finding.lines.map((l: { n: number }) => l.n)).toEqual([5, 6]);
  });

  it.each([
    ['an ERROR line', '(APIServer pid=1) ERROR 11-21 10:31:55 [launcher.py:101] Something the doctor has never seen'],
    ['RuntimeError:', 'RuntimeError: the flux capacitor is not charged'],
    ['ValueError:', '[rank0]: ValueError: unexpected token in the chat template'],
    ['exited with code 2', 'guard-1  | guard-1 exited with code 2'],
    ['a Go panic', 'panic: runtime error: invalid memory address or nil pointer dereference'],
    ['a TGI launcher error', '2024-12-12T10:00:00.000000Z ERROR text_generation_launcher: Webserver Crashed'],
  ])('%s', async (_what, line) => {
    const log = `INFO 11-21 15:20:01 [__init__.py:216] Automatically detected platform cuda.\n${line}\n`;
    expect(ids(log)).toEqual(['unrecognized-failure']);
    const result = await cliOn('error-line.log', log);
    expect(result.exitCode).toBe(3);
    expect(result.json.findings[0].lines[0]).toMatchObject({ n: 2, text: line });
  });

  it('"exited with code 0" and WARNING lines are not errors', () => {
    expect(kind('WARNING 11-21 14:03:23 [model.py:1389] Default sampling parameters have been overridden\nguard-1 exited with code 0\n')).toBe('undetermined');
  });

  it('a known signature wins over the generic reading: exit 1, no unrecognized-failure', () => {
    expect(ids('Traceback (most recent call last):\n  File "x.py", line 1, in <module>\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n')).toEqual(['cuda-oom']);
  });

  it('a container that exited non-zero with a quiet log is a failure, not healthy', () => {
    const findings = diagnose([{ name: 'c', text: 'INFO:     Application startup complete.\n' }], { state: { status: 'exited', exitCode: 1, oomKilled: false, error: null } });
    expect(findings.map((f) => f.id)).toEqual(['unrecognized-failure']);
    expect(findings[0]!.cause).toContain('the container exited with code 1');
  });
});

describe('healthy, undetermined, empty', () => {
  it('healthy names its evidence; a failure after it still fails', async () => {
    const startup = ['INFO:     Started server process [1]', 'INFO:     Waiting for application startup.', 'INFO:     Application startup complete.', 'INFO:     Uvicorn running on http://0.0.0.0:7860 (Press CTRL+C to quit)'];
    const ok = await cliOn('healthy.log', startup.join('\n'));
    expect(ok.json).toMatchObject({ ok: true, exitCode: 0, diagnosis: 'healthy', findings: [] });
    expect(ok.json.evidence.map((l: { n: number }) => l.n)).toEqual([3, 4]);
    const died = [...startup, 'ERROR:    Exception in ASGI application', 'Traceback (most recent call last):', '  File "/app/app.py", line 41, in judge', 'AttributeError: \'NoneType\' object has no attribute \'generate\''];
    expect(kind(died.join('\n'))).toBe('unrecognized-failure');
  });

  it('a log cut after the start still shows a server that answers: 2xx access lines and throughput lines are health', () => {
    expect(kind('INFO:     127.0.0.1:34658 - "POST /v1/chat/completions HTTP/1.1" 200 OK\n')).toBe('healthy');
    expect(kind('INFO 07-04 07:25:31 metrics.py:218] Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, Running: 0 reqs\n')).toBe('healthy');
    expect(kind('INFO:     127.0.0.1:34658 - "POST /v1/chat/completions HTTP/1.1" 500 Internal Server Error\n')).toBe('undetermined');
  });

  it('a 4xx request error after a healthy start is the client\'s, not a failure', () => {
    const log = [
      'INFO:     Application startup complete.',
      "ERROR 03-18 09:02:03 [serving_chat.py:133] Error with model object='error' message='The model `x` does not exist.' type='NotFoundError' param=None code=404",
      'INFO:     192.168.1.168:12475 - "POST /v1/chat/completions HTTP/1.1" 404 Not Found',
    ].join('\n');
    expect(kind(log)).toBe('healthy');
  });

  it('the suite\'s over-long input, answered 400 with vLLM\'s logged traceback, leaves a healthy server healthy', () => {
    // Hand-written in the shape vLLM's serving_chat logs it (logger.exception, then the 400 access line).
    const log = [
      '(APIServer pid=1) INFO:     Application startup complete.',
      '(APIServer pid=1) ERROR 11-21 14:05:01 [serving_chat.py:257] Error in preprocessing prompt inputs',
      '(APIServer pid=1) ERROR 11-21 14:05:01 [serving_chat.py:257] Traceback (most recent call last):',
      '(APIServer pid=1) ERROR 11-21 14:05:01 [serving_chat.py:257]   File "/usr/local/lib/python3.12/dist-packages/vllm/entrypoints/openai/serving_chat.py", line 240, in create_chat_completion',
      "(APIServer pid=1) ERROR 11-21 14:05:01 [serving_chat.py:257] ValueError: This model's maximum context length is 32768 tokens. However, your request has 40015 input tokens. Please reduce the length of the input messages.",
      '(APIServer pid=1) INFO:     172.17.0.1:41790 - "POST /v1/chat/completions HTTP/1.1" 400 Bad Request',
    ].join('\n');
    expect(kind(log)).toBe('healthy');
  });

  it('a warning the server started in spite of is not a failure; the same words without a finished start are', () => {
    const warning = "(APIServer pid=1) WARNING 11-21 14:03:01 [file_download.py:120] Ignored error while writing tree cache file: [Errno 13] Permission denied: '/root/.cache/huggingface/hub/x.json'";
    expect(kind(`${warning}\n(APIServer pid=1) INFO:     Application startup complete.\n`)).toBe('healthy');
    expect(ids(`${warning}\n`)).toEqual(['cache-permission-denied']);
  });

  it('no failure and no sign of a finished start: exit 3, said plainly', async () => {
    const result = await runCli(['diagnose'], { input: '(EngineCore_DP0 pid=190) INFO 11-21 11:05:30 [gpu_model_runner.py:2653] Model loading took 15.2683 GiB and 9.4 seconds\n' });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toContain('No failure found, but nothing in the log shows that the server finished starting');
    const json = await cliOn('loading.log', 'INFO 11-21 15:20:01 [__init__.py:216] Automatically detected platform cuda.\n');
    expect(json.json).toMatchObject({ ok: false, exitCode: 3, diagnosis: 'undetermined', findings: [] });
  });
});

describe('prefixes and wrapping', () => {
  it.each([
    ['compose', 'vllm-1  | '],
    ['journald', 'Nov 30 12:00:01 gpu-host dockerd[1234]: '],
    ['docker --timestamps', '2025-11-30T12:00:01.123456789Z '],
    ['Ray', '(RayWorkerWrapper pid=5432, ip=10.0.0.2) '],
    ['torchrun', '[rank0]: '],
    ['vLLM process and level', '(EngineCore_DP0 pid=198) ERROR 11-21 10:31:55 [core.py:708] '],
  ])('%s: a traceback under the prefix is followed to its last line', (_what, prefix) => {
    const log = ['Traceback (most recent call last):', '  File "/usr/lib/python3.12/threading.py", line 1075, in _bootstrap', '    self.run()', 'SomeNewError: nobody has seen this'].map((l) => prefix + l).join('\n');
    const finding = diagnose([{ name: 'log', text: log }])[0]!;
    expect(finding).toMatchObject({ id: 'unrecognized-failure', lines: [{ n: 4 }] });
    expect(parseLine(prefix + '  File "x"').message).toBe('  File "x"');
  });

  it('a bare "Killed" under a compose prefix is the host OOM killer', () => {
    expect(ids('vllm-1  | Loading safetensors checkpoint shards:  40% Completed | 2/5\nvllm-1  | Killed\nvllm-1 exited with code 137\n')).toEqual(['host-oom-killed']);
  });

  it('source code quoted in a traceback frame is not evidence', () => {
    const log = ['Traceback (most recent call last):', '  File "/vllm/v1/core/kv_cache_utils.py", line 699, in check', '    raise ValueError("No available memory for the cache blocks. "', 'ValueError: something else entirely'].join('\n');
    expect(ids(log)).toEqual(['unrecognized-failure']);
  });
});

describe('the engine failure points at its root cause', () => {
  const engine = '(APIServer pid=1) RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}';
  it('a known root cause comes first; engine-core-failed names it', () => {
    const findings = diagnose([{ name: 'l', text: `(EngineCore_DP0 pid=180) ERROR 11-21 10:31:55 [core.py:708] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB.\n${engine}\n` }]);
    expect(findings.map((f) => f.id)).toEqual(['cuda-oom', 'engine-core-failed']);
    expect(findings[1]!.cause).toContain('because of the failure above it: cuda-oom (line 1)');
  });

  it('an unknown root cause is quoted from the engine\'s traceback', () => {
    const log = [
      '(EngineCore_0 pid=7) ERROR 08-19 13:12:57 [core.py:708] EngineCore failed to start.',
      '(EngineCore_0 pid=7) ERROR 08-19 13:12:57 [core.py:708] Traceback (most recent call last):',
      '(EngineCore_0 pid=7) ERROR 08-19 13:12:57 [core.py:708]   File "/vllm/v1/engine/core.py", line 699, in run_engine_core',
      "(EngineCore_0 pid=7) ERROR 08-19 13:12:57 [core.py:708] subprocess.CalledProcessError: Command '['ninja', '-v']' returned non-zero exit status 1.",
      '(EngineCore_0 pid=7) ERROR 08-19 13:12:57 [core.py:708] ',
      '(EngineCore_0 pid=7) ERROR 08-19 13:12:57 [core.py:708] The above exception was the direct cause of the following exception:',
      engine,
    ].join('\n');
    const findings = diagnose([{ name: 'l', text: log }]);
    expect(findings.map((f) => f.id)).toEqual(['engine-core-failed']);
    expect(findings[0]!.cause).toContain("the root cause it printed above (line 4): subprocess.CalledProcessError: Command '['ninja', '-v']'");
    expect(findings[0]!.lines.map((l) => l.n)).toEqual([4, 1, 7]);
  });

  it('with nothing above it, it says the engine\'s output is missing', () => {
    expect(diagnose([{ name: 'l', text: engine }])[0]!.cause).toContain('the log holds no root cause above it');
  });
});

describe('failures that share words', () => {
  it.each([
    ["PermissionError: [Errno 13] Permission denied: '/models/Qwen3Guard-Gen-8B/config.json'", 'permission-denied', 'chmod -R a+rX'],
    ["PermissionError: [Errno 13] Permission denied: '/root/.cache/huggingface/hub/models--Qwen--Qwen3Guard-Gen-8B'", 'cache-permission-denied', 'HF_HOME'],
    ["PermissionError: [Errno 13] Permission denied: '/home/appuser/.cache/huggingface'", 'cache-permission-denied', 'HF_HOME'],
    ["PermissionError: [Errno 13] Permission denied: '/root/.cache/huggingface/hub/.locks/models--Qwen--Qwen3Guard-Gen-8B/a1b2.lock'", 'lock-permission-denied', 'lock'],
    ["PermissionError: [Errno 13] Permission denied: '/tmp/Qwen3Guard-Gen-8B.lock'", 'lock-permission-denied', 'lock'],
  ])('%s -> %s', (line, id, fixWord) => {
    const findings = diagnose([{ name: 'l', text: line }]);
    expect(findings.map((f) => f.id)).toEqual([id]);
    expect(findings[0]!.fix).toContain(fixWord);
  });

  it("torch's rendezvous port is dist-port-in-use; the server's port is port-in-use", () => {
    expect(ids('torch.distributed.DistNetworkError: The server socket has failed to listen on any local network address. port: 29500, useIpv6: 0, code: -98, name: EADDRINUSE, message: address already in use')).toEqual(['dist-port-in-use']);
    expect(ids('[W socket.cpp:464] [c10d] The server socket has failed to bind to [::]:29500 (errno: 98 - Address already in use).')).toEqual(['dist-port-in-use']);
    expect(ids("ERROR:    [Errno 98] error while attempting to bind on address ('0.0.0.0', 8000): address already in use")).toEqual(['port-in-use']);
    expect(diagnose([{ name: 'l', text: 'torch.distributed.DistNetworkError: ... EADDRINUSE' }])[0]!.fix).toContain('changing --port does not help');
  });

  it('"Invalid repository ID or local directory": a Hub id means the Hub was not reached, a path means the mount', () => {
    expect(ids("ValueError: Invalid repository ID or local directory specified: 'Qwen/Qwen3Guard-Gen-8B'.")).toEqual(['hub-unreachable']);
    expect(ids("ValueError: Invalid repository ID or local directory specified: '/models/qwen3guard-gen-8b'.")).toEqual(['model-dir-missing']);
  });

  it('an NVML mismatch is not "no driver", and its fix is a reboot or a module reload', () => {
    const findings = diagnose([{ name: 'l', text: 'Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 535.183\n' }]);
    expect(findings.map((f) => f.id)).toEqual(['nvml-driver-mismatch']);
    expect(findings[0]!.fix).toMatch(/reboot the host, or reload the nvidia kernel modules/);
  });

  it("the image's CUDA gate quotes the condition and the driver it needs", () => {
    const finding = diagnose([{ name: 'l', text: 'nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container: unknown.' }])[0]!;
    expect(finding.id).toBe('image-cuda-requirement');
    expect(finding.cause).toContain('unsatisfied condition: cuda>=12.8');
    expect(finding.fix).toContain('supports CUDA 12.8 (570.26 or later)');
  });

  it('KeyError on a model type only counts after transformers\' config mapping', () => {
    const log = ['Traceback (most recent call last):', '  File "/usr/lib/python3/site-packages/transformers/models/auto/configuration_auto.py", line 1039, in from_pretrained', '    config_class = CONFIG_MAPPING[config_dict["model_type"]]', "KeyError: 'qwen2'"].join('\n');
    expect(ids(log)).toEqual(['transformers-too-old']);
    expect(ids("Traceback (most recent call last):\n  File \"/app/app.py\", line 41, in relay\nKeyError: 'message'")).toEqual(['unrecognized-failure']);
  });
});

describe('streaming', () => {
  it('chunks split anywhere give the same lines as the whole text', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z \r\x1b[0-9;m]{0,12}$/), { maxLength: 8 }), fc.array(fc.nat(40), { maxLength: 6 }), (parts, cuts) => {
        const text = parts.join('\n');
        const got: string[] = [];
        const splitter = new LineSplitter((l) => got.push(l));
        let at = 0;
        for (const c of [...cuts].sort((a, b) => a - b)) {
          splitter.push(text.slice(at, Math.max(at, c)));
          at = Math.max(at, c);
        }
        splitter.push(text.slice(at));
        splitter.end();
        expect(got).toEqual(splitLines(text));
      }),
    );
  });

  it('a log far longer than one read chunk keeps its line numbers', async () => {
    const filler = Array.from({ length: 40_000 }, (_, i) => `(APIServer pid=1) INFO:     172.17.0.1:${40000 + (i % 20000)} - "POST /v1/chat/completions HTTP/1.1" 200 OK`);
    const log = [...filler, 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB.'].join('\n');
    const result = await cliOn('long.log', log);
    expect(result.json.findings[0]).toMatchObject({ id: 'cuda-oom', lines: [{ n: 40_001 }] });
    expect(result.json.sources[0].lines).toBe(40_001);
  });
});

describe('the literal prefilter never hides a match', () => {
  it('extracts the literal every match must contain', () => {
    expect(requiredLiterals(/CUDA out of memory/.source)).toEqual(['CUDA out of memory']);
    expect(requiredLiterals(/unresolvable CDI devices? nvidia\.com\/gpu/.source)).toEqual(['unresolvable CDI device']);
    expect(requiredLiterals(/foo|bar baz/.source)).toEqual(['foo', 'bar baz']);
    expect(requiredLiterals(/(a|b)x?/.source)).toBeNull();
    expect(requiredLiterals(/nvidia-smi: (command )?not found/.source)).toEqual(['nvidia-smi: ']);
  });

  it('the scanner finds literals case-insensitively, also after non-ASCII text', () => {
    const scanner = new LiteralScanner([{ literal: 'Out of Memory', key: 1 }, { literal: '模型目录不存在', key: 2 }, { literal: 'memory.', key: 3 }]);
    const hits = (text: string) => {
      const found = new Set<number>();
      scanner.scan(text, (k) => found.add(k));
      return [...found].sort();
    };
    expect(hits('CUDA OUT OF MEMORY. Tried')).toEqual([1, 3]);
    expect(hits('错误: 模型目录不存在: /models/x')).toEqual([2]);
    expect(hits('nothing here')).toEqual([]);
  });

  it('on every line of every fixture log, each matching expression has its literal in the line', async () => {
    const dirs = [path.join(ROOT, 'test', 'fixtures', 'logs'), path.join(ROOT, 'test', 'fixtures', 'logs', 'real')].filter((d) => existsSync(d));
    let checked = 0;
    for (const dir of dirs) {
      for (const file of (await readdir(dir)).filter((f) => /\.(txt|log)$/.test(f))) {
        for (const line of splitLines(await readFile(path.join(dir, file), 'utf8'))) {
          const { message } = parseLine(line);
          for (const s of SIGNATURES) {
            for (const re of [...s.patterns, ...(s.modelPathPatterns ?? []), ...(s.contextual ?? []).map((c) => c.pattern)]) {
              if (!re.test(message)) continue;
              checked += 1;
              const literals = requiredLiterals(re.source);
              if (literals) expect(literals.some((l) => message.toLowerCase().includes(l.toLowerCase())), `${re} on ${file}: ${line}`).toBe(true);
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
