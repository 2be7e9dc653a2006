import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Interop suites bind fixed loopback addresses and start real daemons: one file at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
