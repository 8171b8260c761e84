/**
 * How every Lambda is bundled (NodejsFunction's `bundling`), as plain data: the construct uses it, and the
 * cold-start benchmark (bench/cold-start.ts) builds its bundles from the same options, so the figures are
 * for the code that ships. This module must not import aws-cdk-lib.
 */
export const LAMBDA_BUNDLING = {
  minify: true,
  sourceMap: true,
  format: 'esm',
  target: 'node24',
  mainFields: ['module', 'main'],
  // ESM output: some bundled CommonJS dependencies still call require() for Node built-ins.
  banner: "import { createRequire as __dgCreateRequire } from 'module'; const require = __dgCreateRequire(import.meta.url);",
  // Bundled, not taken from the runtime: tree-shaken to the commands used, and pinned (see README, Performance).
  externalModules: [] as readonly string[],
} as const;

/** NodejsFunction writes ESM bundles as index.mjs. */
export const LAMBDA_BUNDLE_FILE = 'index.mjs';
/** NODE_OPTIONS for every function: stack traces in CloudWatch point at the TypeScript source. */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';
