/**
 * gpu.compute-capability, per way of serving. The web image supports 8.0 (Ampere) and newer.
 * vLLM serves 8.0 and newer in bf16; on 7.x it resolves `--dtype auto` to fp16 (the bf16
 * checkpoint then runs with slightly different numerics from the official evaluation); below
 * 7.0 it refuses the GPU. And an image whose compiled architecture list (its environment's
 * TORCH_CUDA_ARCH_LIST, else the known-image table) lacks the GPU stops with "no kernel image is
 * available for execution on the device".
 */
import { defineCheck } from '../src/judge.js';
import { archCoverage, compareVersions } from '../src/data/cuda.js';
import { gpuFamily } from '../src/data/gpus.js';
import { CPU_SKIP_REASON, gpuLabel, noGpuJudgement } from '../src/gpu-choice.js';
import { resolveImageGate } from '../src/image-gate.js';

/** bf16, and the web image's floor. */
export const MIN_COMPUTE_CAPABILITY = '8.0';
/** vLLM refuses GPUs below this ("GPUs with compute capability below 7.0 are not supported."). */
export const VLLM_MIN_COMPUTE_CAPABILITY = '7.0';

export const gpuComputeCapability = defineCheck({
  id: 'gpu.compute-capability',
  title: 'GPU compute capability',
  needs: ['gpus', 'gpu', 'image'],
  skip: (settings) => (settings.cpu ? CPU_SKIP_REASON : null),
  blockedBy: 'gpu.driver',
  judge({ gpus, gpu: selection, image }, settings) {
    // The chosen GPU is a derived fact (src/gpu-choice.ts selectGpu): no GPU facts or a lost GPU is
    // gpu.driver's failure, shown here as "needs gpu.driver"; a GPU whose MIG set-up gives nothing
    // still has a capability to judge (gpu.vram fails on the MIG set-up).
    if (selection.state === 'none' && selection.gpu === null) return noGpuJudgement(selection);
    const gpu = selection.gpu!;
    const all = gpus.state === 'ok' ? gpus.gpus : [gpu];
    const capability = gpu.computeCapability;
    const fromTable = gpu.computeCapabilitySource === 'name-table' ? ' (from the GPU name table: this driver does not report it)' : '';
    const gate = resolveImageGate(settings, image);
    const archList = gate.archList;
    const archName = gate.archSource === 'image' ? "the image's TORCH_CUDA_ARCH_LIST" : `the compiled list of ${settings.image} (known-image table)`;
    const floor = settings.server === 'vllm' ? VLLM_MIN_COMPUTE_CAPABILITY : MIN_COMPUTE_CAPABILITY;
    const measured: Record<string, unknown> = {
      gpu: gpu.index,
      name: gpu.name,
      computeCapability: capability,
      source: gpu.computeCapabilitySource,
      required: floor,
      bf16From: MIN_COMPUTE_CAPABILITY,
      imageArchList: archList,
      imageArchListSource: gate.archSource,
    };
    // Which GPU was chosen and why (and any GPU nvidia-smi cannot reach) is the gpu fact's note, said once per report.
    const details: string[] = [];

    if (capability === null) {
      return {
        status: 'warn',
        summary: `could not tell the compute capability of ${gpuLabel(gpu)}: the driver does not report it and the name is not in the table`,
        fix: `look it up at https://developer.nvidia.com/cuda-gpus: ${settings.server === 'vllm' ? 'vLLM needs 7.0 or newer (8.0 for bf16)' : 'the web image needs 8.0 (Ampere) or newer'}`,
        measured,
        details,
      };
    }

    const family = gpuFamily(gpu.name);
    const arch = family ? ` (${family.architecture})` : '';
    const newer = all.find((g) => g.index !== gpu.index && g.computeCapability && compareVersions(g.computeCapability, MIN_COMPUTE_CAPABILITY) >= 0);
    const otherGpu = newer ? `use --gpu ${newer.index} (${newer.name}, compute capability ${newer.computeCapability})` : null;

    if (compareVersions(capability, floor) < 0) {
      const why =
        settings.server === 'vllm'
          ? `vLLM refuses it ("RuntimeError: GPUs with compute capability below ${VLLM_MIN_COMPUTE_CAPABILITY} are not supported.")`
          : `the web image needs ${MIN_COMPUTE_CAPABILITY} (Ampere) or newer`;
      return {
        status: 'fail',
        summary: `${gpuLabel(gpu)} has compute capability ${capability}${fromTable}${arch}; ${why}`,
        fix: otherGpu ?? 'serve on an Ampere or newer GPU (A100, A10, L4, RTX 3090 or newer), or on CPU with --cpu',
        measured,
        details,
      };
    }

    if (archList && archList.length > 0) {
      const listText = archList.join(' ');
      const coverage = archCoverage(capability, archList);
      measured.archCoverage = coverage.kind;
      if (coverage.kind === 'none') {
        const listed = all.find((g) => g.index !== gpu.index && g.computeCapability && archCoverage(g.computeCapability, archList).kind !== 'none');
        return {
          status: 'fail',
          summary: `${gpuLabel(gpu)} has compute capability ${capability}${fromTable}, but ${settings.image} was compiled only for ${listText} (${archName}): it would stop with "no kernel image is available for execution on the device"`,
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
          summary: `${gpuLabel(gpu)} has compute capability ${capability}${fromTable}; ${settings.image} has no kernels for it (${archName}: ${listText}), only PTX of ${coverage.entry.raw}, which the driver must JIT-compile`,
          fix: `use an image built for ${capability}: JIT compilation makes the first start slow, and fails under minor-version compatibility (see gpu.driver)`,
          measured,
          details,
        };
      }
    }
    const how =
      archList && archList.length > 0
        ? (() => {
            const coverage = archCoverage(capability, archList);
            return coverage.kind === 'exact'
              ? `, listed in ${archName} (${archList.join(' ')})`
              : coverage.kind === 'binary'
                ? `, runs the image's ${coverage.entry.raw} kernels (binary compatible within major ${coverage.entry.major}; ${archName}: ${archList.join(' ')})`
                : '';
          })()
        : image.present
          ? "; the image's compiled architecture list is not known"
          : `; ${settings.image} is not known and not present locally, so its compiled architectures are unknown`;

    if (settings.server === 'vllm' && compareVersions(capability, MIN_COMPUTE_CAPABILITY) < 0) {
      measured.dtype = 'float16';
      return {
        status: 'warn',
        summary: `${gpuLabel(gpu)} has compute capability ${capability}${fromTable}${arch}: no bf16, so vLLM serves the bf16 checkpoint in fp16 (--dtype auto), with numerics slightly different from the official bf16 evaluation${how}`,
        fix: otherGpu ? `${otherGpu} for bf16, or accept fp16 (check the verdicts with \`guard-doctor suite\`)` : 'serve on an Ampere or newer GPU for bf16, or accept fp16 and check the verdicts with `guard-doctor suite`',
        measured,
        details,
      };
    }
    return { status: 'pass', summary: `${gpuLabel(gpu)}: compute capability ${capability}${fromTable} >= ${MIN_COMPUTE_CAPABILITY}${how}`, measured, details };
  },
});
