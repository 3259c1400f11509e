/**
 * Once per test run: make sure a Docker daemon answers and the stand-in guard server image
 * (test/image/build.mjs) is built and current, then hand its ref to the tests
 * (`inject('guardTestImage')`, and GUARD_TEST_IMAGE in the environment). The same for Podman:
 * the image is imported into podman's storage (`inject('podmanTestImage')`), and the podman
 * tests get a containers.conf of their own (`inject('podmanContainersConf')`).
 *
 * Without Docker (or Podman) the run fails at once with what to do, rather than passing with
 * those tests silently missing; GUARD_DOCTOR_SKIP_DOCKER=1 (GUARD_DOCTOR_SKIP_PODMAN=1) opts
 * out, and those tests skip.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { writeHfCache } from './helpers/hub.js';
// @ts-expect-error plain ESM build script without type declarations
import { buildTestImage, dockerProblem, runtimeProblem } from './image/build.mjs';
import { podmanSandboxConf, podmanSandboxStorage } from './helpers/podman-sandbox.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test image ref, or null when Docker tests are skipped (GUARD_DOCTOR_SKIP_DOCKER=1). */
    guardTestImage: string | null;
    /** The same image in podman's storage, or null when podman tests are skipped (GUARD_DOCTOR_SKIP_PODMAN=1). */
    podmanTestImage: string | null;
    /** The tests' own containers.conf (sandbox settings only), or null. */
    podmanContainersConf: string | null;
    /** The tests' own storage.conf, only where podman's default storage cannot work here; else null. */
    podmanStorageConf: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cleanups: (() => Promise<void>)[] = [];
  // The hermetic default for `runCli`: a Hugging Face cache already holding every size (shards of
  // the published sizes, as sparse files), and
  // HF_HUB_OFFLINE on, so a `check` without --model-dir (the hub source) never reaches a network.
  const hfHome = await mkdtemp(path.join(os.tmpdir(), 'gd-test-hf-home-'));
  cleanups.push(() => rm(hfHome, { recursive: true, force: true }));
  for (const size of ['0.6B', '4B', '8B'] as const) await writeHfCache(hfHome, { size, realSizes: true });
  process.env.GUARD_TEST_HF_HOME = hfHome;
  await setupDocker(project);
  await setupPodman(project, cleanups);
  return async () => {
    for (const cleanup of cleanups) await cleanup();
  };
}

async function setupDocker(project: TestProject): Promise<void> {
  if (process.env.GUARD_DOCTOR_SKIP_DOCKER === '1') {
    project.provide('guardTestImage', null);
    delete process.env.GUARD_TEST_IMAGE;
    return;
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
}

async function setupPodman(project: TestProject, cleanups: (() => Promise<void>)[]): Promise<void> {
  if (process.env.GUARD_DOCTOR_SKIP_PODMAN === '1') {
    project.provide('podmanTestImage', null);
    project.provide('podmanContainersConf', null);
    project.provide('podmanStorageConf', null);
    return;
  }
  const problem: string | null = await runtimeProblem('podman');
  if (problem) {
    throw new Error(
      [
        `The tests need podman, and it does not answer: ${problem}`,
        'Install it with `sudo apt-get install -y podman` (or run `bash .ci/run`, which installs it),',
        'or set GUARD_DOCTOR_SKIP_PODMAN=1 to skip the tests that need podman.',
      ].join('\n'),
    );
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-podman-conf-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const containersConf = path.join(dir, 'containers.conf');
  await writeFile(containersConf, '');
  const log = (line: string) => console.error(`[podman] ${line}`);
  // Podman's defaults first; only what this machine refuses goes into the tests' own files.
  const storageConf = await podmanSandboxStorage(dir, { ...process.env, CONTAINERS_CONF: containersConf }, log);
  const podmanEnv: Record<string, string> = { CONTAINERS_CONF: containersConf, ...(storageConf ? { CONTAINERS_STORAGE_CONF: storageConf } : {}) };
  const { ref } = (await buildTestImage({ runtime: 'podman', env: { ...process.env, ...podmanEnv }, log: (line: string) => console.error(`[test image] ${line}`) })) as { ref: string };
  const sandbox = await podmanSandboxConf(ref, containersConf, log, podmanEnv);
  if (!sandbox.ok) {
    throw new Error(`podman cannot run a container on this machine, even with the tests' own containers.conf (${containersConf}): ${sandbox.problem}`);
  }
  project.provide('podmanTestImage', ref);
  project.provide('podmanContainersConf', containersConf);
  project.provide('podmanStorageConf', storageConf);
}
