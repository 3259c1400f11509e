/**
 * What podman-backed tests need: the test image in podman's storage and the tests' own
 * containers.conf (sandbox settings only; see podman-sandbox.ts), or null when the run was
 * told to skip podman (GUARD_DOCTOR_SKIP_PODMAN=1). Use with describe.skipIf.
 */
import { inject } from 'vitest';

export function podmanImage(): string | null {
  return inject('podmanTestImage') ?? null;
}

/** Environment for podman and for the doctor when it runs podman: the tests' own podman configuration files. */
export function podmanEnv(): Record<string, string> {
  const conf = inject('podmanContainersConf');
  const storage = inject('podmanStorageConf');
  return { ...(conf ? { CONTAINERS_CONF: conf } : {}), ...(storage ? { CONTAINERS_STORAGE_CONF: storage } : {}) };
}

export const skipPodman: boolean = podmanImage() === null;
