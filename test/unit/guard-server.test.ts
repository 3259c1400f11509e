/**
 * The stand-in guard server as a script (the way the test Docker image runs it): start-up
 * failures, loading with the port closed, the knobs, and SIGTERM. Its protocols are exercised
 * through the doctor in suite.test.ts and cli-suite.test.ts.
 */
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../helpers/cli.js';
import { request } from '../../src/http.js';

const SCRIPT = path.join(ROOT, 'test', 'server', 'guard-server.mjs');
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'guard-server-'));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Start the script; resolves once `line` has appeared on stdout or stderr. */
function start(args: string[], env: Record<string, string>, line: RegExp) {
  const child = spawn(process.execPath, [SCRIPT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const seen = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (line.test(output)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code} before ${line}: ${output}`)));
  });
  return { child, seen, exited, output: () => output };
}

/** The log travels through a pipe and may trail the HTTP answer: wait for it (bounded). */
async function waitForOutput(output: () => string, text: string): Promise<void> {
  for (let i = 0; i < 100 && !output().includes(text); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(output()).toContain(text);
}

async function modelFolder(name: string, withConfig = true): Promise<string> {
  const folder = path.join(dir, name);
  await mkdir(folder, { recursive: true });
  if (withConfig) await writeFile(path.join(folder, 'config.json'), JSON.stringify({ architectures: ['Qwen3ForCausalLM'] }));
  return folder;
}

describe('vllm kind', () => {
  it('refuses a model path that is not there, like vLLM does', async () => {
    const missing = path.join(dir, 'models', 'qwen3guard-gen-8b');
    const result = await execa(process.execPath, [SCRIPT, '--model', missing, '--port', String(await freePort())], { reject: false, timeout: 10_000 });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Traceback (most recent call last):');
    expect(result.stderr).toContain(`FileNotFoundError: [Errno 2] No such file or directory: '${missing}/config.json'`);
    expect(result.stderr).toMatch(new RegExp(`OSError: Can't load the configuration of '${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'.*No such file or directory`));
  });

  it('refuses a folder without config.json', async () => {
    const folder = await modelFolder('empty', false);
    const result = await execa(process.execPath, [SCRIPT, 'serve', folder, '--port', String(await freePort())], { reject: false, timeout: 10_000 });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`OSError: ${folder} does not appear to have a file named config.json`);
  });

  it('keeps the port closed while loading, then answers; takes unknown flags; exits 0 on SIGTERM', async () => {
    const folder = await modelFolder('Qwen3Guard-Gen-4B');
    const port = await freePort();
    const server = start(
      ['--model', folder, '--served-model-name', 'Qwen3Guard-Gen-4B', '--max-model-len', '4096', '--port', String(port), '--host', '127.0.0.1', '--gpu-memory-utilization', '0.85', '--enforce-eager', '--tensor-parallel-size', '1'],
      { GUARD_LOAD_MS: '3000' },
      /Starting to load model/,
    );
    await server.seen;
    await expect(request({ url: `http://127.0.0.1:${port}/health`, timeoutMs: 2000 })).rejects.toMatchObject({ kind: 'refused' });
    await new Promise<void>((resolve, reject) => {
      const wait = setInterval(() => {
        if (/Application startup complete/.test(server.output())) {
          clearInterval(wait);
          resolve();
        }
      }, 50);
      server.exited.then(() => reject(new Error(server.output())));
    });
    expect(server.output()).toMatch(/^INFO \d\d-\d\d \d\d:\d\d:\d\d \[[\w.]+:\d+\] vLLM API server version/m);
    const health = await request({ url: `http://127.0.0.1:${port}/health`, timeoutMs: 2000 });
    expect(health).toMatchObject({ status: 200, body: '' });
    const models = JSON.parse((await request({ url: `http://127.0.0.1:${port}/v1/models`, timeoutMs: 2000 })).body);
    expect(models).toMatchObject({ object: 'list', data: [{ id: 'Qwen3Guard-Gen-4B', object: 'model', owned_by: 'vllm', root: folder, max_model_len: 4096 }] });
    const metrics = (await request({ url: `http://127.0.0.1:${port}/metrics`, timeoutMs: 2000 })).body;
    for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:e2e_request_latency_seconds_bucket', 'vllm:request_success_total']) expect(metrics).toContain(name);
    const unknownModel = await request({ url: `http://127.0.0.1:${port}/v1/chat/completions`, body: { model: 'other', messages: [{ role: 'user', content: 'hi' }] }, timeoutMs: 2000 });
    expect(unknownModel.status).toBe(404);
    expect(JSON.parse(unknownModel.body)).toEqual({ object: 'error', message: 'The model `other` does not exist.', type: 'NotFoundError', param: null, code: 404 });
    const noMessages = await request({ url: `http://127.0.0.1:${port}/v1/chat/completions`, body: { model: 'Qwen3Guard-Gen-4B' }, timeoutMs: 2000 });
    expect(noMessages.status).toBe(400);
    expect(JSON.parse(noMessages.body)).toMatchObject({ object: 'error', type: 'BadRequestError', code: 400 });
    const notJson = await request({ url: `http://127.0.0.1:${port}/v1/chat/completions`, body: '{"messages": [', headers: { 'content-type': 'application/json' }, timeoutMs: 2000 });
    expect(notJson.status).toBe(400);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    await waitForOutput(server.output, 'INFO:     Shutting down');
  });

  it('crashes on cue with the given log and exit code', async () => {
    const server = start(['--port', String(await freePort())], { GUARD_CRASH_AFTER_MS: '200', GUARD_CRASH_LOG: 'torch.OutOfMemoryError: CUDA out of memory.\\nTried to allocate 2.00 GiB', GUARD_EXIT_CODE: '3' }, /Tried to allocate/);
    await server.seen;
    expect(await server.exited).toBe(3);
    await waitForOutput(server.output, 'torch.OutOfMemoryError: CUDA out of memory.\nTried to allocate 2.00 GiB');
  });
});

