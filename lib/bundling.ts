/**
 * How every Lambda is bundled (NodejsFunction's `bundling`), as plain data: the construct uses it, and the
 * cold-start benchmark (bench/cold-start.ts) builds its bundles from the same options, so the figures are
 * for the code that ships. This module must not import aws-cdk-lib.
 */
import * as path from 'node:path';

/**
 * Bundle-time substitutions. `@aws-sdk/credential-provider-node` (the SDK's default credential chain, with a
 * nested STS client) becomes an environment-only provider: inside Lambda the role's credentials are always
 * in the environment, and the chain is ~95 KB parsed at every cold start for nothing.
 */
export const LAMBDA_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': path.join(import.meta.dirname, '..', 'lambdas', 'shared', 'bundling', 'lambda-env-credentials.ts'),
};

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
/** NODE_OPTIONS for the management and backend functions: stack traces in CloudWatch point at the TypeScript source. */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';
/**
 * The authorizer runs without `--enable-source-maps`: reading and indexing its source map costs ~25 ms of
 * every cold start (measured, README Performance), and it never logs stack traces. The map still ships
 * in the asset, for decoding a trace by hand.
 */
export const AUTHORIZER_NODE_OPTIONS = '';
