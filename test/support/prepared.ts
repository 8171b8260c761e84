/**
 * What several test files need built once: the package (dist/, as `npm run build` makes it) and the cloud
 * assemblies of the demo app and of the example consumer app (examples/orders-app), which `dualgate dev` serves.
 * Each is cached under .dist/ by a fingerprint of the sources, and built under a lock, so parallel test
 * workers neither repeat the work nor read a half-written result.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..');
const CACHE = join(REPO, '.dist', 'test-cache');
const TSX_LOADER = join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs');

function fingerprint(paths: string[]): string {
  const hash = createHash('sha256');
  const walk = (path: string) => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (!['node_modules', 'cdk.out', 'build', '.dist', 'dist'].includes(entry)) walk(join(path, entry));
    } else hash.update(path).update(readFileSync(path));
  };
  for (const path of paths) walk(join(REPO, path));
  return hash.digest('hex').slice(0, 16);
}

/** Run `build` once across processes: a directory lock, waited on by the others. */
function withLock<T>(name: string, build: () => T): T {
  mkdirSync(CACHE, { recursive: true });
  const lock = join(CACHE, `${name}.lock`);
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than 10 minutes belongs to a process that died.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited too long for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): void {
  try {
    execFileSync(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${failure.stdout ?? ''}\n${failure.stderr ?? failure.message}`);
  }
}

const PACKAGE_SOURCES = ['lib', 'lambdas', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

/** dist/ for the current sources (the package build), rebuilt only when they changed. */
export function ensurePackageBuilt(): void {
  const print = fingerprint(PACKAGE_SOURCES);
  const marker = join(REPO, 'dist', '.fingerprint');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === print) return;
  withLock('package', () => {
    if (existsSync(marker) && readFileSync(marker, 'utf8') === print) return;
    run(process.execPath, ['--import', TSX_LOADER, join(REPO, 'bin', 'build-package.ts')], REPO);
    writeFileSync(marker, print);
  });
}

/** Synthesize into a cache directory keyed by the fingerprint; `synth(outdir)` writes the assembly. */
function cachedAssembly(name: string, sources: string[], synth: (outdir: string) => void): string {
  const dir = join(CACHE, `${name}-${fingerprint(sources)}`);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  return withLock(name, () => {
    if (existsSync(join(dir, 'manifest.json'))) return dir;
    const partial = `${dir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    synth(partial);
    renameSync(partial, dir);
    return dir;
  });
}

/** The demo app's assembly, as `npm run dev` synthesizes it; `context` adds CDK context (`dualgate:plans`…). */
export function demoAssembly(context: Record<string, unknown> = {}): string {
  const variant = Object.keys(context).length === 0 ? 'demo-assembly' : `demo-assembly-${createHash('sha256').update(JSON.stringify(context)).digest('hex').slice(0, 8)}`;
  return cachedAssembly(variant, [...PACKAGE_SOURCES, 'cdk.json'], (outdir) =>
    run(process.execPath, ['--import', TSX_LOADER, join(REPO, 'bin', 'dualgate.ts')], REPO, {
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'dualgate:dev': true, 'aws:cdk:enable-path-metadata': true, ...context }),
    }),
  );
}

/**
 * A copy of examples/orders-app wired to this repository as `npm install ../dualgate` would wire it (dualgate,
 * aws-cdk-lib and constructs linked), and its synthesized assembly. The app's TypeScript runs through tsx.
 */
export function exampleApp(): { appDir: string; assemblyDir: string; synthCommand: string } {
  ensurePackageBuilt();
  const sources = [...PACKAGE_SOURCES, 'examples/orders-app'];
  const appDir = join(CACHE, `orders-app-src-${fingerprint(sources)}`);
  const synthCommand = `node --import ${TSX_LOADER} bin/app.ts`;
  withLock('orders-app-copy', () => {
    if (existsSync(join(appDir, 'node_modules', 'dualgate'))) return;
    rmSync(appDir, { recursive: true, force: true });
    cpSync(join(REPO, 'examples', 'orders-app'), appDir, { recursive: true, filter: (source) => !/node_modules|cdk\.out|[/\\]build$/.test(source) });
    mkdirSync(join(appDir, 'node_modules'), { recursive: true });
    for (const name of ['aws-cdk-lib', 'constructs', 'esbuild']) symlinkSync(join(REPO, 'node_modules', name), join(appDir, 'node_modules', name), 'dir');
    symlinkSync(REPO, join(appDir, 'node_modules', 'dualgate'), 'dir');
  });
  const assemblyDir = cachedAssembly('orders-app-assembly', sources, (outdir) =>
    run(process.execPath, ['--import', TSX_LOADER, 'bin/app.ts'], appDir, { CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-path-metadata': true }) }),
  );
  return { appDir, assemblyDir, synthCommand };
}
