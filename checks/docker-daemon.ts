/**
 * docker.daemon: the container CLI is installed and its daemon answers. Without it nothing
 * can be launched; the fix depends on which of the three usual reasons the CLI gave.
 */
import { defineCheck, type Judgement } from '../src/judge.js';
import type { RuntimeInfo } from '../src/facts.js';

/** How to install each runtime's CLI (Debian/Ubuntu package names; other systems: the docs). */
const INSTALL: Record<RuntimeInfo['runtime'], string> = {
  docker: 'install Docker: sudo apt-get install -y docker.io (Debian/Ubuntu), or see https://docs.docker.com/engine/install/',
  podman: 'install Podman: sudo apt-get install -y podman (Debian/Ubuntu), or see https://podman.io/docs/installation',
};

export const dockerDaemon = defineCheck({
  id: 'docker.daemon',
  title: 'Container runtime',
  needs: ['runtime'],
  judge({ runtime }): Judgement {
    const measured = { runtime: runtime.runtime, cliVersion: runtime.cliVersion, daemonVersion: runtime.daemonVersion };
    if (!runtime.cliInstalled) {
      return { status: 'fail', summary: `${runtime.runtime} is not installed (not found on PATH)`, fix: INSTALL[runtime.runtime], measured };
    }
    if (!runtime.daemonAnswering) {
      const said = runtime.daemonMessage ?? 'no answer';
      const cli = `${runtime.runtime}${runtime.cliVersion ? ` ${runtime.cliVersion}` : ''}`;
      if (runtime.runtime === 'podman') {
        // Podman's own error usually names a limit of this machine; the probe looked it up in the diagnosis.
        const known = runtime.daemonFinding ?? null;
        return { status: 'fail', summary: `${cli} is installed but \`podman info\` failed: ${said}`, fix: known?.fix ?? 'run `podman info` and fix what it reports (for rootless Podman: subuid/subgid ranges, `podman system migrate`)', measured: known ? { ...measured, finding: known.id } : measured };
      }
      return { status: 'fail', summary: `${cli} is installed but the daemon does not answer: ${said}`, fix: daemonFix(said), measured };
    }
    const cli = runtime.cliVersion ? `${runtime.runtime} ${runtime.cliVersion}` : runtime.runtime;
    if (runtime.runtime === 'podman') return judgePodman(runtime, cli, measured);
    return { status: 'pass', summary: `${cli}, daemon ${runtime.daemonVersion ?? '(version unknown)'} answers`, measured };
  },
});

/** The fix for rootless podman without subordinate ids (podman's own advice: subuid/subgid, then migrate). */
export const SUBUID_FIX = 'give the user subordinate ids: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER", then podman system migrate';
/** The fix for a rootless podman without a user-mode network helper (Podman 4 uses slirp4netns, Podman 5 pasta). */
export const ROOTLESS_NET_FIX = 'install the user-mode network helper: sudo apt-get install -y slirp4netns (Podman 5: passt)';

/**
 * Podman has no daemon: `podman info` answering is the test. A rootless podman also needs
 * subordinate uid ranges (without them it falls back to a single mapping and many images
 * cannot be unpacked) and a user-mode network helper to publish ports.
 */
function judgePodman(runtime: RuntimeInfo, cli: string, base: Record<string, unknown>): Judgement {
  const host = runtime.podman;
  const measured = { ...base, ...(host ? { podman: host } : {}), ...(runtime.daemonMessage ? { said: runtime.daemonMessage } : {}) };
  const mode = host ? `${host.rootless ? 'rootless' : 'rootful'}, OCI runtime ${runtime.defaultRuntime ?? 'unknown'}, storage ${host.graphDriver ?? 'unknown'}${host.graphRoot ? ` in ${host.graphRoot}` : ''}` : `OCI runtime ${runtime.defaultRuntime ?? 'unknown'}`;
  if (host?.rootless) {
    if (host.uidMapSize !== null && host.uidMapSize <= 1) {
      return {
        status: 'warn',
        summary: `${cli} answers (${mode}) but maps only your own uid: no subordinate uid ranges${runtime.daemonMessage ? ` (podman: ${runtime.daemonMessage})` : ''}; images with files owned by other users cannot be unpacked`,
        fix: SUBUID_FIX,
        measured,
      };
    }
    if (host.rootlessNetwork === null) {
      return { status: 'warn', summary: `${cli} answers (${mode}) but has no user-mode network helper, so it cannot publish the server's port`, fix: ROOTLESS_NET_FIX, measured };
    }
  }
  return { status: 'pass', summary: `${cli} answers (${mode})`, measured };
}

function daemonFix(message: string): string {
  if (/permission denied/i.test(message)) {
    return 'add your user to the docker group: sudo usermod -aG docker "$USER", then log out and in again (or run newgrp docker)';
  }
  if (/Cannot connect to the Docker daemon|Is the docker daemon running|no such file or directory|connection refused/i.test(message)) {
    return 'start the daemon: sudo systemctl start docker (where systemd is absent: sudo dockerd > /var/log/dockerd.log 2>&1 &); if DOCKER_HOST is set, check that it names a running daemon';
  }
  return 'run `docker info` and fix what it reports; then start the daemon: sudo systemctl start docker';
}
