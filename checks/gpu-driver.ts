/**
 * gpu.driver: an NVIDIA driver answers, every GPU is reachable, and the serving image will start
 * on this driver. Where the image's start gate is known (its NVIDIA_REQUIRE_CUDA, locally or
 * from the known-image table) it is judged as nvidia-container-cli judges it, and a refusal is
 * worded in nvidia-container-cli's own words; otherwise NVIDIA's driver table decides.
 */
import { defineCheck, type Judgement } from '../src/judge.js';
import type { GpuInfo, GpuInventory } from '../src/facts.js';
import type { Settings } from '../src/settings.js';
import { compareVersions, requiredDriver, type DriverRequirement } from '../src/data/cuda.js';
import { isConsumerBrand } from '../src/data/gpus.js';
import { requiredCudaOf } from '../src/nvidia-require.js';
import { CPU_SKIP_REASON, containerGpus } from '../src/gpu-choice.js';
import { describeCudaSource, imageRef, judgeGate, resolveImageCuda, resolveImageGate, startableImages, type ImageGate } from '../src/image-gate.js';

const INSTALL_HINT = "with your distribution's nvidia-driver package (Ubuntu: `sudo ubuntu-drivers install`), reboot, and check that `nvidia-smi` answers; or serve on CPU with --cpu";
type Inventory = Extract<GpuInventory, { state: 'ok' }>;

export const gpuDriver = defineCheck({
  id: 'gpu.driver',
  title: 'NVIDIA driver',
  needs: ['gpus', 'image'],
  skip: (settings) => (settings.cpu ? CPU_SKIP_REASON : null),
  judge({ gpus, image }, settings) {
    const cuda = resolveImageCuda(settings, image);
    const where = describeCudaSource(cuda, settings);
    const need = requiredDriver(cuda.version);
    const needText = need ? `driver >= ${need.minDriver}` : 'a driver that supports it';
    const driverWanted = need ? `the NVIDIA driver (>= ${need.minDriver} for CUDA ${need.cuda})` : 'the NVIDIA driver';
    const base = { driverVersion: null, cuda: cuda.version, cudaSource: cuda.source, requiredDriver: need?.minDriver ?? null };

    switch (gpus.state) {
      case 'no-nvidia-smi':
        return { status: 'fail', summary: `no NVIDIA driver: ${gpus.message}; ${where} needs ${needText}`, fix: `install ${driverWanted} ${INSTALL_HINT}`, measured: base };
      case 'no-driver':
        return {
          status: 'fail',
          summary: `no NVIDIA driver answers: ${gpus.message}`,
          fix: `load or install ${driverWanted} ${INSTALL_HINT}`,
          measured: base,
        };
      case 'nvml-mismatch': {
        const versions = [gpus.libraryVersion ? `library ${gpus.libraryVersion}` : null, gpus.kernelVersion ? `kernel module ${gpus.kernelVersion}` : null].filter(Boolean).join(', ');
        return {
          status: 'fail',
          summary: `NVIDIA driver/library version mismatch: the driver was updated but the old kernel module is still loaded${versions ? ` (${versions})` : ''}; nvidia-smi: ${gpus.message}`,
          fix: 'reboot, or reload the nvidia kernel modules (`sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia`, with nothing using the GPU); the driver is installed, do not reinstall it',
          measured: { ...base, libraryVersion: gpus.libraryVersion, kernelModuleVersion: gpus.kernelVersion },
        };
      }
      case 'no-devices':
        return {
          status: 'fail',
          summary: `the NVIDIA driver is loaded but sees no usable GPU: ${gpus.message}`,
          fix: 'check that the GPU is passed through to this machine (VM: PCI passthrough; WSL: a current Windows driver and `wsl --update`), seated and powered (`lspci | grep -i nvidia`), or serve on CPU with --cpu',
          measured: base,
        };
      case 'unreadable':
        return {
          status: 'fail',
          summary: `nvidia-smi did not answer usefully: ${gpus.message}`,
          fix: 'run `nvidia-smi` by hand; a GPU that "fell off the bus" or an "Unknown Error" needs a reset or a reboot',
          measured: { ...base, cuda: cuda.version },
        };
      case 'ok':
        return judgeDriver(gpus, containerGpus(gpus.gpus, settings), settings, resolveImageGate(settings, image), cuda, where, need);
    }
  },
});

