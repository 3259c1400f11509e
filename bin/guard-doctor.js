#!/usr/bin/env node
// Entry point. `--version` is answered before anything heavy loads; every command's code is
// loaded only when it runs (see src/cli.ts).
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const root = new URL('..', import.meta.url);

if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}

const entry = new URL('dist/bundle/cli.js', root);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(
    'guard-doctor: the program is not built yet (dist/ is missing).\n' +
      `  fix: run \`npm install\` (or \`npm run build\`) in ${fileURLToPath(root)}\n`,
  );
  process.exit(2);
}

const { main } = await import(entry.href);
const code = await main(process.argv);
// Let pending output drain; open keep-alive sockets or timers must not hold the process.
process.exitCode = code;
setImmediate(() => process.exit(code));
