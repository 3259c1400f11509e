/**
 * Every preflight check, in the fixed order reports print them (npm doctor's table):
 * the GPU first, then the container runtime, the model, and the host.
 */
import type { Check } from '../src/judge.js';
import { UsageError } from '../src/errors.js';
import { gpuDriver } from './gpu-driver.js';
import { gpuComputeCapability } from './gpu-compute-capability.js';
import { gpuVram } from './gpu-vram.js';
import { dockerDaemon } from './docker-daemon.js';
import { dockerGpu } from './docker-gpu.js';
import { modelSource } from './model-source.js';
import { modelMount } from './model-mount.js';
import { modelFiles } from './model-files.js';
import { modelPermissions } from './model-permissions.js';
import { hostMemory } from './host-memory.js';
import { portFree } from './port-free.js';
import { metricsScrape } from './metrics/scrape.js';
import { metricsFormat } from './metrics/format.js';
import { metricsNaming } from './metrics/naming.js';
import { metricsExpected } from './metrics/expected.js';
import { metricsCardinality } from './metrics/cardinality.js';
import { metricsExposure } from './metrics/exposure.js';
import { WATCH_CHECKS } from './watch/index.js';
import { hostReachable } from './host/reachable.js';
import { hostTunnel } from './host/tunnel.js';
import { containerName, serverAuth, serverReady, serverSuite, serverWarm } from './server/index.js';

export const PREFLIGHT_CHECKS: readonly Check[] = [
  gpuDriver,
  gpuComputeCapability,
  gpuVram,
  dockerDaemon,
  dockerGpu,
  modelSource,
  modelMount,
  modelFiles,
  modelPermissions,
  hostMemory,
  portFree,
] as Check[];

/** `metrics`, in report order: the scrape first, since a failed scrape blocks every other one. */
export const METRICS_CHECKS: readonly Check[] = [metricsScrape, metricsFormat, metricsNaming, metricsExpected, metricsCardinality, metricsExposure] as Check[];

/**
 * One row of a command's table: what `check --list-checks` prints and `check --only` picks
 * from. Results built outside the facts pipeline (phases of `up`, `metrics`, `watch`) are
 * listed here by id and title, so every id a report can show is in one place.
 */
export interface CheckEntry {
  /** The id's first part: what `--only GROUP` names. */
  group: string;
  /** As reports show it; a `<pid>`-style part is filled in at run time. */
  id: string;
  title: string;
}

const entry = (id: string, title: string): CheckEntry => ({ group: id.slice(0, id.indexOf('.')), id, title });

const PREFLIGHT_TABLE: readonly CheckEntry[] = PREFLIGHT_CHECKS.map((c) => entry(c.id, c.title));
/** Results a phase builds (checks/server/): their specs, so the table and the builders share one id and title. */
const fromSpec = (spec: { id: string; title: string }): CheckEntry => entry(spec.id, spec.title);
const SERVER_READY = fromSpec(serverReady);
const SERVER_WARM = fromSpec(serverWarm);
/** A 401 from a keyed server (src/api-key.ts): up and suite report it. */
const SERVER_AUTH = fromSpec(serverAuth);
/** `suite --metrics-url` and `up --metrics-url`: the counters against the verdicts (src/prom/reconcile.ts). */
const RECONCILE = [
  entry('metrics.reconcile.requests', 'Request counter matches the requests sent'),
  entry('metrics.reconcile.verdicts', 'Per-result counts match the verdicts'),
];

/** Every check id, per command, in the order that command's report prints them. */
export const CHECK_TABLES = {
  check: PREFLIGHT_TABLE,
  // The phases in src/phases/, built with checks/server/; server.suite only when the container stops during the suite.
  up: [...PREFLIGHT_TABLE, fromSpec(containerName), SERVER_READY, SERVER_WARM, SERVER_AUTH, fromSpec(serverSuite), ...RECONCILE],
  // src/commands/warm.ts: the ready and warm phases, built with checks/server/
  warm: [SERVER_READY, SERVER_WARM],
  suite: [SERVER_AUTH, ...RECONCILE],
  // src/commands/metrics.ts, judged by checks/metrics/
  metrics: METRICS_CHECKS.map((c) => entry(c.id, c.title)),
  // With --host (src/fleet/), and docker.host when DOCKER_HOST points where the doctor cannot go (checks/docker-host.ts).
  fleet: [
    entry(hostReachable.id, hostReachable.title),
    entry(hostTunnel.id, hostTunnel.title),
    entry('docker.host', 'Docker daemon is on the judged machine'),
  ],
  // checks/watch/: one watch.process.<pid> per compute process, one watch.gpu.<index> per GPU.
  watch: WATCH_CHECKS.map((c) => entry(c.id, c.title)),
} as const satisfies Record<string, readonly CheckEntry[]>;

export type TableName = keyof typeof CHECK_TABLES;

/**
 * The preflight checks that `--only` names (groups or ids, in table order), or all of them.
 * Anything else is a usage error that names the option and lists what is valid.
 */
export function selectChecks(only: readonly string[], checks: readonly Check[] = PREFLIGHT_CHECKS): readonly Check[] {
  if (only.length === 0) return checks;
  const groups = [...new Set(checks.map((c) => c.id.slice(0, c.id.indexOf('.'))))];
  for (const name of only) {
    if (groups.includes(name) || checks.some((c) => c.id === name)) continue;
    const elsewhere = Object.entries(CHECK_TABLES)
      .filter(([command, table]) => command !== 'check' && table.some((e) => e.id === name || e.group === name))
      .map(([command]) => command);
    const where = elsewhere.length ? ` (${name} is reported by ${elsewhere.join(', ')}, not by check)` : '';
    throw new UsageError(
      `--only: unknown group or check id "${name}"${where}. Valid groups: ${groups.join(', ')}; valid ids: ${checks.map((c) => c.id).join(', ')} (guard-doctor check --list-checks shows them with titles)`,
    );
  }
  return checks.filter((c) => only.includes(c.id) || only.includes(c.id.slice(0, c.id.indexOf('.'))));
}