function judgeDriver(
  gpus: Inventory,
  visible: readonly GpuInfo[],
  settings: Settings,
  gate: ImageGate,
  cuda: ReturnType<typeof resolveImageCuda>,
  where: string,
  need: DriverRequirement | null,
): Judgement {
  const found = gpus.driverVersion;
  const driverCuda = gpus.cudaVersion;
  const cudaFrom = gpus.cudaVersionSource ?? 'nvidia-smi';
  const measured: Record<string, unknown> = {
    driverVersion: found,
    driverCuda,
    driverCudaSource: cudaFrom,
    cuda: cuda.version,
    cudaSource: cuda.source,
    requiredDriver: need?.minDriver ?? null,
    compatibilityFloor: need?.compatFloor ?? null,
    gate: gate.disabled ? 'disabled' : gate.requirements.length > 0 ? gate.source : 'unknown',
    ...(gpus.smiCalls !== undefined ? { nvidiaSmiCalls: gpus.smiCalls } : {}),
  };
  const details = [...gpus.notes];
  if (cuda.source === 'default') details.push(`image ${settings.image} is not known and not present locally: its CUDA version and start gate are unknown, so CUDA ${cuda.version} is assumed; give --cuda X.Y to be exact`);
  if (need && need.tableCuda !== need.cuda && !need.tableCuda.startsWith(need.cuda)) details.push(`CUDA ${need.cuda} is not in the driver table; using CUDA ${need.tableCuda}'s minimum, which may understate it`);
  if (gate.disabled) details.push('the image sets NVIDIA_DISABLE_REQUIRE: the container runtime skips its start gate, so the driver table decides');
  const cudaWord = driverCuda ? ` (${cudaFrom === 'derived' ? 'CUDA' : 'supports CUDA up to'} ${driverCuda}${cudaFrom === 'derived' ? ' by its version' : ''})` : '';
  const foundText = `driver ${found}${cudaWord}`;

  const lost = gpus.lostGpus ?? [];
  if (lost.length > 0) {
    measured.lostGpus = lost.map((l) => l.id);
    return {
      status: 'fail',
      summary: `nvidia-smi cannot reach ${lost.length === 1 ? 'a GPU' : `${lost.length} GPUs`}: ${lost.map((l) => l.line).join('; ')} (a GPU fallen off the bus; on such hosts new CUDA contexts often fail on every GPU, the chosen one too)`,
      fix: 'look for Xid errors in `sudo dmesg`, then reset the GPU (`sudo nvidia-smi -r -i <index>` with nothing using it) or reboot; reseat or replace the card if it keeps falling off',
      measured,
      details,
    };
  }
  if (gpus.cudaVersionSource === 'unreadable') {
    measured.driverCudaText = gpus.cudaVersionText ?? null;
    return {
      status: 'fail',
      summary: `nvidia-smi reports "CUDA Version: ${gpus.cudaVersionText ?? '?'}" with driver ${found ?? '(unknown)'}: the driver's CUDA support cannot be read, so a container cannot be assumed to run CUDA here`,
      fix: 'on WSL2: install a current NVIDIA Windows driver and run `wsl --update`, and do not install a Linux driver inside WSL; on a vGPU guest: install the guest driver that matches the host and check its license (`nvidia-smi -q | grep -i licen`); then `nvidia-smi` must show a CUDA version',
      measured,
      details,
    };
  }
  if (!found) {
    return {
      status: 'error',
      summary: `nvidia-smi did not report the driver version; ${where} needs ${need ? `driver >= ${need.minDriver}` : 'a driver that supports it'}`,
      fix: 'run `nvidia-smi` by hand and compare its "Driver Version" with the requirement',
      measured,
      details,
    };
  }

  if (gate.requirements.length > 0 && driverCuda === null) {
    return {
      status: 'warn',
      summary: `${foundText}: the CUDA version this driver supports could not be read or derived, so whether ${settings.image} starts (its NVIDIA_REQUIRE_CUDA) cannot be told`,
      fix: 'run `nvidia-smi` by hand and compare its "CUDA Version" with the image\'s NVIDIA_REQUIRE_CUDA (`docker image inspect`)',
      measured,
      details,
    };
  }
  if (gate.requirements.length > 0) return judgeByGate(gpus, visible, settings, gate, cuda, need, found, foundText, measured, details);
  return judgeByTable(gpus, settings, gate, where, need, found, foundText, driverCuda, measured, details);
}

