/**
 * docker.daemon: the container CLI is installed and its daemon answers. Without it nothing
 * can be launched; the fix depends on which of the three usual reasons the CLI gave.
 */
import { defineCheck, type Judgement } from '../src/check.js';
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
        return { status: 'fail', summary: `${cli} is installed but \`podman info\` failed: ${said}`, fix: 'run `podman info` and fix what it reports (for rootless Podman: subuid/subgid ranges, `podman system migrate`)', measured };
      }
      return { status: 'fail', summary: `${cli} is installed but the daemon does not answer: ${said}`, fix: daemonFix(said), measured };
    }
    const cli = runtime.cliVersion ? `${runtime.runtime} ${runtime.cliVersion}` : runtime.runtime;
    // Podman has no daemon: `podman info` answering is the whole test.
    const summary = runtime.runtime === 'docker' ? `${cli}, daemon ${runtime.daemonVersion ?? '(version unknown)'} answers` : `${cli} answers (OCI runtime ${runtime.defaultRuntime ?? 'unknown'})`;
    return { status: 'pass', summary, measured };
  },
});

function daemonFix(message: string): string {
  if (/permission denied/i.test(message)) {
    return 'add your user to the docker group: sudo usermod -aG docker "$USER", then log out and in again (or run newgrp docker)';
  }
  if (/Cannot connect to the Docker daemon|Is the docker daemon running|no such file or directory|connection refused/i.test(message)) {
    return 'start the daemon: sudo systemctl start docker (where systemd is absent: sudo dockerd > /var/log/dockerd.log 2>&1 &); if DOCKER_HOST is set, check that it names a running daemon';
  }
  return 'run `docker info` and fix what it reports; then start the daemon: sudo systemctl start docker';
}
