/** Colours and marks. NO_COLOR (any non-empty value) turns colour off; chalk alone ignores it. */
import { Chalk, supportsColor, type ChalkInstance } from 'chalk';
import type { Status } from '../types.js';

function colourLevel(stream: NodeJS.WriteStream): 0 | 1 | 2 | 3 {
  if (process.env.NO_COLOR) return 0;
  if (process.env.FORCE_COLOR !== undefined) return (supportsColor ? supportsColor.level : 1) as 0 | 1 | 2 | 3;
  if (!stream.isTTY) return 0;
  return (supportsColor ? supportsColor.level : 0) as 0 | 1 | 2 | 3;
}

export const paint: ChalkInstance = new Chalk({ level: colourLevel(process.stdout) });
export const paintErr: ChalkInstance = new Chalk({ level: colourLevel(process.stderr) });

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

/** True for plain line-by-line output: under CI, or when stderr is not a terminal. */
export function plainProgress(): boolean {
  return Boolean(process.env.CI) || !process.stderr.isTTY;
}