/** The image's own start gate decides: the image will or will not start, whatever the driver table says. */
function judgeByGate(
  gpus: Inventory,
  visible: readonly GpuInfo[],
  settings: Settings,
  gate: ImageGate,
  cuda: ReturnType<typeof resolveImageCuda>,
  need: DriverRequirement | null,
  found: string,
  foundText: string,
  measured: Record<string, unknown>,
  details: string[],
): Judgement {
  const { result, gpu } = judgeGate(gate.requirements, gpus, visible);
  const imageText = `${settings.image}${cuda.source === 'flag' ? '' : ` (CUDA ${cuda.version})`}`;
  const gateFrom = gate.source === 'image' ? "the image's NVIDIA_REQUIRE_CUDA" : 'its NVIDIA_REQUIRE_CUDA (known-image table)';
  const gpuText = gpu ? `GPU ${gpu.index} (${gpu.name}, brand ${gpu.brand ?? 'unknown'}${gpu.brandSource === 'name' ? ' by its name' : ''})` : 'this host';
  if (gpu?.brandSource === 'name') details.push(`the brand of ${gpu.name} was not read from nvidia-smi; "${gpu.brand}" follows from its name`);

  if (!result.ok && result.invalid) {
    return {
      status: 'fail',
      summary: `${settings.image} will not start: nvidia-container-cli: requirement error: invalid expression (${gateFrom} cannot be read)`,
      fix: 'use an image whose NVIDIA_REQUIRE_CUDA is well formed, or set NVIDIA_DISABLE_REQUIRE=1 in it',
      measured,
      details,
    };
  }
  if (!result.ok) {
    measured.unsatisfied = result.unsatisfied;
    const wantedCuda = requiredCudaOf(gate.requirements.join(' ')) ?? cuda.version;
    const gateFloor = requiredDriver(wantedCuda)?.minDriver ?? null;
    const driverNeeded = [need?.minDriver, gateFloor].filter((v): v is string => Boolean(v)).sort(compareVersions).at(-1) ?? null;
    measured.requiredDriver = driverNeeded;
    const others = startableImages(gpus, visible, settings.server).filter((i) => imageRef(i) !== settings.image);
    const why = wantedCuda === cuda.version || !need ? `CUDA ${wantedCuda} needs it` : `the gate asks cuda>=${wantedCuda}, and the image's CUDA ${cuda.version} needs ${need.minDriver}`;
    const fixes = [driverNeeded ? `update the NVIDIA driver to ${driverNeeded} or newer (${why})` : 'update the NVIDIA driver'];
    if (others[0]) {
      fixes.push(`or use --image ${imageRef(others[0])} (CUDA ${others[0].cudaVersion}), which this driver can start`);
      measured.suggestedImage = imageRef(others[0]);
    } else if (gpu && isConsumerBrand(gpu.brand) && settings.server === 'vllm') {
      details.push('no known vLLM image that serves Qwen3Guard (vLLM 0.9.0 and later) starts on this driver: they are all built on CUDA 12.8, and GeForce/TITAN cards get no CUDA forward compatibility');
    }
    return {
      status: 'fail',
      summary: `${foundText} cannot start ${imageText} on ${gpuText}: nvidia-container-cli: requirement error: ${result.message}`,
      fix: fixes.join(', '),
      measured,
      details,
    };
  }

  const admittedBy = result.alternative;
  measured.admittedBy = admittedBy;
  if (admittedBy && !/^cuda/i.test(admittedBy) && /(^|,)driver/i.test(admittedBy)) {
    const native = [need?.minDriver, requiredDriver(requiredCudaOf(gate.requirements.join(' ')) ?? cuda.version)?.minDriver].filter((v): v is string => Boolean(v)).sort(compareVersions).at(-1);
    return {
      status: 'warn',
      summary: `${foundText} starts ${imageText} on ${gpuText} only through CUDA forward compatibility: ${gateFrom} admits ${admittedBy} (the image's compat libraries; NVIDIA supports this on datacenter and workstation GPUs)`,
      fix: `it runs as it is; to run CUDA ${cuda.version} natively, update the NVIDIA driver to ${native ?? 'one that supports it'} or newer (a driver update on another branch would stop the compat libraries from working: "Error 803: system has unsupported display driver / cuda driver combination")`,
      measured,
      details,
    };
  }
  if (need && compareVersions(found, need.minDriver) < 0) {
    return {
      status: 'warn',
      summary: `${foundText} passes the image's start gate${admittedBy ? ` (${admittedBy})` : ''} but is older than the ${need.minDriver} that ${cuda.source === 'flag' ? `CUDA ${cuda.version}` : `${settings.image}'s CUDA ${cuda.version}`} needs: it runs under minor-version compatibility`,
      fix: `update the NVIDIA driver to ${need.minDriver} or newer: under minor-version compatibility kernels shipped only as PTX cannot be JIT-compiled and newer CUDA features are missing`,
      measured,
      details,
    };
  }
  return {
    status: 'pass',
    summary: `${foundText}; ${imageText} starts: ${gateFrom} is satisfied${admittedBy ? ` (${admittedBy})` : ''}${need ? `, and ${need.minDriver} or newer is what CUDA ${need.cuda} needs` : ''}`,
    measured,
    details,
  };
}

