/**
 * Ctrl-C and SIGTERM during `up`: the first one aborts the run's signal, so every wait stops
 * and `up` can remove the container it started before exiting 130; a second one exits at
 * once (saying what may be left behind), so a stuck clean-up never traps the user.
 */

export interface InterruptGuard {
  signal: AbortSignal;
  /** What a second signal should say is left behind (updated as the run goes). */
  setLeftBehind(text: string | null): void;
  dispose(): void;
}

export class Interrupted extends Error {
  constructor(readonly signalName: string) {
    super(`interrupted by ${signalName}`);
    this.name = 'Interrupted';
  }
}

export function installInterruptGuard(onFirst?: (signalName: string) => void): InterruptGuard {
  const controller = new AbortController();
  let leftBehind: string | null = null;
  const handler = (signalName: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      onFirst?.(signalName);
      controller.abort(new Interrupted(signalName));
      return;
    }
    process.stderr.write(`guard-doctor: ${signalName} again: exiting now${leftBehind ? `; ${leftBehind}` : ''}\n`);
    process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    setLeftBehind(text) {
      leftBehind = text;
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Resolves like `promise`, or rejects with the abort reason as soon as `signal` aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
