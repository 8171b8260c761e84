import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every test file fails if a credential reaches its logs.
    setupFiles: ['test/support/credential-scan.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // CDK synth and the local stack are CPU-heavy on a 2-core machine.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
