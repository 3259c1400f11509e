/**
 * The image's own start gate, judged the way the NVIDIA container runtime judges it.
 *
 * The runtime hook passes every `NVIDIA_REQUIRE_*` variable of the image (and, for an old image
 * with CUDA_VERSION but no NVIDIA_REQUIRE_CUDA, `cuda>=<major.minor>`) to nvidia-container-cli as
 * `--require`, unless NVIDIA_DISABLE_REQUIRE is true. nvidia-container-cli (libnvidia-container
 * src/cli/dsl.c, configure.c) evaluates each one per visible GPU: space-separated alternatives
 * are ORed, comma-separated conditions ANDed; `cuda`, `driver` and `arch` compare versions,
 * `brand` compares case-insensitively; a fact it cannot read counts as satisfied. A refusal
 * names the first alternative: "unsatisfied condition: cuda>=12.8, please update your driver to
 * a newer version, or use an earlier cuda container".
 */
import { compareVersions, cudaMajorMinor } from './data/cuda.js';

export type Comparator = '=' | '!=' | '<' | '<=' | '>' | '>=';
const OPERATORS: readonly Comparator[] = ['=', '!=', '<', '<=', '>', '>='];

/**
 * dsl_compare_version: numeric parts compared in turn; trailing ".0"s do not count; anything
 * but digits and dots makes the expression invalid (null).
 */
export function dslCompareVersion(v1: string, cmp: Comparator, v2: string): boolean | null {
  if (!/^[0-9.]*$/.test(v1) || !/^[0-9.]*$/.test(v2)) return null;
  let a = v1;
  let b = v2;
  while (a !== '' && b !== '') {
    const ma = /^(\d+)/.exec(a);
    const mb = /^(\d+)/.exec(b);
    if (!ma || !mb) return null;
    const n1 = BigInt(ma[1]!);
    const n2 = BigInt(mb[1]!);
    if (n1 !== n2) {
      if (cmp === '=') return false;
      if (cmp === '!=') return true;
      if (cmp === '<' || cmp === '<=') return n1 < n2;
      return n1 > n2;
    }
    a = a.slice(ma[1]!.length).replace(/^\.+/, '');
    b = b.slice(mb[1]!.length).replace(/^\.+/, '');
  }
  a = a.replace(/^[.0]+/, '');
  b = b.replace(/^[.0]+/, '');
  if (cmp === '!=') return a !== '' || b !== '';
  if (cmp === '=' || cmp === '<=' || cmp === '>=') {
    if (a === '' && b === '') return true;
    if (cmp === '=') return false;
  }
  if (cmp === '<' || cmp === '<=') return a === '' && b !== '';
  return a !== '' && b === '';
}

/** dsl_compare_string: only = and != are defined, case-insensitively. */
export function dslCompareString(s1: string, cmp: Comparator, s2: string): boolean | null {
  if (cmp === '=') return s1.toLowerCase() === s2.toLowerCase();
  if (cmp === '!=') return s1.toLowerCase() !== s2.toLowerCase();
  return null;
}

/** What nvidia-container-cli knows when it evaluates: the driver, and one visible GPU (or none). */
export interface GateContext {
  /** The CUDA version the driver supports ("12.4"); null when unknown (then `cuda` rules pass, as in the runtime). */
  cudaVersion: string | null;
  driverVersion: string | null;
  /** The GPU the container gets; null when none is visible (then `arch` and `brand` rules pass). */
  device: { arch: string | null; brand: string | null } | null;
}

export type GateResult =
  | { ok: true; alternative: string | null }
  | { ok: false; invalid: false; unsatisfied: string; message: string }
  | { ok: false; invalid: true; message: string };

