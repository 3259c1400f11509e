/**
 * The serving defaults are facts about the world (src/data/serving.ts SERVE_DEFAULTS), each with
 * its source, and the settings use them when the user says nothing.
 */
import { describe, expect, it } from 'vitest';
import { SERVE_DEFAULTS } from '../../src/data/serving.js';
import { resolveSettings } from '../../src/settings.js';
import { runCli } from '../helpers/cli.js';

describe('serving defaults', () => {
  it("--gpu-memory-utilization defaults to vLLM's own 0.9, from vLLM's CacheConfig", () => {
    expect(SERVE_DEFAULTS.gpuMemoryUtilization.value).toBe(0.9);
    expect(SERVE_DEFAULTS.gpuMemoryUtilization.source).toMatch(/^https:\/\/github\.com\/vllm-project\/vllm\/blob\/[0-9a-f]{40}\/vllm\/config\/cache\.py/);
    expect(SERVE_DEFAULTS.gpuMemoryUtilization.source).toContain('default=0.9');
    expect(resolveSettings('check', {}, {}).gpuMemoryUtilization).toBe(0.9);
    expect(resolveSettings('check', { gpuMemoryUtilization: '0.5' }, {}).gpuMemoryUtilization).toBe(0.5);
  });

  it("--max-model-len defaults to the 32768 of vLLM's Qwen3Guard-Gen recipe", () => {
    expect(SERVE_DEFAULTS.maxModelLen.value).toBe(32768);
    expect(SERVE_DEFAULTS.maxModelLen.source).toMatch(/^https:\/\/github\.com\/vllm-project\/recipes\/blob\/[0-9a-f]{40}\/Qwen\/Qwen3Guard-Gen\.md/);
    expect(SERVE_DEFAULTS.maxModelLen.source).toContain('--max-model-len 32768');
    expect(resolveSettings('check', {}, {}).maxModelLen).toBe(32768);
  });

  it('up --dry-run starts vLLM with both', async () => {
    const dry = await runCli(['up', '--dry-run'], { env: { FAKE_NVIDIA_SMI: undefined } });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/ vllm\/vllm-openai:v0\.11\.0 Qwen\/Qwen3Guard-Gen-8B --served-model-name Qwen3Guard-Gen-8B --max-model-len 32768 --gpu-memory-utilization 0\.9$/m);
  });
});
