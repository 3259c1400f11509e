/**
 * container.name: what `up` does with an existing container of the same name (src/phases/preflight.ts
 * decides the plan): nothing there, reuse a matching running one, remove it (--replace), or
 * stop here because it cannot be reused. A daemon that cannot say is an error, never a pass.
 */
import type { CheckResult } from '../../src/types.js';
import type { ResultSpec } from './spec.js';

export const containerName = { id: 'container.name', title: 'Container name' } as const satisfies ResultSpec;

export type NamePlan = { kind: 'none' } | { kind: 'reuse'; image: string } | { kind: 'replace' } | { kind: 'conflict'; why: string };

/** `runtimeFlag`: ` --runtime podman` or '' for the command a user copies. */
export function nameJudged(plan: NamePlan, name: string, runtimeFlag: string): CheckResult {
  const base = { ...containerName, durationMs: 0 };
  switch (plan.kind) {
    case 'none':
      return { ...base, status: 'pass', summary: `no container named ${name} exists yet` };
    case 'reuse':
      return { ...base, status: 'pass', summary: `${name} already runs ${plan.image} with the same mount and port; reusing it` };
    case 'replace':
      return { ...base, status: 'pass', summary: `${name} exists; --replace removes it before the launch` };
    case 'conflict':
      return {
        ...base,
        status: 'fail',
        summary: `a container named ${name} already exists and cannot be reused: ${plan.why}`,
        fix: `remove it with --replace (or \`guard-doctor down${runtimeFlag} --name ${name}\`), or choose another --name`,
      };
  }
}

/** The runtime did not answer the inspect: whether the name is taken is unknown. */
export function nameUnknown(name: string, runtime: string, problem: string): CheckResult {
  return { ...containerName, status: 'error', summary: `could not tell whether ${name} exists: ${problem}`, fix: `check that the ${runtime} daemon answers`, durationMs: 0 };
}