describe('web kind', () => {
  it('listens at once, loads on the first /judge, and fails on a body without text like the real app', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const server = start(['--port', String(port)], { GUARD_KIND: 'web', GUARD_FIRST_MS: '300', GUARD_METRICS_PORT: String(metricsPort) }, /Uvicorn running on http:\/\/0\.0\.0\.0:\d+/);
    await server.seen;
    const url = `http://127.0.0.1:${port}`;
    expect((await request({ url: `${url}/`, timeoutMs: 2000 })).body).toContain('<form');
    expect((await request({ url: `${url}/health`, timeoutMs: 2000 })).status).toBe(404);
    const first = await request({ url: `${url}/judge`, body: { text: '你好' }, timeoutMs: 5000 });
    expect(JSON.parse(first.body)).toEqual({ result: '该内容安全。', level: 'safe' });
    await waitForOutput(server.output, '正在加载模型权重');
    const noText = await request({ url: `${url}/judge`, body: 'text=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' }, timeoutMs: 2000 });
    expect(noText.status).toBe(500);
    expect(noText.body).toContain("KeyError: 'text'");
    await waitForOutput(server.output, "KeyError: 'text'");
    const big = await request({ url: `${url}/judge`, body: { text: 'a'.repeat(1024 * 1024) }, timeoutMs: 5000 });
    expect(big.status).toBe(413);
    const metrics = (await request({ url: `http://127.0.0.1:${metricsPort}/metrics`, timeoutMs: 2000 })).body;
    expect(metrics).toContain('qwen_guard_request_total{method="POST",result="safe"} 1.0');
    expect(metrics).toContain('qwen_guard_request_total{method="POST",result="error"} 2.0');
    for (const name of ['qwen_guard_request_duration_seconds_bucket{le="+Inf"} 3.0', 'qwen_guard_active_requests 0.0', 'qwen_guard_gpu_memory_usage_bytes{device="cuda:0"}']) expect(metrics).toContain(name);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
