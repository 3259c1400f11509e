/**
 * gpu.driver: an NVIDIA driver answers and is new enough for the image's CUDA version.
 * Worded like nvidia-container-cli's requirement errors: found, needed, what to do.
 */
import { defineCheck } from '../src/check.js';
import { compareVersions, describeCudaSource, requiredDriver, resolveImageCuda } from '../src/data/cuda.js';
import { CPU_SKIP_REASON } from '../src/gpu-choice.js';

const INSTALL_HINT = "with your distribution's nvidia-driver package (Ubuntu: `sudo ubuntu-drivers install`), reboot, and check that `nvidia-smi` answers; or serve on CPU with --cpu";

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

    if (gpus.state === 'no-nvidia-smi') {
      return {
        status: 'fail',
        summary: `no NVIDIA driver: ${gpus.message}; ${where} needs ${needText}`,
        fix: `install ${driverWanted} ${INSTALL_HINT}`,
        measured: { driverVersion: null, cuda: cuda.version, cudaSource: cuda.source, requiredDriver: need?.minDriver ?? null },
      };
    }
    if (gpus.state === 'no-driver') {
      return {
        status: 'fail',
        summary: `no NVIDIA driver answers: ${gpus.message}`,
        fix: `load or install ${driverWanted} ${INSTALL_HINT} (after a driver update, "Driver/library version mismatch" clears with a reboot)`,
        measured: { driverVersion: null, cuda: cuda.version, cudaSource: cuda.source, requiredDriver: need?.minDriver ?? null },
      };
    }
    if (gpus.state === 'unreadable') {
      return {
        status: 'fail',
        summary: `nvidia-smi did not answer usefully: ${gpus.message}`,
        fix: 'run `nvidia-smi` by hand; a GPU that "fell off the bus" or an "Unknown Error" needs a reset or a reboot',
        measured: { driverVersion: null, cuda: cuda.version, cudaSource: cuda.source },
      };
    }

    const found = gpus.driverVersion;
    const driverCuda = gpus.cudaVersion;
    const measured: Record<string, unknown> = {
      driverVersion: found,
      driverCuda,
      cuda: cuda.version,
      cudaSource: cuda.source,
      requiredDriver: need?.minDriver ?? null,
      compatibilityFloor: need?.compatFloor ?? null,
    };
    const details = [...gpus.notes];
    if (cuda.source === 'default') details.push(`image ${settings.image} is not present locally, so its CUDA version is assumed; give --cuda X.Y to be exact`);
    if (need && need.tableCuda !== need.cuda) details.push(`CUDA ${need.cuda} is not in the driver table; using CUDA ${need.tableCuda}'s minimum, which may understate it`);
    const foundText = `driver ${found}${driverCuda ? ` (supports CUDA up to ${driverCuda})` : ''}`;

    if (!found) {
      return {
        status: 'warn',
        summary: `nvidia-smi did not report the driver version; ${where} needs ${needText}`,
        fix: 'run `nvidia-smi` by hand and compare its "Driver Version" with the requirement',
        measured,
        details,
      };
    }
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
        summary: `${foundText} is older than the ${need.minDriver} that ${where} needs for full support: it runs only under minor-version compatibility`,
        fix: `update the NVIDIA driver to ${need.minDriver} or newer: under minor-version compatibility kernels shipped only as PTX cannot be JIT-compiled and newer CUDA features are missing`,
        measured,
        details,
      };
    }
    return {
      status: 'pass',
      summary: `${foundText}; ${where} needs >= ${need.minDriver}`,
      measured,
      details,
    };
  },
});
