/**
 * Once per test run: make sure a Docker daemon answers and the stand-in guard server image
 * (test/image/build.mjs) is built and current, then hand its ref to the tests
 * (`inject('guardTestImage')`, and GUARD_TEST_IMAGE in the environment).
 *
 * Without Docker the run fails at once with what to do, rather than passing with the Docker
 * tests silently missing; GUARD_DOCTOR_SKIP_DOCKER=1 opts out, and those tests skip.
 */
import type { TestProject } from 'vitest/node';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeHfCache } from './helpers/hub.js';
// @ts-expect-error plain ESM build script without type declarations
import { buildTestImage, dockerProblem } from './image/build.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test image ref, or null when Docker tests are skipped (GUARD_DOCTOR_SKIP_DOCKER=1). */
    guardTestImage: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The hermetic default for `runCli`: a Hugging Face cache already holding every size (shards of
  // the published sizes, as sparse files), and
  // HF_HUB_OFFLINE on, so a `check` without --model-dir (the hub source) never reaches a network.
  const hfHome = await mkdtemp(path.join(os.tmpdir(), 'gd-test-hf-home-'));
  for (const size of ['0.6B', '4B', '8B'] as const) await writeHfCache(hfHome, { size, realSizes: true });
  process.env.GUARD_TEST_HF_HOME = hfHome;
  const teardown = () => rm(hfHome, { recursive: true, force: true });
  if (process.env.GUARD_DOCTOR_SKIP_DOCKER === '1') {
    project.provide('guardTestImage', null);
    delete process.env.GUARD_TEST_IMAGE;
    return teardown;
  }
  const problem: string | null = await dockerProblem();
  if (problem) {
    throw new Error(
      [
        `The tests need a running Docker daemon, and it does not answer: ${problem}`,
        'Start it with `sudo dockerd > /tmp/dockerd.log 2>&1 &` (or run `bash .ci/run`, which installs and starts it),',
        'or set GUARD_DOCTOR_SKIP_DOCKER=1 to skip the tests that need Docker.',
      ].join('\n'),
    );
  }
  const { ref } = (await buildTestImage({ log: (line: string) => console.error(`[test image] ${line}`) })) as { ref: string };
  project.provide('guardTestImage', ref);
  // Forked test workers inherit this; also read by helper programs the tests start.
  process.env.GUARD_TEST_IMAGE = ref;
  return teardown;
}
