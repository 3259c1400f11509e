/**
 * Runs the probes a run needs, all at once, each under a time limit; a probe that runs over
 * becomes a `timeout` outcome and one that throws a `crash` outcome, never a hang or a stack.
 * Then works out the derived facts (DERIVED) from what the probes found, once, for every check.
 */
import type { DerivedFactName, FactName, Facts, FactValue, GatheredFactName, ProbeOutcome } from '../facts.js';
import type { Settings } from '../settings.js';
import { ProbeTimeoutError, errorMessage } from '../errors.js';
import { localHost, type Host } from '../exec.js';
import { selectGpu } from '../gpu-choice.js';
import { withTimeLimit } from '../timing.js';

// ProbeTimeoutError lives in errors.ts, not here: the probes, which this file loads, must never import this file back.

/** A probe reads the facts of `host` (this machine, or a host over SSH) with the same code. */
type Probe<K extends GatheredFactName> = (settings: Settings, host: Host) => Promise<FactValue<K>>;
type ProbeTable = { [K in GatheredFactName]: () => Promise<Probe<K>> };

// Loaded lazily: a run that needs no GPU facts never loads the nvidia-smi code.
const PROBES: ProbeTable = {
  gpus: async () => (await import('./nvidia.js')).probeGpus,
  runtime: async () => (await import('./runtime.js')).probeRuntime,
  image: async () => (await import('./runtime.js')).probeImage,
  host: async () => (await import('./host.js')).probeHost,
  model: async () => (await import('./model.js')).probeModelFolder,
  port: async () => (await import('./port.js')).probePort,
  hub: async () => (await import('./hub.js')).probeHub,
  scrape: async () => (await import('./scrape.js')).probeScrape,
  exposure: async () => (await import('./exposure.js')).probeExposure,
};

/** Probes bounded by another setting than --probe-timeout: a scrape may take up to --request-timeout. */
const LIMITS: Partial<Record<GatheredFactName, (settings: Settings) => number>> = {
  scrape: (settings) => settings.requestTimeoutMs,
};

/** The slowest probe starts first: nvidia-smi initialises NVML (hundreds of ms to seconds on a real host). */
const START_ORDER: readonly GatheredFactName[] = ['gpus', 'runtime', 'image', 'model', 'hub', 'host', 'port'];

/** Load the probes' code ahead (a fleet run does it while its SSH connections are being made). */
export async function loadProbes(names: readonly GatheredFactName[] = Object.keys(PROBES) as GatheredFactName[]): Promise<void> {
  await Promise.all(names.map((name) => PROBES[name]().catch(() => undefined)));
}

/** A fact worked out from gathered facts and the settings, without I/O (Ansible's facts that depend on facts). */
interface Derivation<K extends DerivedFactName, S extends GatheredFactName> {
  from: readonly S[];
  derive(values: { [N in S]: FactValue<N> }, settings: Settings): FactValue<K>;
  /** What the report says once about the value (src/judge.ts puts it on the first check that judges the fact). */
  details?(value: FactValue<K>): string[];
}
const derivation = <K extends DerivedFactName, S extends GatheredFactName>(d: Derivation<K, S>) => d as unknown as Derivation<K, GatheredFactName>;

export const DERIVED: { [K in DerivedFactName]: Derivation<K, GatheredFactName> } = {
  gpu: derivation<'gpu', 'gpus'>({ from: ['gpus'], derive: ({ gpus }, settings) => selectGpu(gpus, settings), details: (selection) => selection.notes }),
};

const isDerived = (name: FactName): name is DerivedFactName => Object.hasOwn(DERIVED, name);

export async function gatherFacts(names: readonly FactName[], settings: Settings, host: Host = localHost): Promise<Partial<Facts>> {
  const derived = names.filter(isDerived);
  const probed = new Set(names.filter((n): n is GatheredFactName => !isDerived(n)));
  for (const name of derived) for (const source of DERIVED[name].from) probed.add(source);
  const ordered = [...probed].sort((a, b) => rank(a) - rank(b));
  // Load every probe first, so that all of them start in the same turn: on a host over SSH
  // their first commands then leave together in one session (src/ssh.ts).
  if (host.remote) await loadProbes(ordered);
  const entries = await Promise.all(ordered.map(async (name) => [name, await runProbe(name, settings, host)] as const));
  return deriveFacts(Object.fromEntries(entries) as Partial<Facts>, derived, settings);
}

function rank(name: GatheredFactName): number {
  const i = START_ORDER.indexOf(name);
  return i === -1 ? START_ORDER.length : i;
}

/**
 * The gathered facts plus the derived ones named. A derived fact whose source probe timed out or
 * crashed is missing the same way (same kind and message), so the checks that need it show the
 * source's "could not tell" and `blockedBy` still names the cause.
 */
export function deriveFacts(facts: Partial<Facts>, names: readonly DerivedFactName[], settings: Settings): Partial<Facts> {
  const out: Partial<Facts> = { ...facts };
  for (const name of names) {
    const { from, derive, details } = DERIVED[name];
    const sources = from.map((s) => facts[s]);
    if (sources.some((o) => o === undefined)) continue;
    const durationMs = Math.max(0, ...sources.map((o) => o!.durationMs));
    const failed = sources.find((o) => !o!.ok);
    if (failed && !failed.ok) {
      (out as Record<string, unknown>)[name] = { ok: false, kind: failed.kind, message: failed.message, durationMs };
      continue;
    }
    const values = Object.fromEntries(from.map((s) => [s, (facts[s] as { value: unknown }).value])) as Parameters<typeof derive>[0];
    try {
      const value = derive(values, settings);
      const said = details?.(value) ?? [];
      (out as Record<string, unknown>)[name] = { ok: true, value, durationMs, ...(said.length > 0 ? { details: said } : {}) };
    } catch (error) {
      (out as Record<string, unknown>)[name] = { ok: false, kind: 'crash', message: `working out the ${name} fact failed: ${errorMessage(error)}`, durationMs };
    }
  }
  return out;
}

export async function runProbe<K extends GatheredFactName>(name: K, settings: Settings, host: Host = localHost): Promise<ProbeOutcome<FactValue<K>>> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  // The probe's own commands stop at probeTimeoutMs (or its LIMITS row); this is the net under them.
  const limitMs = (LIMITS[name]?.(settings) ?? settings.probeTimeoutMs) + 1000;
  try {
    const probe = (await PROBES[name]()) as Probe<K>;
    const value = await withTimeLimit(probe(settings, host), limitMs, () => new ProbeTimeoutError(`the ${name} probe did not finish within ${Math.round(limitMs / 1000)} s`));
    return { ok: true, value, durationMs: elapsed() };
  } catch (error) {
    const kind = error instanceof ProbeTimeoutError ? 'timeout' : 'crash';
    return { ok: false, kind, message: errorMessage(error), durationMs: elapsed() };
  }
}
