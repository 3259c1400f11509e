/** The phases of `up`, in order: this machine and every fleet host run the same list; `check` is the preflight alone, `warm --url` the ready and warm phases. */
import type { Phase } from './context.js';
import { preflightPhase } from './preflight.js';
import { launchPhase } from './launch.js';
import { readyPhase } from './ready.js';
import { warmPhase } from './warm.js';
import { suitePhase } from './suite.js';

export const UP_PHASES: readonly Phase[] = [preflightPhase, launchPhase, readyPhase, warmPhase, suitePhase];

/** `warm --url`: a server started some other way, waited for and warmed by the same two phases. */
export const WARM_PHASES: readonly Phase[] = [readyPhase, warmPhase];
