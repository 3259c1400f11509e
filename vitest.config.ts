import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Builds the stand-in guard server image once per run (needs Docker; see the file).
    globalSetup: ['test/global-setup.ts'],
  },
});
