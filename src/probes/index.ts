/**
 * Runs the probes a run needs, all at once, each under a time limit; a probe that runs over
 * becomes a `timeout` outcome and one that throws a `crash` outcome, never a hang or a stack.
 */
import type { FactName, Facts, FactValue, ProbeOutcome } from '../facts.js';
import type { Settings } from '../settings.js';
import { ProbeTimeoutError, errorMessage } from '../errors.js';
import { localHost, type Host } from '../exec.js';

// It lives in errors.ts so that the probes, which this file loads, need not import this file back.
export { ProbeTimeoutError };

/** A probe reads the facts of `host` (this machine, or a host over SSH) with the same code. */
type Probe<K extends FactName> = (settings: Settings, host: Host) => Promise<FactValue<K>>;
type ProbeTable = { [K in FactName]: () => Promise<Probe<K>> };

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
const LIMITS: Partial<Record<FactName, (settings: Settings) => number>> = {
  scrape: (settings) => settings.requestTimeoutMs,
};

/** The slowest probe starts first: nvidia-smi initialises NVML (hundreds of ms to seconds on a real host). */
const START_ORDER: readonly FactName[] = ['gpus', 'runtime', 'image', 'model', 'hub', 'host', 'port'];

/** Load the probes' code ahead (a fleet run does it while its SSH connections are being made). */
export async function loadProbes(names: readonly FactName[] = Object.keys(PROBES) as FactName[]): Promise<void> {
  await Promise.all(names.map((name) => PROBES[name]().catch(() => undefined)));
}

export async function gatherFacts(names: readonly FactName[], settings: Settings, host: Host = localHost): Promise<Partial<Facts>> {
  // Load every probe first, so that all of them start in the same turn: on a host over SSH
  // their first commands then leave together in one session (src/ssh.ts).
  if (host.remote) await loadProbes(names);
  const ordered = [...names].sort((a, b) => rank(a) - rank(b));
  const entries = await Promise.all(ordered.map(async (name) => [name, await runProbe(name, settings, host)] as const));
  return Object.fromEntries(entries) as Partial<Facts>;
}

function rank(name: FactName): number {
  const i = START_ORDER.indexOf(name);
  return i === -1 ? START_ORDER.length : i;
}

export async function runProbe<K extends FactName>(name: K, settings: Settings, host: Host = localHost): Promise<ProbeOutcome<FactValue<K>>> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  // The probe's own commands stop at probeTimeoutMs (or its LIMITS row); this is the net under them.
  const limitMs = (LIMITS[name]?.(settings) ?? settings.probeTimeoutMs) + 1000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const probe = (await PROBES[name]()) as Probe<K>;
    const value = await Promise.race([
      probe(settings, host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ProbeTimeoutError(`the ${name} probe did not finish within ${Math.round(limitMs / 1000)} s`)), limitMs);
      }),
    ]);
    return { ok: true, value, durationMs: elapsed() };
  } catch (error) {
    const kind = error instanceof ProbeTimeoutError ? 'timeout' : 'crash';
    return { ok: false, kind, message: errorMessage(error), durationMs: elapsed() };
  } finally {
    clearTimeout(timer);
  }
}
