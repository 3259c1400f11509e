import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// dist/bundle/cli.js (the bundle) and dist/src/version.js -> ../../package.json; src/version.ts (tests) -> ../package.json
function readVersion(): string {
  for (const candidate of ['../../package.json', '../package.json']) {
    try {
      const pkg = require(candidate) as { name?: string; version?: string };
      if (pkg.name === 'guard-doctor' && pkg.version) return pkg.version;
    } catch {
      // try the next layout
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
