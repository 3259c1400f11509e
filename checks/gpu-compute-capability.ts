/**
 * gpu.compute-capability: bf16 kernels and the serving images need Ampere (8.0) or newer, and
 * an image whose compiled architecture list lacks the GPU stops with "no kernel image is
 * available for execution on the device".
 */
import { defineCheck } from '../src/check.js';
import { archCoverage, compareVersions } from '../src/data/cuda.js';
import { gpuFamily } from '../src/data/gpus.js';
import { CPU_SKIP_REASON, chooseGpu, gpuLabel, inventoryProblem } from '../src/gpu-choice.js';

export const MIN_COMPUTE_CAPABILITY = '8.0';

export const gpuComputeCapability = defineCheck({
  id: 'gpu.compute-capability',
  title: 'GPU compute capability',
  needs: ['gpus', 'image'],
  skip: (settings) => (settings.cpu ? CPU_SKIP_REASON : null),
  blockedBy: 'gpu.driver',
  judge({ gpus, image }, settings) {
    if (gpus.state !== 'ok') return { status: 'fail', ...inventoryProblem(gpus) };
    const choice = chooseGpu(gpus.gpus, settings);
    if (!choice.ok) return { status: 'fail', summary: choice.summary, fix: choice.fix };
    const { gpu } = choice;
    const capability = gpu.computeCapability;
    const fromTable = gpu.computeCapabilitySource === 'name-table' ? ' (from the GPU name table: this driver does not report it)' : '';
    const archList = image.present ? image.torchCudaArchList : null;
    const measured: Record<string, unknown> = {
      gpu: gpu.index,
      name: gpu.name,
      computeCapability: capability,
      source: gpu.computeCapabilitySource,
      required: MIN_COMPUTE_CAPABILITY,
      imageArchList: archList,
    };
    const details = choice.reason === 'most-free' ? [`GPU ${gpu.index} chosen: it has the most free memory (pick another with --gpu)`] : [];

    if (capability === null) {
      return {
        status: 'warn',
        summary: `could not tell the compute capability of ${gpuLabel(gpu)}: the driver does not report it and the name is not in the table`,
        fix: `look it up at https://developer.nvidia.com/cuda-gpus: the serving images need ${MIN_COMPUTE_CAPABILITY} (Ampere) or newer`,
        measured,
        details,
      };
    }

    if (compareVersions(capability, MIN_COMPUTE_CAPABILITY) < 0) {
      const family = gpuFamily(gpu.name);
      const newer = gpus.gpus.filter((g) => g.index !== gpu.index && g.computeCapability && compareVersions(g.computeCapability, MIN_COMPUTE_CAPABILITY) >= 0);
      const other = newer[0];
      return {
        status: 'fail',
        summary: `${gpuLabel(gpu)} has compute capability ${capability}${fromTable}${family ? ` (${family.architecture})` : ''}; bf16 and the serving images need ${MIN_COMPUTE_CAPABILITY} (Ampere) or newer`,
        fix: other
          ? `use --gpu ${other.index} (${other.name}, compute capability ${other.computeCapability})`
          : 'serve on an Ampere or newer GPU (A100, A10, L4, RTX 3090 or newer), or on CPU with --cpu',
        measured,
        details,
      };
    }

    if (archList && archList.length > 0) {
      const listText = archList.join(' ');
      const coverage = archCoverage(capability, archList);
      measured.archCoverage = coverage.kind;
      if (coverage.kind === 'none') {
        const listed = gpus.gpus.find((g) => g.index !== gpu.index && g.computeCapability && archCoverage(g.computeCapability, archList).kind !== 'none');
        return {
          status: 'fail',
          summary: `${gpuLabel(gpu)} has compute capability ${capability}${fromTable}, but image ${image.ref} was compiled only for ${listText} (TORCH_CUDA_ARCH_LIST): it would stop with "no kernel image is available for execution on the device"`,
          fix: listed
            ? `use --gpu ${listed.index} (${listed.name}, ${listed.computeCapability}), or an image built for ${capability}`
            : `use an image built for compute capability ${capability} (its TORCH_CUDA_ARCH_LIST must name ${capability}), e.g. a newer vllm/vllm-openai tag`,
          measured,
          details,
        };
      }
      if (coverage.kind === 'ptx') {
        return {
          status: 'warn',
          summary: `${gpuLabel(gpu)} has compute capability ${capability}${fromTable}; image ${image.ref} has no kernels for it (TORCH_CUDA_ARCH_LIST ${listText}), only PTX of ${coverage.entry.raw}, which the driver must JIT-compile`,
          fix: `use an image built for ${capability}: JIT compilation makes the first start slow, and fails under minor-version compatibility (see gpu.driver)`,
          measured,
          details,
        };
      }
      const how = coverage.kind === 'exact' ? `listed in the image's TORCH_CUDA_ARCH_LIST (${listText})` : `runs the image's ${coverage.entry.raw} kernels (binary compatible within major ${coverage.entry.major}; TORCH_CUDA_ARCH_LIST ${listText})`;
      return { status: 'pass', summary: `${gpuLabel(gpu)}: compute capability ${capability}${fromTable} >= ${MIN_COMPUTE_CAPABILITY}, ${how}`, measured, details };
    }

    const unknownList = image.present ? "; the image's compiled architecture list is not known" : '';
    return { status: 'pass', summary: `${gpuLabel(gpu)}: compute capability ${capability}${fromTable} >= ${MIN_COMPUTE_CAPABILITY}${unknownList}`, measured, details };
  },
});
