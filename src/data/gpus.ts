/**
 * GPU name -> compute capability (NVIDIA's CUDA GPUs list). Used when the driver is too old to
 * answer nvidia-smi's `compute_cap` field (470 series and older), and to name examples in fixes.
 *
 * nvidia-smi spells the same card many ways ("NVIDIA A100-SXM4-80GB", "Tesla T4",
 * "NVIDIA GeForce RTX 3090", "GeForce GTX 1080 Ti", "NVIDIA H100 80GB HBM3"), so each row is a
 * pattern over the name with the vendor words removed. Rows are tried in order: more specific
 * names (A100 before A10, L40S before L40 before L4, GH200 before H200) come first.
 */

export interface GpuFamily {
  /** How the doctor names the family in messages. */
  label: string;
  /** Matched against the normalized name (lower case, vendor words removed). */
  pattern: RegExp;
  /** "major.minor" */
  capability: string;
  architecture: string;
}

export const GPU_FAMILIES: readonly GpuFamily[] = [
  // Blackwell
  { label: 'GB300 / B300', pattern: /\bg?b300\b/, capability: '10.3', architecture: 'Blackwell' },
  { label: 'GB200 / B200 / B100', pattern: /\bg?b[12]00\b/, capability: '10.0', architecture: 'Blackwell' },
  { label: 'GB10 (DGX Spark)', pattern: /\bgb10\b/, capability: '12.1', architecture: 'Blackwell' },
  { label: 'RTX PRO Blackwell', pattern: /\bblackwell\b/, capability: '12.0', architecture: 'Blackwell' },
  { label: 'RTX 50xx', pattern: /\brtx 50\d0\b/, capability: '12.0', architecture: 'Blackwell' },
  // Hopper
  { label: 'H100 / H200 / H800 / GH200', pattern: /\bg?h(100|200|800|20)\b/, capability: '9.0', architecture: 'Hopper' },
  // Ada Lovelace
  { label: 'L40S / L40 / L20 / L4', pattern: /\bl(40s?|20|4)\b/, capability: '8.9', architecture: 'Ada Lovelace' },
  { label: 'RTX 6000 Ada / RTX xx00 Ada', pattern: /\brtx \d{4} ada\b|\bada generation\b/, capability: '8.9', architecture: 'Ada Lovelace' },
  { label: 'RTX 40xx', pattern: /\brtx 40\d0\b/, capability: '8.9', architecture: 'Ada Lovelace' },
  // Ampere
  { label: 'A100 / A800 / A30', pattern: /\ba(100|800|30)\b/, capability: '8.0', architecture: 'Ampere' },
  { label: 'Jetson Orin', pattern: /\borin\b/, capability: '8.7', architecture: 'Ampere' },
  { label: 'A10G / A10 / A40 / A16 / A2', pattern: /\ba(10g?|40|16|2)\b/, capability: '8.6', architecture: 'Ampere' },
  { label: 'RTX A6000 / A5000 / A4000 / A2000', pattern: /\brtx a\d{4}\b/, capability: '8.6', architecture: 'Ampere' },
  { label: 'RTX 30xx', pattern: /\brtx 30\d0\b/, capability: '8.6', architecture: 'Ampere' },
  // Turing
  { label: 'T4 / T4G', pattern: /\bt4g?\b/, capability: '7.5', architecture: 'Turing' },
  { label: 'RTX 20xx / TITAN RTX / Quadro RTX', pattern: /\brtx 20\d0\b|\btitan rtx\b|\bquadro rtx\b|^rtx [4-8]000\b/, capability: '7.5', architecture: 'Turing' },
  { label: 'GTX 16xx', pattern: /\bgtx 16\d0\b/, capability: '7.5', architecture: 'Turing' },
  // Volta
  { label: 'V100 / TITAN V', pattern: /\bv100\b|\btitan v\b/, capability: '7.0', architecture: 'Volta' },
  // Pascal
  { label: 'P100', pattern: /\bp100\b/, capability: '6.0', architecture: 'Pascal' },
  { label: 'P40 / P4 / P6000', pattern: /\bp(40|4|6000)\b/, capability: '6.1', architecture: 'Pascal' },
  { label: 'GTX 10xx / TITAN X(p)', pattern: /\bgtx 10\d0\b|\btitan xp?\b/, capability: '6.1', architecture: 'Pascal' },
  // Maxwell, Kepler
  { label: 'M60 / M40 / GTX 9xx', pattern: /\bm(60|40)\b|\bgtx 9\d0\b/, capability: '5.2', architecture: 'Maxwell' },
  { label: 'K80', pattern: /\bk80\b/, capability: '3.7', architecture: 'Kepler' },
];

/** Lower case, vendor and line words dropped, separators made spaces: "Tesla V100-SXM2-32GB" -> "v100 sxm2 32gb". */
export function normalizeGpuName(name: string): string {
  return name
    .toLowerCase()
    .replace(/\b(nvidia|geforce|tesla)\b/g, '')
    .replace(/[-_/(),]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function gpuFamily(name: string): GpuFamily | undefined {
  const normalized = normalizeGpuName(name);
  if (!normalized) return undefined;
  return GPU_FAMILIES.find((family) => family.pattern.test(normalized));
}

/** The compute capability of a GPU known by name, or null. */
export function capabilityFromName(name: string): string | null {
  return gpuFamily(name)?.capability ?? null;
}
