/**
 * Progress while something takes time: an ora spinner on a terminal (stderr), plain lines
 * every `heartbeatMs` under CI or without a terminal, or nothing (see ProgressWhen).
 * Which of these is settings' decision (OutputMode); a command only says when it wants any.
 */
import type { OutputMode } from '../settings.js';

export interface Progress {
  /** Set the current phase text. */
  update(text: string): void;
  /** A line that should stay (printed above the spinner, or as a plain line). */
  log(line: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

/**
 * When a command shows progress at all:
 * - `terminal`: only to a person at a terminal, never with --json (short commands: a CI log
 *   gains nothing from "Scraping ...");
 * - `unless-json`: also as plain heartbeat lines in CI (long waits: `up`, `warm`);
 * - `always`: even with --json, on stderr (`watch`, which runs for minutes);
 * - `never`: not at all (a fleet host's phases, whose hosts run side by side).
 */
export type ProgressWhen = 'terminal' | 'unless-json' | 'always' | 'never';

export async function createProgress(output: OutputMode, options: { when: ProgressWhen; heartbeatMs?: number; initial?: string }): Promise<Progress> {
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const write = (line: string) => process.stderr.write(line + '\n');
  const enabled = options.when !== 'never' && (options.when === 'always' || (!output.json && (options.when === 'unless-json' || output.interactive)));
  if (!enabled) {
    return { update() {}, log() {}, succeed() {}, fail() {}, stop() {} };
  }
  if (!output.interactive) {
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
