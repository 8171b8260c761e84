/**
 * How every Lambda is bundled, as one definition: the package build (bin/build-package.ts) writes the shipped
 * bundles with it, the construct builds the same bundles on demand when it runs from this repository's
 * TypeScript sources (lib/construct/lambda-code.ts), and the cold-start benchmark times them. This module must not
 * import aws-cdk-lib, nor esbuild (a consumer of the package has neither need nor copy of it).
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** Where this repository's (or the installed package's) root is: bundles and sources are found from it. */
export const PACKAGE_ROOT = findPackageRoot(import.meta.dirname);

function findPackageRoot(from: string): string {
  // lib/ in the repository, dist/ (CommonJS bundle) or dist/types/lib in the package: walk up to package.json.
  let dir = from;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'dualgate') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`dualgate: cannot find the package root above ${from}`);
    dir = parent;
  }
}

/** The Lambda bundles dualgate ships, by name → TypeScript entry (relative to the package root). */
export const LAMBDA_ENTRIES = {
  authorizer: 'lambdas/authorizer/handler.ts',
  keys: 'lambdas/keys/handler.ts',
  leaks: 'lambdas/leaks/handler.ts',
  portal: 'lambdas/portal/handler.ts',
} as const;
export type LambdaBundleName = keyof typeof LAMBDA_ENTRIES;

/** The demo app's backends: bundled the same way, from source, never shipped. */
export const DEMO_LAMBDA_ENTRIES = {
  'backends/health': 'examples/demo/backends/health.ts',
  'backends/me': 'examples/demo/backends/me.ts',
  'backends/users': 'examples/demo/backends/users.ts',
} as const;

/**
 * Bundle-time substitutions. `@aws-sdk/credential-provider-node` (the SDK's default credential chain, with a
 * nested STS client) becomes an environment-only provider: inside Lambda the role's credentials are always
 * in the environment, and the chain is ~95 KB parsed at every cold start for nothing.
 */
const LAMBDA_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': path.join(PACKAGE_ROOT, 'lambdas', 'shared', 'bundling', 'lambda-env-credentials.ts'),
};

export const LAMBDA_BUNDLING = {
  minify: true,
  sourceMap: true,
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  // ESM output: some bundled CommonJS dependencies still call require() for Node built-ins. Every output file
  // (the entry and each chunk) starts with it.
  banner: "import { createRequire as __dgCreateRequire } from 'module'; const require = __dgCreateRequire(import.meta.url);",
  // Bundled, not taken from the runtime: tree-shaken to the commands used, and pinned (docs/performance.md).
  externalModules: [] as readonly string[],
} as const;

/**
 * Every bundle is a directory: its entry `index.mjs` (the handler is `index.handler`) and the chunks it imports,
 * `chunk-<content hash>.mjs`, side by side. Code behind a dynamic `import()` (the authorizer's AWS SDK, see
 * lambdas/authorizer/on-demand-key-table.ts) is a chunk that Node reads only when that import runs; shared
 * code is a chunk of its own, so a class has one identity whichever side loaded it first.
 */
export const LAMBDA_BUNDLE_FILE = 'index.mjs';
/** NODE_OPTIONS for the key API and the demo backends: stack traces in CloudWatch point at the TypeScript source. */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';
/**
 * The authorizer runs without `--enable-source-maps`: reading and indexing its source map costs ~25 ms of
 * every cold start (measured, README Performance), and it never logs stack traces. The map still ships
 * in the asset, for decoding a trace by hand.
 */
export const AUTHORIZER_NODE_OPTIONS = '';

/**
 * esbuild's options for one bundle, written to `outdir` (a plain object, so this module needs no esbuild types).
 * Everything lands flat in `outdir`: the construct copies that directory, files only, into the Lambda asset.
 */
export function esbuildOptions(entry: string, outdir: string, external: readonly string[] = LAMBDA_BUNDLING.externalModules) {
  return {
    entryPoints: { [LAMBDA_BUNDLE_FILE.replace(/\.mjs$/, '')]: path.resolve(PACKAGE_ROOT, entry) },
    bundle: true,
    platform: 'node' as const,
    target: LAMBDA_BUNDLING.target,
    format: LAMBDA_BUNDLING.format,
    outdir,
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    minify: LAMBDA_BUNDLING.minify,
    sourcemap: LAMBDA_BUNDLING.sourceMap,
    external: [...external],
    // The SDK aliases only apply when the SDK is bundled.
    ...(external.length === 0 ? { alias: { ...LAMBDA_ALIASES } } : {}),
    banner: { js: LAMBDA_BUNDLING.banner },
    mainFields: [...LAMBDA_BUNDLING.mainFields],
    logLevel: 'silent' as const,
    legalComments: 'none' as const,
  };
}

/**
 * The portal page's browser code and static files: built into the portal bundle's directory beside its handler
 * (which serves them), so the page ships in the package and needs no CDN. No framework: a few kilobytes of DOM code.
 */
const PORTAL_BROWSER_ENTRY = 'lambdas/portal/browser/app.ts';
const PORTAL_STATIC_FILES = ['lambdas/portal/browser/index.html', 'lambdas/portal/browser/portal.css'] as const;

/** esbuild's options for the page's script, `portal.js` in `outdir`. */
export function portalBrowserOptions(outdir: string) {
  return {
    entryPoints: { portal: path.resolve(PACKAGE_ROOT, PORTAL_BROWSER_ENTRY) },
    bundle: true,
    platform: 'browser' as const,
    format: 'iife' as const,
    target: 'es2022',
    outdir,
    minify: true,
    sourcemap: false,
    logLevel: 'silent' as const,
    legalComments: 'none' as const,
  };
}

/** Copy the page's static files into `outdir` (after `portalBrowserOptions` built its script there). */
export function copyPortalStaticFiles(outdir: string): void {
  for (const file of PORTAL_STATIC_FILES) copyFileSync(path.resolve(PACKAGE_ROOT, file), path.join(outdir, path.basename(file)));
}
