/** Colours and marks. NO_COLOR (any non-empty value) turns colour off; chalk alone ignores it. */
import { Chalk, supportsColor, type ChalkInstance } from 'chalk';
import { wantsColor, type OutputMode } from '../settings.js';
import type { Status } from '../types.js';

/** Whether to colour is settings' decision (OutputMode.color); how many colours, chalk's. */
function colourLevel(colour: boolean): 0 | 1 | 2 | 3 {
  if (!colour) return 0;
  return (supportsColor ? supportsColor.level : 0) as 0 | 1 | 2 | 3;
}

// Before settings are resolved (usage errors, unit tests) the same rule applies to the process.
export const paint: ChalkInstance = new Chalk({ level: colourLevel(wantsColor(process.env, process.stdout)) });
export const paintErr: ChalkInstance = new Chalk({ level: colourLevel(wantsColor(process.env, process.stderr)) });

/** Follow the resolved settings (called once, when a command starts). */
export function useOutput(output: OutputMode): void {
  paint.level = colourLevel(output.color);
}

export const MARK: Record<Status, string> = { pass: '✓', warn: '!', fail: '✗', skip: '-', error: '?' };

export function mark(status: Status, c: ChalkInstance = paint): string {
  switch (status) {
    case 'pass':
      return c.green(MARK.pass);
    case 'warn':
      return c.yellow(MARK.warn);
    case 'fail':
      return c.red(MARK.fail);
    case 'skip':
      return c.dim(MARK.skip);
    case 'error':
      return c.magenta(MARK.error);
  }
}
