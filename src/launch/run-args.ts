/**
 * The `docker run` (or `podman run`) command of `up`, built from the settings as an argument
 * array, and its copy-pasteable rendering for a POSIX shell with every `--env` value hidden.
 *
 * `--env` values never appear on the command line: the array carries `--env KEY` and the value
 * goes into the container CLI's own environment (docker and podman read `--env KEY` from
 * there), so they do not show in `ps` either. The rendering prints `--env KEY` the same way,
 * after a comment saying to export the value first. Variables that would change how the CLI
 * itself runs (PATH, HOME, DOCKER_HOST, ...) cannot travel that way; they go on the command
 * line as KEY=VALUE and are printed as KEY=***.
 */
import type { Settings } from '../settings.js';
import { shellQuote } from '../report/format.js';
import { MODELSCOPE } from '../data/hub.js';

/** Labels `up` puts on its containers, so it can recognise them later. */
export const LABEL = {
  managed: 'guard-doctor.managed',
  mount: 'guard-doctor.mount',
  model: 'guard-doctor.model',
  server: 'guard-doctor.server',
} as const;

/**
 * The flag the doctor's own follow-up commands (down, diagnose) need to reach the same
 * runtime: nothing for docker, the default; ` --runtime podman` for podman.
 */
export function runtimeFlag(runtime: 'docker' | 'podman'): string {
  return runtime === 'docker' ? '' : ` --runtime ${runtime}`;
}

/** The port the server listens on inside the container. */
export const CONTAINER_PORT = { vllm: 8000, web: 7860 } as const;

/** Variables the container CLI reads for itself: never set them in its environment. */
const CLI_OWN_ENV = /^(PATH|HOME|TMPDIR|USER|SHELL|LD_[A-Z0-9_]*|DOCKER_[A-Z0-9_]*|CONTAINER_[A-Z0-9_]*|CONTAINERS_[A-Z0-9_]*|XDG_[A-Z0-9_]*|REGISTRY_AUTH_FILE)$/;

export interface RunCommand {
  cli: 'docker' | 'podman';
  /** Arguments after the CLI name, in groups that belong together (for the rendering). */
  groups: string[][];
  /** The same groups as printed: values of inline --env pairs replaced by ***. */
  displayGroups: string[][];
  /** Flat argument array for run(). */
  args: string[];
  /** Environment for the CLI process: the `--env` values, read by the CLI by name. */
  env: Record<string, string>;
  /** The keys the CLI reads from its environment (`--env KEY`). */
  envKeys: string[];
  /** The keys passed inline (`--env KEY=VALUE`, printed as KEY=***). */
  inlineEnvKeys: string[];
}

/** `-v HOST:CONTAINER:ro`, keeping the user's options (z, Z, ...) and read-only unless they said rw. */
export function mountArgs(hostPath: string, containerPath: string, mode: string | undefined): string[] {
  const options = (mode ?? '').split(',').filter(Boolean);
  if (!options.includes('ro') && !options.includes('rw')) options.push('ro');
  // -v splits at colons; a host path holding one needs the --mount syntax (CSV, so quoted).
  if (hostPath.includes(':') || hostPath.includes(',')) {
    const csv = (field: string) => `"${field.replace(/"/g, '""')}"`;
    const parts = ['type=bind', csv(`source=${hostPath}`), csv(`target=${containerPath}`)];
    if (options.includes('ro')) parts.push('readonly');
    return ['--mount', parts.join(',')];
  }
  return ['-v', `${hostPath}:${containerPath}:${options.join(',')}`];
}

export function publishArg(publishHost: string, hostPort: number, containerPort: number): string {
  const host = publishHost.includes(':') && !publishHost.startsWith('[') ? `[${publishHost}]` : publishHost;
  return `${host}:${hostPort}:${containerPort}`;
}

