/**
 * docker.host: Docker sends its commands to another machine (DOCKER_HOST=tcp://..., or a
 * docker context), which the doctor cannot reach over SSH. The container would start there,
 * while every GPU, model-folder, memory and port verdict describes this machine: so say it.
 * (An ssh:// endpoint is judged for real: the doctor goes there over SSH, as with --host.)
 */
import { defineCheck, type Judgement } from '../src/judge.js';

export const dockerHost = defineCheck({
  id: 'docker.host',
  title: 'Docker daemon is on the judged machine',
  needs: [],
  judge(_facts, settings): Judgement {
    const endpoint = settings.foreignDocker;
    if (!endpoint) return { status: 'pass', summary: "docker talks to this machine's own daemon" };
    return {
      status: 'fail',
      summary: `${endpoint.source} points docker at ${endpoint.host}: a container would start there, but these verdicts describe this machine, and guard-doctor cannot judge that one from here`,
      fix: 'run guard-doctor on that machine, or reach it over SSH: guard-doctor check --host <its ssh name> (or DOCKER_HOST=ssh://user@host)',
      measured: { source: endpoint.source, dockerHost: endpoint.host },
    };
  },
});
