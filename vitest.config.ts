import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every test file fails if a credential reaches its logs.
    setupFiles: ['test/support/credential-scan.ts'],
    // Passing output stays quiet. The AWS SDK warns once per worker that releases after January 2027 need
    // Node 22; the tests run the locked SDK on Node 20, as local mode does (lib/local/dev-command.ts silences it the same way).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // CDK synth and the local stack are CPU-heavy on a 2-core machine.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
