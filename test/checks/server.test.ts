/**
 * The results `up`'s phases and `warm` build (checks/server/): each id's spec and builders,
 * from the outcomes the phases really see (the ready wait's detail, a warm-up's latencies, the
 * model's own answer parsed by src/verdict.ts, a keyed vLLM's 401). No I/O.
 */
import { describe, expect, it } from 'vitest';
import { CHECK_TABLES } from '../../checks/index.js';
import { containerName, nameJudged, nameUnknown } from '../../checks/server/container.js';
import { authFailed, serverAuth } from '../../checks/server/auth.js';
import { readyFailed, readyPassed, serverReady } from '../../checks/server/ready.js';
import { serverSuite, suiteStopped } from '../../checks/server/suite.js';
import { serverWarm, warmJudged } from '../../checks/server/warm.js';
import { ApiKey, unauthorizedProblem } from '../../src/api-key.js';
import { parseVerdict, toVerdict } from '../../src/verdict.js';
import type { WarmOutcome } from '../../src/launch/warm.js';

/** Qwen3Guard-Gen's own answer format (its model card), and a chat model's answer to the same prompt. */
const QWEN_SAFE = toVerdict(parseVerdict('Safety: Safe\nCategories: None'));
const NOT_QWEN = toVerdict(parseVerdict('Here is a simple vegetable soup: sauté an onion, add carrots and celery, cover with stock and simmer for 20 minutes.'));

const warm = (over: Partial<WarmOutcome>): WarmOutcome => ({ ok: true, coldMs: 1840, warmMs: [61, 58, 64, 59, 60], warmP50Ms: 60, coldVerdict: QWEN_SAFE, ...over });

describe('the tables take id and title from the specs', () => {
  it('up lists container.name and every server.* id once, in phase order; warm lists ready then warm', () => {
    const up = CHECK_TABLES.up.map((e) => e.id);
    const order = [containerName, serverReady, serverWarm, serverAuth, serverSuite].map((s) => up.indexOf(s.id));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(CHECK_TABLES.warm).toEqual([
      { group: 'server', id: serverReady.id, title: serverReady.title },
      { group: 'server', id: serverWarm.id, title: serverWarm.title },
    ]);
  });
});

describe('server.ready', () => {
  it('passes with the time and what answered; with a hub download, how the wait split', () => {
    expect(readyPassed(2310, 'GET /health 200, /v1/models lists Qwen3Guard-Gen-4B')).toEqual({
      id: 'server.ready',
      title: 'Server answers',
      status: 'pass',
      summary: 'answered after 2.31 s (GET /health 200, /v1/models lists Qwen3Guard-Gen-4B)',
      measured: { readyMs: 2310 },
      durationMs: 2310,
    });
    const split = readyPassed(95_000, 'GET /health 200, /v1/models lists Qwen3Guard-Gen-8B', { downloadMs: 80_000, loadMs: 15_000, from: 'huggingface.co' });
    expect(split.summary).toBe('answered after 95.0 s (GET /health 200, /v1/models lists Qwen3Guard-Gen-8B; model download 80.0 s (from huggingface.co), load 15.0 s)');
    expect(split.measured).toEqual({ readyMs: 95_000, downloadMs: 80_000, loadMs: 15_000, downloadFrom: 'huggingface.co' });
  });

  it('fails with the reason and one fix, never without a fix', () => {
    const unauthorized = unauthorizedProblem(null, 'GET /v1/models', 401);
    const failed = readyFailed(`GET /health 200, but ${unauthorized.summary}`, unauthorized.fix, 412);
    expect(failed).toMatchObject({ id: 'server.ready', status: 'fail', durationMs: 412 });
    expect(failed.summary).toContain('the server requires an API key');
    expect(failed.fix).toContain('--api-key-env');
  });
});

