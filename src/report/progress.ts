/**
 * Progress while something takes time: an ora spinner on a terminal (stderr), plain lines
 * every `heartbeatMs` under CI or without a terminal, nothing at all with --quiet.
 */
import { plainProgress } from './style.js';

export interface Progress {
  /** Set the current phase text. */
  update(text: string): void;
  /** A line that should stay (printed above the spinner, or as a plain line). */
  log(line: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

export async function createProgress(options: { enabled: boolean; heartbeatMs?: number; initial?: string }): Promise<Progress> {
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const write = (line: string) => process.stderr.write(line + '\n');
  if (!options.enabled) {
    return { update() {}, log() {}, succeed() {}, fail() {}, stop() {} };
  }
  // A terminal that reports no width (some `script` and CI pseudo-terminals) makes ora's
  // line-clearing arithmetic print cursor movements without end: use plain lines there.
  if (plainProgress() || !(process.stderr.columns > 0)) {
    let last = 0;
    let current = options.initial ?? '';
    if (current) {
      write(current);
      last = Date.now();
    }
    return {
      update(text) {
        const changedPhase = text.split(' ')[0] !== current.split(' ')[0];
        current = text;
        if (changedPhase || Date.now() - last >= heartbeatMs) {
          write(text);
          last = Date.now();
        }
      },
      log: write,
      succeed: write,
      fail: write,
      stop() {},
    };
  }
  const { default: ora } = await import('ora');
  const spinner = ora({ text: options.initial ?? '', stream: process.stderr, discardStdin: false }).start();
  return {
    update(text) {
      spinner.text = text;
    },
    log(line) {
      spinner.clear();
      write(line);
      spinner.render();
    },
    succeed(text) {
      spinner.succeed(text);
    },
    fail(text) {
      spinner.fail(text);
    },
    stop() {
      spinner.stop();
    },
  };
}
