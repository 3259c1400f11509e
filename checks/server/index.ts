/** The results `up`'s phases and `warm`/`suite` build outside the facts pipeline: each id's spec and builders. */
export { serverReady, readyPassed, readyFailed, type DownloadSplit } from './ready.js';
export { serverWarm, warmJudged, WARM_P50_LIMIT_MS } from './warm.js';
export { serverAuth, authFailed } from './auth.js';
export { serverSuite, suiteStopped } from './suite.js';
export { containerName, nameJudged, nameUnknown, type NamePlan } from './container.js';
