/**
 * docker.gpu: can the container runtime hand a GPU to a container? Docker's `--gpus` needs
 * the NVIDIA Container Toolkit (its hook, or the nvidia runtime registered with the daemon);
 * CDI (`--device nvidia.com/gpu=all`) needs an NVIDIA CDI spec the runtime reads. Podman
 * knows only CDI. Without any of these `docker run --gpus all` fails with
 * `could not select device driver "" with capabilities: [[gpu]]`.
 */
import { defineCheck, type Judgement } from '../src/judge.js';
import type { RuntimeInfo } from '../src/facts.js';
import { NVIDIA_CDI_KIND } from '../src/probes/runtime.js';

const TOOLKIT_INSTALL = 'install the NVIDIA Container Toolkit (sudo apt-get install -y nvidia-container-toolkit, from NVIDIA\'s apt repository: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html)';
const DOCKER_CONFIGURE = 'sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker';
const CDI_GENERATE = 'sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml';

export const dockerGpu = defineCheck({
  id: 'docker.gpu',
  title: 'GPU access from containers',
  needs: ['runtime'],
  skip: (settings) => (settings.cpu ? '--cpu: no GPU is requested from the container runtime' : null),
  judge({ runtime }, settings): Judgement {
    const measured = {
      runtime: runtime.runtime,
      runtimes: runtime.runtimes,
      defaultRuntime: runtime.defaultRuntime,
      cdiSpecDirs: runtime.cdiSpecDirs,
      cdiNvidiaDevices: runtime.cdiNvidiaDevices,
      nvidiaHookPath: runtime.nvidiaHookPath,
    };
    if (!runtime.cliInstalled || !runtime.daemonAnswering) {
      return {
        status: 'fail',
        summary: `cannot hand a GPU to a container: ${runtime.cliInstalled ? `the ${runtime.runtime} daemon does not answer` : `${runtime.runtime} is not installed`} (see docker.daemon)`,
        fix: 'fix docker.daemon first, then run guard-doctor check again',
        measured,
      };
    }
    return runtime.runtime === 'podman' ? judgePodman(runtime, measured, settings.gpu) : judgeDocker(runtime, measured);
  },
});

function judgeDocker(runtime: RuntimeInfo, measured: Record<string, unknown>): Judgement {
  const registered = runtime.runtimes.length > 0 ? runtime.runtimes.join(', ') : 'none';
  if (runtime.runtimes.includes('nvidia')) {
    const isDefault = runtime.defaultRuntime === 'nvidia' ? ' (the default runtime)' : '';
    return { status: 'pass', summary: `the nvidia runtime is registered with Docker${isDefault}; --gpus all works`, measured };
  }
  if (runtime.nvidiaHookPath) {
    return { status: 'pass', summary: `${runtime.nvidiaHookPath} is installed, so Docker's --gpus all works (registered runtimes: ${registered})`, measured };
  }
  const cdiEnabled = runtime.cdiSpecDirs.length > 0;
  if (cdiEnabled && runtime.cdiNvidiaDevices.length > 0) {
    return { status: 'pass', summary: `NVIDIA CDI devices ${runtime.cdiNvidiaDevices.join(', ')} are available; run with --device nvidia.com/gpu=all`, measured };
  }
  if (runtime.cdiNvidiaDevices.length > 0) {
    return {
      status: 'fail',
      summary: `an NVIDIA CDI spec exists (${runtime.cdiNvidiaDevices.join(', ')}) but Docker${runtime.daemonVersion ? ` ${runtime.daemonVersion}` : ''} does not read CDI specs, and no nvidia runtime is registered (runtimes: ${registered})`,
      fix: `register the NVIDIA runtime with Docker: ${DOCKER_CONFIGURE}`,
      measured,
    };
  }
  return {
    status: 'fail',
    summary: `Docker cannot hand a GPU to a container: no nvidia runtime (runtimes: ${registered}), no nvidia-container-runtime-hook, and no NVIDIA CDI spec in ${cdiDirsText(runtime)}`,
    fix: `${TOOLKIT_INSTALL}, then ${DOCKER_CONFIGURE} (or, for CDI: ${CDI_GENERATE})`,
    measured,
  };
}

function judgePodman(runtime: RuntimeInfo, measured: Record<string, unknown>, gpu: number | null): Judgement {
  const found = runtime.cdiSources && runtime.cdiSources.length > 0 ? ` (from ${runtime.cdiSources.join(' and ')})` : '';
  if (runtime.cdiNvidiaDevices.length === 0) {
    return {
      status: 'fail',
      summary: `Podman hands GPUs over only through CDI, and there is no NVIDIA CDI spec in ${cdiDirsText(runtime)} (nvidia-ctk cdi list names none, or is not installed)`,
      fix: `${TOOLKIT_INSTALL}, then ${CDI_GENERATE}; check with nvidia-ctk cdi list; the doctor runs the container with --device nvidia.com/gpu=all`,
      measured,
    };
  }
  // up asks podman for exactly this device; podman refuses a name no spec declares.
  const wanted = `${NVIDIA_CDI_KIND}=${gpu === null ? 'all' : gpu}`;
  if (!runtime.cdiNvidiaDevices.includes(wanted)) {
    return {
      status: 'fail',
      summary: `the NVIDIA CDI spec${found} declares ${runtime.cdiNvidiaDevices.join(', ')} but not ${wanted}, which the run asks for${gpu === null ? '' : ` (--gpu ${gpu})`}`,
      fix: gpu === null ? `regenerate the spec so it has the all device: ${CDI_GENERATE}` : `pick a GPU the spec declares with --gpu, or regenerate the spec after a GPU change: ${CDI_GENERATE}`,
      measured: { ...measured, wantedDevice: wanted },
    };
  }
  return { status: 'pass', summary: `NVIDIA CDI devices ${runtime.cdiNvidiaDevices.join(', ')} are available to Podman${found}; the run uses --device ${wanted}`, measured: { ...measured, wantedDevice: wanted } };
}

function cdiDirsText(runtime: RuntimeInfo): string {
  const dirs = runtime.cdiSpecDirs.length > 0 ? runtime.cdiSpecDirs : ['/etc/cdi', '/var/run/cdi'];
  return dirs.join(' or ');
}
