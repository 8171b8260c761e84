/**
 * `npm run build`: what the published package ships (also run by `npm pack` through `prepack`).
 *   dist/lambdas/<name>/index.mjs   the authorizer, key API, leak endpoint and portal, pre-bundled with lib/build/bundling.ts's options
 *                                   (with their chunk-*.mjs beside them);
 *   dist/index.cjs                  the construct library, CommonJS (Node's ESM loader imports it by name too);
 *   dist/context.cjs                `dualgate/context`, for backend Lambdas (no aws-cdk-lib);
 *   dist/cli.mjs                    the `dualgate` CLI;
 *   dist/scan.mjs                   `dualgate scan` alone (pre-commit hooks: no local mode, no SDK to load);
 *   dist/types/…                    declarations, in a folder marked CommonJS to match the code.
 * Everything but the peers (aws-cdk-lib, constructs) and local mode's dynalite and oauth2-mock-server is bundled
 * (chokidar, for `dualgate dev --watch`, included).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { copyPortalStaticFiles, esbuildOptions, LAMBDA_ENTRIES, PACKAGE_ROOT, portalBrowserOptions } from '../lib/build/bundling';

const dist = join(PACKAGE_ROOT, 'dist');
rmSync(dist, { recursive: true, force: true });

for (const [name, entry] of Object.entries(LAMBDA_ENTRIES)) await build(esbuildOptions(entry, join(dist, 'lambdas', name)));
// The portal page (script, HTML, CSS) beside the portal function that serves it.
await build(portalBrowserOptions(join(dist, 'lambdas', 'portal')));
copyPortalStaticFiles(join(dist, 'lambdas', 'portal'));

// import.meta in CommonJS: the library finds its package root (and the bundles) from its own location.
const importMeta = {
  banner: { js: "const __dgImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__dgImportMetaUrl', 'import.meta.dirname': '__dirname' },
};
const library = {
  bundle: true,
  platform: 'node' as const,
  target: 'node20',
  logLevel: 'warning' as const,
  legalComments: 'none' as const,
  sourcemap: true,
};
await build({
  ...library,
  ...importMeta,
  entryPoints: [join(PACKAGE_ROOT, 'lib/index.ts')],
  outfile: join(dist, 'index.cjs'),
  format: 'cjs',
  external: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs', 'esbuild'],
});
await build({ ...library, entryPoints: [join(PACKAGE_ROOT, 'lib/context.ts')], outfile: join(dist, 'context.cjs'), format: 'cjs' });
await build({
  ...library,
  entryPoints: [join(PACKAGE_ROOT, 'bin/dualgate-cli.ts')],
  outfile: join(dist, 'cli.mjs'),
  format: 'esm',
  // Local mode's servers stay packages of their own (dynalite has native parts): the package's dependencies.
  external: ['dynalite', 'oauth2-mock-server', 'esbuild'],
  // No map: nothing reads it (the CLI runs without --enable-source-maps), and it was 2.9 MB of the package
  // (docs/install-footprint.md).
  sourcemap: false,
  banner: { js: "import { createRequire as __dgCreateRequire } from 'node:module'; const require = __dgCreateRequire(import.meta.url);" },
});

await build({
  ...library,
  entryPoints: [join(PACKAGE_ROOT, 'bin/dualgate-scan.ts')],
  outfile: join(dist, 'scan.mjs'),
  format: 'esm',
  sourcemap: false,
});

// Each local function runs in a worker started from this plain-JavaScript file, beside the CLI; the synth probe is
// preloaded into the app's synth by `dualgate dev` (plain CommonJS too).
copyFileSync(join(PACKAGE_ROOT, 'lib/local/function-worker.mjs'), join(dist, 'function-worker.mjs'));
copyFileSync(join(PACKAGE_ROOT, 'lib/local/synth-probe.cjs'), join(dist, 'synth-probe.cjs'));

execFileSync(
  process.execPath,
  [join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(PACKAGE_ROOT, 'tsconfig.build.json')],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
mkdirSync(join(dist, 'types'), { recursive: true });
// The package is "type": "module"; its declarations describe CommonJS code, so their folder says so.
writeFileSync(join(dist, 'types', 'package.json'), '{ "type": "commonjs" }\n');
process.stderr.write(`built ${dist}\n`);
