/** The phases of `up`, in order: this machine and every fleet host run the same list; `check` is the preflight alone. */
import type { Phase } from './context.js';
import { preflightPhase } from './preflight.js';
import { launchPhase } from './launch.js';
import { readyPhase } from './ready.js';
import { warmPhase } from './warm.js';
import { suitePhase } from './suite.js';

export const UP_PHASES: readonly Phase[] = [preflightPhase, launchPhase, readyPhase, warmPhase, suitePhase];
