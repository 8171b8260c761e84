/**
 * Where a Lambda's code comes from. The installed package ships pre-bundled code (dist/lambdas, built by
 * bin/build-package.ts), so a consumer's synth needs no esbuild. Running from this repository's TypeScript
 * sources, the same bundles are built on demand with the same options (lib/build/bundling.ts), once per content.
 *
 * The app's route table and catalog are data the bundle reads at init from a file beside it: each asset is a
 * small directory holding the bundle and that file, keyed by content, so equal configurations share an asset.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { copyPortalStaticFiles, esbuildOptions, LAMBDA_BUNDLE_FILE, PACKAGE_ROOT, portalBrowserOptions } from '../build/bundling';

/** True when this module runs as TypeScript from the repository (tsx, vitest), false from the built package. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

class LambdaCodeError extends Error {
  override readonly name = 'LambdaCodeError';
}

/** The directory holding `index.mjs`, its chunks and their maps for a bundle, by its entry (relative to the package root). */
export function bundleDirectory(name: string, entry: string): string {
  if (!FROM_SOURCE) {
    const shipped = path.join(PACKAGE_ROOT, 'dist', 'lambdas', name);
    if (!existsSync(path.join(shipped, LAMBDA_BUNDLE_FILE)))
      throw new LambdaCodeError(
        `dualgate: the package has no pre-built bundle at ${shipped}; reinstall it, or run \`npm run build\` in a linked checkout`,
      );
    return shipped;
  }
  return buildFromSource(name, entry);
}

const built = new Map<string, string>();

/** Build from source into .dist/bundles/<content hash>/<name>, reusing an earlier identical build. */
function buildFromSource(name: string, entry: string): string {
  const cached = built.get(name);
  if (cached) return cached;
  const hash = createHash('sha256')
    .update(JSON.stringify(esbuildOptions(entry, '.')))
    .update(sourceFingerprint())
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(PACKAGE_ROOT, '.dist', 'bundles', hash, name);
  if (!existsSync(path.join(dir, LAMBDA_BUNDLE_FILE))) {
    // Build beside the target and rename: test workers may build the same bundle at once.
    const partial = `${dir}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    const esbuild = createRequire(import.meta.url)('esbuild') as { buildSync: (options: object) => unknown };
    esbuild.buildSync(esbuildOptions(entry, partial));
    if (name === 'portal') {
      esbuild.buildSync(portalBrowserOptions(partial));
      copyPortalStaticFiles(partial);
    }
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      renameSync(partial, dir);
    } catch (error) {
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(path.join(dir, LAMBDA_BUNDLE_FILE))) throw error;
    }
  }
  built.set(name, dir);
  return dir;
}

let fingerprint: string | undefined;
/** A hash of every source a bundle can include: lambdas/ and the lockfile. */
function sourceFingerprint(): string {
  if (fingerprint) return fingerprint;
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else hash.update(full).update(readFileSync(full));
    }
  };
  walk(path.join(PACKAGE_ROOT, 'lambdas'));
  const lock = path.join(PACKAGE_ROOT, 'package-lock.json');
  if (existsSync(lock)) hash.update(readFileSync(lock));
  fingerprint = hash.digest('hex');
  return fingerprint;
}

/**
 * A code directory for one function: the bundle plus `files` (name → contents) beside it. Content-addressed under
 * the OS temp directory; CDK copies it into the cloud assembly, so the same inputs give the same asset hash.
 */
export function codeDirectoryWith(bundleDir: string, files: Record<string, string>): string {
  const hash = createHash('sha256');
  const bundleFiles = readdirSync(bundleDir).sort();
  for (const file of bundleFiles) hash.update(file).update(readFileSync(path.join(bundleDir, file)));
  for (const [file, contents] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) hash.update(file).update(contents);
  const dir = path.join(tmpdir(), 'dualgate-assets', hash.digest('hex').slice(0, 24));
  if (existsSync(path.join(dir, '.complete'))) return dir;
  const partial = `${dir}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (const file of bundleFiles)
    if (statSync(path.join(bundleDir, file)).isFile()) copyFileSync(path.join(bundleDir, file), path.join(partial, file));
  for (const [file, contents] of Object.entries(files)) writeFileSync(path.join(partial, file), contents);
  writeFileSync(path.join(partial, '.complete'), '');
  try {
    renameSync(partial, dir);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(path.join(dir, '.complete'))) throw error;
  }
  return dir;
}