/** No start gate known (or switched off): NVIDIA's driver table and minor-version compatibility decide. */
function judgeByTable(
  gpus: Inventory,
  settings: Settings,
  gate: ImageGate,
  where: string,
  need: DriverRequirement | null,
  found: string,
  foundText: string,
  driverCuda: string | null,
  measured: Record<string, unknown>,
  details: string[],
): Judgement {
  void gpus;
  const unknownGate = gate.disabled ? '' : `; the start gate of ${settings.image} is unknown`;
  if (!need) {
    return {
      status: 'warn',
      summary: `${foundText} found; ${where} is not in the driver table, so its need is unknown`,
      fix: 'give the CUDA version the image was built with, e.g. --cuda 12.8',
      measured,
      details,
    };
  }
  const floor = need.compatFloor ?? need.minDriver;
  if (compareVersions(found, floor) < 0) {
    const compat = need.compatFloor ? ` (>= ${need.compatFloor} under minor-version compatibility)` : '';
    const olderImage = driverCuda ? `, or use an image built for CUDA ${driverCuda} or older (--image, --cuda)` : '';
    return {
      status: 'fail',
      summary: `${foundText} is too old: ${where} needs driver >= ${need.minDriver}${compat}`,
      fix: `update the NVIDIA driver to ${need.minDriver} or newer${olderImage}`,
      measured,
      details,
    };
  }
  if (compareVersions(found, need.minDriver) < 0) {
    return {
      status: 'warn',
      summary: `${foundText} is older than the ${need.minDriver} that ${where} needs for full support: it runs only under minor-version compatibility, and only if the image does not refuse this driver at start${unknownGate}`,
      fix: `update the NVIDIA driver to ${need.minDriver} or newer: images built on NVIDIA's CUDA bases refuse older drivers at start (NVIDIA_REQUIRE_CUDA), and under minor-version compatibility PTX kernels cannot be JIT-compiled`,
      measured,
      details,
    };
  }
  return {
    status: 'pass',
    summary: `${foundText}; ${where} needs >= ${need.minDriver}${unknownGate}`,
    measured,
    details,
  };
}