export function buildRunCommand(settings: Settings): RunCommand {
  const cli = settings.runtime;
  const groups: string[][] = [['run', '-d', '--name', settings.name]];
  const labels = [`${LABEL.managed}=true`, `${LABEL.model}=${settings.model.name}`, `${LABEL.server}=${settings.server}`];
  if (settings.mount) labels.push(`${LABEL.mount}=${settings.mount.hostPath}:${settings.mount.containerPath}`);
  else if (settings.hub) labels.push(`${LABEL.mount}=${settings.hub.mounts[0]!.hostPath}:${settings.hub.mounts[0]!.containerPath}`);
  groups.push(labels.flatMap((l) => ['--label', l]));

  if (!settings.cpu) {
    // A MIG device is named "GPU:MIG" or by its MIG UUID, as the NVIDIA runtime and CDI name it.
    const mig = settings.migDevice ?? null;
    const device = mig === null ? settings.gpu : mig.startsWith('MIG-') ? mig : `${settings.gpu}:${mig}`;
    if (cli === 'podman') groups.push(['--device', `nvidia.com/gpu=${device === null ? 'all' : device}`]);
    else groups.push(['--gpus', device === null ? 'all' : `device=${device}`]);
  }
  // vLLM's workers share tensors through /dev/shm; Docker's 64 MiB default is far too small.
  if (settings.server === 'vllm') groups.push(['--ipc=host']);
  groups.push(['-p', publishArg(settings.publishHost, settings.port, CONTAINER_PORT[settings.server])]);
  if (settings.mount) groups.push(mountArgs(settings.mount.hostPath, settings.mount.containerPath, settings.mount.mode));
  // A hub source: the user's cache goes in read-write, so the server's download is kept for the next launch.
  for (const m of settings.hub?.mounts ?? []) groups.push(mountArgs(m.hostPath, m.containerPath, 'rw'));

  const env: Record<string, string> = {};
  const displayGroups = groups.map((g) => [...g]);
  const inlineEnvKeys: string[] = [];
  const envGroups: { real: string[]; shown: string[] }[] = [];
  // HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE from the doctor's environment, unless --env sets them.
  const given = new Set(settings.env.map((e) => e.key));
  const passed = (settings.hub?.passEnv ?? []).filter((e) => !given.has(e.key));
  for (const { key, value } of [...settings.env, ...passed]) {
    if (CLI_OWN_ENV.test(key)) {
      inlineEnvKeys.push(key);
      envGroups.push({ real: ['--env', `${key}=${value}`], shown: ['--env', `${key}=***`] });
    } else {
      env[key] = value;
      envGroups.push({ real: ['--env', key], shown: ['--env', key] });
    }
  }
  if (settings.hub?.source === 'modelscope') envGroups.push({ real: ['--env', `${MODELSCOPE.serverEnv.key}=${MODELSCOPE.serverEnv.value}`], shown: ['--env', `${MODELSCOPE.serverEnv.key}=${MODELSCOPE.serverEnv.value}`] });
  for (const g of envGroups) {
    groups.push(g.real);
    displayGroups.push(g.shown);
  }

  // `vllm serve MODEL`: the image's entrypoint is `vllm serve`, and the model goes positionally
  // (`--model` prints a deprecation notice since 0.11 and is to be removed in 0.13).
  const serverArgs =
    settings.server === 'vllm'
      ? [
          // A hub id goes positionally too (`vllm serve Qwen/X`, FACTS: --model is deprecated); the server downloads it.
          settings.hub ? settings.hub.repoId : settings.containerModelDir,
          '--served-model-name', settings.model.name,
          '--max-model-len', String(settings.maxModelLen),
          '--gpu-memory-utilization', String(settings.gpuMemoryUtilization),
        ]
      : [];
  groups.push([settings.image, ...serverArgs, ...settings.extraArgs]);
  displayGroups.push([settings.image, ...serverArgs, ...settings.extraArgs]);

  return { cli, groups, displayGroups, args: groups.flat(), env, envKeys: Object.keys(env), inlineEnvKeys };
}

/** The command as the user can paste it into a shell; `--env` values are never in it. */
export function renderCommand(command: Pick<RunCommand, 'cli' | 'displayGroups' | 'envKeys' | 'inlineEnvKeys'>): string {
  const lines: string[] = [];
  if (command.envKeys.length) {
    lines.push(`# --env values are not shown: ${command.cli} reads them from the environment, so export ${command.envKeys.join(', ')} first`);
  }
  if (command.inlineEnvKeys.length) {
    lines.push(`# replace *** with the values of ${command.inlineEnvKeys.join(', ')} (they cannot come from the environment: ${command.cli} reads them for itself)`);
  }
  const body = command.displayGroups.map((group) => group.map(shellQuote).join(' '));
  lines.push(`${command.cli} ${body.join(' \\\n    ')}`);
  return lines.join('\n');
}

/** Hides every `--env` value in text the doctor prints (log lines, server answers). */
export function redactor(values: readonly string[]): (text: string) => string {
  // Very short values ("0", "1") are not secrets and would blank out ordinary log text.
  const secrets = [...new Set(values.filter((v) => v.length >= 4))].sort((a, b) => b.length - a.length);
  if (secrets.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join('***');
    return out;
  };
}
