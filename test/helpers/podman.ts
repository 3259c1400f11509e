/**
 * What podman-backed tests need: the test image in podman's storage and the tests' own
 * containers.conf (sandbox settings only; see podman-sandbox.ts), or null when the run was
 * told to skip podman (GUARD_DOCTOR_SKIP_PODMAN=1). Use with describe.skipIf.
 */
import { inject } from 'vitest';

export function podmanImage(): string | null {
  return inject('podmanTestImage') ?? null;
}

/** Environment for podman and for the doctor when it runs podman: CONTAINERS_CONF only. */
export function podmanEnv(): Record<string, string> {
  const conf = inject('podmanContainersConf');
  return conf ? { CONTAINERS_CONF: conf } : {};
}

export const skipPodman: boolean = podmanImage() === null;