describe('server.warm', () => {
  it('passes with the cold time and the warm p50', () => {
    const result = warmJudged(warm({}));
    expect(result).toMatchObject({ id: 'server.warm', title: 'Warm-up requests', status: 'pass', summary: 'cold request 1.84 s, warm p50 60 ms over 5 requests' });
    expect(result.durationMs).toBe(1840 + 302);
    expect(result.measured).toEqual({ coldMs: 1840, warmP50Ms: 60, warmMs: [61, 58, 64, 59, 60] });
  });

  it('an answer that is not in Qwen3Guard format is a warning naming the format, not a pass', () => {
    expect(NOT_QWEN.safety).toBe('unknown');
    const result = warmJudged(warm({ coldVerdict: NOT_QWEN }));
    expect(result.status).toBe('warn');
    expect(result.summary).toContain("not in Qwen3Guard's format (Safety: ... / Categories: ...)");
  });

  it('a warm p50 over 2 s is a warning; exactly 2 s is not', () => {
    expect(warmJudged(warm({ warmMs: [2100, 2150, 2090, 2120, 2110], warmP50Ms: 2110 })).status).toBe('warn');
    expect(warmJudged(warm({ warmMs: [2000], warmP50Ms: 2000 })).status).toBe('pass');
  });

  it('a failed warm-up fails with its problem and the --warm-timeout fix', () => {
    const result = warmJudged({ ok: false, coldMs: null, warmMs: [], warmP50Ms: null, problem: 'the cold request failed: no answer within 1 s (--warm-timeout)' });
    expect(result).toMatchObject({ status: 'fail', summary: 'the cold request failed: no answer within 1 s (--warm-timeout)', durationMs: 0 });
    expect(result.fix).toContain('--warm-timeout');
  });
});

describe('server.auth and server.suite', () => {
  it('server.auth is a failure with the key source named, never the key', () => {
    const key = new ApiKey('VLLM_API_KEY', 'sk-not-the-real-one-123', 'environment');
    const problem = unauthorizedProblem(key, 'POST /v1/chat/completions', 401);
    const result = authFailed(problem);
    expect(result).toMatchObject({ id: 'server.auth', title: 'API key', status: 'fail', summary: problem.summary, fix: problem.fix });
    expect(JSON.stringify(result)).not.toContain('sk-not-the-real-one-123');
  });

  it('server.suite says the container stopped during the suite', () => {
    expect(suiteStopped('the container exited (exit code 137)')).toEqual({ id: 'server.suite', title: 'Edge-case suite', status: 'fail', summary: 'the container exited (exit code 137) during the suite', durationMs: 0 });
  });
});

describe('container.name', () => {
  it('passes for a free name, a reusable container and --replace; a conflict fails with the way out', () => {
    expect(nameJudged({ kind: 'none' }, 'qwen3guard', '')).toMatchObject({ id: 'container.name', status: 'pass', summary: 'no container named qwen3guard exists yet' });
    expect(nameJudged({ kind: 'reuse', image: 'vllm/vllm-openai:v0.10.2' }, 'qwen3guard', '').summary).toBe('qwen3guard already runs vllm/vllm-openai:v0.10.2 with the same mount and port; reusing it');
    expect(nameJudged({ kind: 'replace' }, 'qwen3guard', '').status).toBe('pass');
    const conflict = nameJudged({ kind: 'conflict', why: 'it does not publish port 8000' }, 'qwen3guard', ' --runtime podman');
    expect(conflict).toMatchObject({ status: 'fail', summary: 'a container named qwen3guard already exists and cannot be reused: it does not publish port 8000' });
    expect(conflict.fix).toBe('remove it with --replace (or `guard-doctor down --runtime podman --name qwen3guard`), or choose another --name');
  });

  it('a runtime that does not answer is an error (unknown), not a pass', () => {
    const result = nameUnknown('qwen3guard', 'docker', 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?');
    expect(result).toMatchObject({ id: 'container.name', status: 'error', fix: 'check that the docker daemon answers' });
    expect(result.summary).toContain('could not tell whether qwen3guard exists: Cannot connect to the Docker daemon');
  });
});
