/**
 * Watches a starting container once a second while `up` waits for it: when it exits or
 * restarts, the wait is aborted at once (so `up` stops within two seconds instead of
 * polling a dead port until the ready time-out). It also keeps the latest log line for the
 * spinner.
 */
import type { RuntimeName } from '../types.js';
import { inspectContainer, latestLogLine, type ContainerInfo } from './container.js';
import { sleep } from '../timing.js';
import { localHost, type Host } from '../exec.js';

export const WATCH_INTERVAL_MS = 1_000;

/** The abort reason when the container stopped running. */
export class ContainerStopped extends Error {
  constructor(
    readonly info: ContainerInfo | null,
    readonly how: 'exited' | 'restarted' | 'removed',
  ) {
    super(
      how === 'removed'
        ? 'the container was removed while the doctor waited for it'
        : how === 'restarted'
          ? `the container restarted (restart count ${info?.restartCount ?? '?'}): its server process exited`
          : `the container exited with code ${info?.state.exitCode ?? '?'}${info?.state.oomKilled ? ' (OOMKilled: the kernel killed it for memory)' : ''}`,
    );
    this.name = 'ContainerStopped';
  }
}

export interface Watcher {
  /** Aborts with a ContainerStopped reason when the container stops; also when `parent` aborts. */
  signal: AbortSignal;
  latestLine(): string;
  stop(): void;
}

export function watchContainer(cli: RuntimeName, name: string, options: { parent?: AbortSignal; followLog?: boolean; initialRestartCount?: number; host?: Host }): Watcher {
  const host = options.host ?? localHost;
  const controller = new AbortController();
  const parent = options.parent;
  const onParentAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  parent?.addEventListener('abort', onParentAbort, { once: true });
  let stopped = false;
  let latest = '';
  const baseline = options.initialRestartCount ?? 0;

  void (async () => {
    let tick = 0;
    while (!stopped && !controller.signal.aborted) {
      try {
        const result = await inspectContainer(cli, name, host);
        if (stopped) break;
        if (!result.exists) {
          controller.abort(new ContainerStopped(null, 'removed'));
          break;
        }
        const info = result.info;
        if (info.restarting || info.restartCount > baseline) {
          controller.abort(new ContainerStopped(info, 'restarted'));
          break;
        }
        if (!info.running) {
          controller.abort(new ContainerStopped(info, 'exited'));
          break;
        }
        // The spinner's log line every other tick: it is a nicety, the state is what matters.
        if (options.followLog && tick % 2 === 0) latest = await latestLogLine(cli, name, host);
      } catch {
        // A slow or hiccuping daemon is not a dead container; the ready time-out still bounds the wait.
      }
      tick += 1;
      await sleep(WATCH_INTERVAL_MS, controller.signal);
    }
  })();

  return {
    signal: controller.signal,
    latestLine: () => latest,
    stop() {
      stopped = true;
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}
