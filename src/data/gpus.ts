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

// ---- brands (the start gate's `brand=` rules) ----

/**
 * NVML's brand as nvidia-smi prints it ("Product Brand") -> the brand nvidia-container-cli
 * compares `brand=` rules against. libnvidia-container (src/driver.c, driver_get_device_brand_1_svc)
 * names Quadro, Tesla, NVS, GRID, GeForce and TITAN and calls every other NVML brand "Unknown",
 * which the CUDA base images' rules list (brand=unknown) alongside nvidia, nvidiartx and the
 * virtual-GPU brands; GeForce and TITAN are the ones those rules leave out.
 */
const CONTAINER_BRANDS: Readonly<Record<string, string>> = {
  quadro: 'Quadro',
  tesla: 'Tesla',
  nvs: 'NVS',
  grid: 'GRID',
  geforce: 'GeForce',
  titan: 'TITAN',
};

export function containerBrand(nvmlBrand: string | null | undefined): string | null {
  if (nvmlBrand === null || nvmlBrand === undefined || nvmlBrand.trim() === '') return null;
  return CONTAINER_BRANDS[nvmlBrand.trim().toLowerCase()] ?? 'Unknown';
}

/** Brands NVIDIA supports CUDA forward compatibility on (datacenter and workstation, not GeForce/TITAN). */
export function isConsumerBrand(nvmlBrand: string | null | undefined): boolean {
  const b = (nvmlBrand ?? '').trim().toLowerCase();
  return b.startsWith('geforce') || b.startsWith('titan');
}

/**
 * The stated fallback when nvidia-smi's brand was not read: what the name says. GeForce and
 * TITAN cards carry it in their name; "Quadro" too; Tesla-era datacenter cards start with
 * "Tesla"; RTX workstation cards (RTX A6000, RTX 6000 Ada, RTX PRO) are "NVIDIA RTX"; the rest
 * (A100, H100, L4, L40S, B200, ...) are "NVIDIA".
 */
export function brandFromName(name: string): string {
  if (/\bgeforce\b/i.test(name)) return 'GeForce';
  if (/\btitan\b/i.test(name)) return 'Titan';
  if (/\bquadro\b/i.test(name)) return 'Quadro';
  if (/^\s*tesla\b/i.test(name)) return 'Tesla';
  if (/\brtx a\d{4}\b|\brtx pro\b|\brtx \d{4} (sff )?ada\b/i.test(name)) return 'NVIDIA RTX';
  return 'NVIDIA';
}

// ---- MIG profiles ----

export interface MigProfile {
  name: string;
  /** Memory of one instance, as `nvidia-smi mig -lgip` prints it (GiB). */
  memoryGiB: number;
}

/**
 * GPU instance profiles per MIG-capable board, smallest first, from real `nvidia-smi mig -lgip`
 * tables (A100 80GB: NVIDIA/mig-parted#97; A100 40GB: public test fixtures; both as quoted in
 * ../shared/conformance/nvidia-smi/replay.mjs). H100/H200 and the rest: the profile names of
 * NVIDIA's MIG user guide, memory read from the name (the GB in the name is what the slice holds,
 * rounded; the real figure is about 2% lower, as on the A100).
 */
/** Profiles known by name only: the slice holds about 2% less than the GB in the name (as measured on the A100). */
function byName(names: readonly string[]): MigProfile[] {
  return names.map((name) => ({ name, memoryGiB: Math.floor((migProfileGb(name) ?? 0) * 0.98 * 100) / 100 }));
}

export const MIG_PROFILES: readonly { pattern: RegExp; minTotalMiB: number; profiles: readonly MigProfile[] }[] = [
  {
    pattern: /\ba(100|800)\b/i,
    minTotalMiB: 50_000,
    profiles: [
      { name: '1g.10gb', memoryGiB: 9.5 },
      { name: '1g.20gb', memoryGiB: 19.5 },
      { name: '2g.20gb', memoryGiB: 19.5 },
      { name: '3g.40gb', memoryGiB: 39.25 },
      { name: '4g.40gb', memoryGiB: 39.25 },
      { name: '7g.80gb', memoryGiB: 79.25 },
    ],
  },
  {
    pattern: /\ba(100|800)\b/i,
    minTotalMiB: 0,
    profiles: [
      { name: '1g.5gb', memoryGiB: 4.75 },
      { name: '1g.10gb', memoryGiB: 9.75 },
      { name: '2g.10gb', memoryGiB: 9.75 },
      { name: '3g.20gb', memoryGiB: 19.62 },
      { name: '4g.20gb', memoryGiB: 19.62 },
      { name: '7g.40gb', memoryGiB: 39.5 },
    ],
  },
  // Hopper: profile names from NVIDIA's MIG user guide ("Supported MIG Profiles"); memory read from the name.
  { pattern: /\bh(100|800)\b/i, minTotalMiB: 90_000, profiles: byName(['1g.12gb', '1g.24gb', '2g.24gb', '3g.47gb', '4g.47gb', '7g.94gb']) },
  { pattern: /\bh(100|800)\b/i, minTotalMiB: 0, profiles: byName(['1g.10gb', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb', '7g.80gb']) },
  { pattern: /\bg?h200\b/i, minTotalMiB: 0, profiles: byName(['1g.18gb', '1g.35gb', '2g.35gb', '3g.71gb', '4g.71gb', '7g.141gb']) },
];

/** "3g.40gb" -> 40 (the GB in the name); null when the name carries none. */
export function migProfileGb(profile: string): number | null {
  const match = /(\d+)gb\b/i.exec(profile);
  return match ? Number(match[1]) : null;
}

/**
 * The smallest MIG profile of this GPU whose slice holds `requiredMiB`, or null when none does
 * (then only turning MIG off helps). Boards without a table row are judged by the GB in the
 * profile names of the MIG devices they have.
 */
export function migProfileFor(gpuName: string, totalMiB: number | null, requiredMiB: number, seenProfiles: readonly string[] = []): MigProfile | null {
  const row = MIG_PROFILES.find((r) => r.pattern.test(gpuName) && (totalMiB ?? 0) >= r.minTotalMiB);
  let profiles: MigProfile[];
  if (row) profiles = [...row.profiles];
  else profiles = byName(seenProfiles.map((p) => p.replace(/^\d+c\./, '')));
  return profiles.filter((p) => p.memoryGiB * 1024 >= requiredMiB).sort((a, b) => a.memoryGiB - b.memoryGiB)[0] ?? null;
}