function evaluateCondition(expr: string, ctx: GateContext): boolean | null {
  const nameLength = expr.search(/[<>=!]/);
  if (nameLength <= 0) return null;
  const opText = /^[<>=!]+/.exec(expr.slice(nameLength))?.[0] ?? '';
  const op = OPERATORS.find((o) => o === opText);
  const value = expr.slice(nameLength + opText.length);
  if (!op || value === '') return null;
  switch (expr.slice(0, nameLength).toLowerCase()) {
    case 'cuda':
      return ctx.cudaVersion === null ? true : dslCompareVersion(ctx.cudaVersion, op, value);
    case 'driver':
      return ctx.driverVersion === null ? true : dslCompareVersion(ctx.driverVersion, op, value);
    case 'arch':
      return ctx.device === null || ctx.device.arch === null ? true : dslCompareVersion(ctx.device.arch, op, value);
    case 'brand':
      return ctx.device === null || ctx.device.brand === null ? true : dslCompareString(ctx.device.brand, op, value);
    default:
      return null;
  }
}

/** dsl_evaluate of one requirement string, step for step (including which result counts when alternatives are empty). */
export function evaluateRequirement(predicate: string, ctx: GateContext): GateResult {
  let ret = true;
  let matched: string | null = null;
  for (const alternative of predicate.split(' ')) {
    if (alternative === '') continue;
    let completed = true;
    for (const condition of alternative.split(',')) {
      if (condition === '') continue;
      const result = evaluateCondition(condition, ctx);
      if (result === null) return { ok: false, invalid: true, message: 'invalid expression' };
      ret = result;
      if (!ret) {
        completed = false;
        break;
      }
    }
    if (completed) {
      matched = ret ? alternative : null;
      break;
    }
  }
  const satisfied = ret;
  if (satisfied) return { ok: true, alternative: matched };
  const first = predicate.split(' ')[0] ?? '';
  const message = first.startsWith('cuda>=')
    ? `unsatisfied condition: ${first}, please update your driver to a newer version, or use an earlier cuda container`
    : `unsatisfied condition: ${first}`;
  return { ok: false, invalid: false, unsatisfied: first, message };
}

/** strconv.ParseBool, which the toolkit applies to NVIDIA_DISABLE_REQUIRE. */
export function parseGoBool(value: string | null | undefined): boolean {
  return value !== null && value !== undefined && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value.trim());
}

/** The image's environment as far as the gate is concerned. */
export interface GateEnv {
  cudaVersion: string | null;
  requireCuda: string | null;
  /** Other NVIDIA_REQUIRE_* variables (not JETPACK), by name. */
  otherRequires?: Record<string, string>;
  disableRequire: string | null;
}

/** The `--require` strings the toolkit hands to nvidia-container-cli for an image (none when disabled). */
export function gateRequirements(env: GateEnv): string[] {
  if (parseGoBool(env.disableRequire)) return [];
  const requirements: string[] = [];
  if (env.requireCuda) requirements.push(env.requireCuda);
  for (const value of Object.values(env.otherRequires ?? {})) if (value) requirements.push(value);
  if (!env.requireCuda && env.cudaVersion) {
    const legacy = cudaMajorMinor(env.cudaVersion);
    if (legacy) requirements.push(`cuda>=${legacy}`);
  }
  return requirements;
}

/** Every requirement must hold; the first refusal (or invalid expression) is what the runtime reports. */
export function evaluateGate(requirements: readonly string[], ctx: GateContext): GateResult {
  let alternative: string | null = null;
  for (const requirement of requirements) {
    const result = evaluateRequirement(requirement, ctx);
    if (!result.ok) return result;
    alternative ??= result.alternative;
  }
  return { ok: true, alternative };
}

/** The lowest `cuda>=X` any alternative of a requirement asks for, e.g. "12.8"; null when none does. */
export function requiredCudaOf(requirement: string): string | null {
  const versions = requirement
    .split(' ')
    .flatMap((alt) => alt.split(','))
    .map((c) => /^cuda>=([\d.]+)$/i.exec(c)?.[1])
    .filter((v): v is string => Boolean(v));
  if (versions.length === 0) return null;
  return versions.sort(compareVersions)[0]!;
}
