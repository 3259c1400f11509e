/**
 * What Docker-backed tests need: the test image built by test/global-setup.ts, or null when
 * the run was told to skip Docker (GUARD_DOCTOR_SKIP_DOCKER=1). Use with describe.skipIf.
 */
import { inject } from 'vitest';

export function testImage(): string | null {
  return inject('guardTestImage') ?? process.env.GUARD_TEST_IMAGE ?? null;
}

/** True when the Docker tests must be skipped. */
export const skipDocker: boolean = testImage() === null;
