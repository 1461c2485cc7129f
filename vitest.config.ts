import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker per core but one: a single worker on a 2-core machine.
    // Most files wait on databases, servers and child processes, so two overlap well there.
    maxWorkers: 2,
  },
});
