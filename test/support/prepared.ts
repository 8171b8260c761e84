/**
 * What several test files need built once: the package (dist/, as `npm run build` makes it, and its `npm pack`
 * tarball) and the cloud assemblies of the demo app and of the consumer apps (examples/orders-app,
 * test/fixtures/overlap-app), which `dualgate dev` serves.
 * Each is cached under .dist/ by a fingerprint of the sources, and built under a lock, so parallel test
 * workers neither repeat the work nor read a half-written result.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..');
const CACHE = join(REPO, '.dist', 'test-cache');
const TSX_LOADER = join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs');

function fingerprint(paths: string[]): string {
  const hash = createHash('sha256');
  const walk = (path: string) => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort())
        if (!['node_modules', 'cdk.out', 'build', '.dist', 'dist'].includes(entry)) walk(join(path, entry));
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

function output(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${failure.stdout ?? ''}\n${failure.stderr ?? failure.message}`);
  }
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): void {
  output(command, args, cwd, env);
}

const PACKAGE_SOURCES = ['lib', 'lambdas', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
/** What the tarball holds besides the build. */
const PACKED_SOURCES = [...PACKAGE_SOURCES, 'README.md', 'SECURITY.md', 'docs'];

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
  const variant =
    Object.keys(context).length === 0
      ? 'demo-assembly'
      : `demo-assembly-${createHash('sha256').update(JSON.stringify(context)).digest('hex').slice(0, 8)}`;
  return cachedAssembly(variant, [...PACKAGE_SOURCES, 'cdk.json'], (outdir) =>
    run(process.execPath, ['--import', TSX_LOADER, join(REPO, 'bin', 'dualgate.ts')], REPO, {
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'dualgate:dev': true, 'aws:cdk:enable-path-metadata': true, ...context }),
    }),
  );
}

/**
 * How a consumer app gets dualgate:
 * - `linked`: as `npm install ../dualgate` wires it: a symlink to this repository (dist/ built).
 * - `packed`: as `npm install dualgate-x.y.z.tgz` wires it: the `npm pack` tarball unpacked into node_modules/dualgate,
 *   its bin linked into node_modules/.bin, and its dependencies (dynalite, oauth2-mock-server) beside it, as npm
 *   hoists them. Those and the peer dependencies are linked from this repository's node_modules rather than
 *   downloaded (test/package/pack.test.ts does the full `npm install`).
 */
export type ConsumerInstall = 'linked' | 'packed';

/** The tarball `npm pack` makes of the current sources (after the package build), cached by their fingerprint. */
export function packedPackage(): string {
  ensurePackageBuilt();
  const dir = join(CACHE, `pack-${fingerprint(PACKED_SOURCES)}`);
  const done = join(dir, 'tarball');
  if (existsSync(done)) return readFileSync(done, 'utf8');
  return withLock('pack', () => {
    if (existsSync(done)) return readFileSync(done, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // The package is built above: pack without running prepack again.
    const packed = JSON.parse(
      output('npm', ['pack', '--json', '--ignore-scripts', '--loglevel=error', '--pack-destination', dir], REPO),
    ) as { filename: string }[];
    const tarball = join(dir, packed[0]!.filename);
    writeFileSync(done, tarball);
    return tarball;
  });
}

/** A copy of a consumer app's sources (under the cache), with dualgate, aws-cdk-lib and constructs installed as `install` says. */
function consumerApp(name: string, source: string, install: ConsumerInstall): string {
  const appDir =
    install === 'linked'
      ? join(CACHE, `${name}-src-${fingerprint([...PACKAGE_SOURCES, source])}`)
      : join(CACHE, `${name}-src-packed-${fingerprint([...PACKED_SOURCES, source])}`);
  withLock(`${name}-copy`, () => {
    if (existsSync(join(appDir, 'node_modules', 'dualgate'))) return;
    rmSync(appDir, { recursive: true, force: true });
    cpSync(join(REPO, source), appDir, { recursive: true, filter: (path) => !/node_modules|cdk\.out|[/\\]build$/.test(path) });
    const modules = join(appDir, 'node_modules');
    mkdirSync(modules, { recursive: true });
    const linkFromRepo = (packages: string[]) => {
      for (const name of packages) symlinkSync(join(REPO, 'node_modules', name), join(modules, name), 'dir');
    };
    linkFromRepo(['aws-cdk-lib', 'constructs', 'esbuild']);
    if (install === 'linked') {
      symlinkSync(REPO, join(modules, 'dualgate'), 'dir');
      return;
    }
    const tarball = packedPackage();
    const unpacked = join(modules, '.dualgate-unpacking');
    mkdirSync(unpacked);
    run('tar', ['-xzf', tarball, '-C', unpacked], appDir);
    linkFromRepo(['dynalite', 'oauth2-mock-server']);
    mkdirSync(join(modules, '.bin'));
    // Last: node_modules/dualgate is what marks the copy complete.
    renameSync(join(unpacked, 'package'), join(modules, 'dualgate'));
    rmSync(unpacked, { recursive: true, force: true });
    const bin = join(modules, 'dualgate', 'bin', 'dualgate-cli.mjs');
    chmodSync(bin, 0o755);
    symlinkSync(join('..', 'dualgate', 'bin', 'dualgate-cli.mjs'), join(modules, '.bin', 'dualgate'));
  });
  return appDir;
}

/**
/**
 * A copy of an example app (examples/orders-app by default, or examples/existing-api) wired to this repository as
 * `npm install ../dualgate` would wire it (dualgate, aws-cdk-lib and constructs linked), or (`packed`) with dualgate
 * installed from the packed tarball, and its synthesized assembly. The app's TypeScript runs through tsx.
 */
export function exampleApp(
  example: 'orders-app' | 'existing-api' = 'orders-app',
  install: ConsumerInstall = 'linked',
): { appDir: string; assemblyDir: string; synthCommand: string } {
  ensurePackageBuilt();
  const sources = [...(install === 'linked' ? PACKAGE_SOURCES : PACKED_SOURCES), `examples/${example}`];
  const appDir = consumerApp(example, `examples/${example}`, install);
  const synthCommand = `node --import ${TSX_LOADER} bin/app.ts`;
  const assemblyDir = cachedAssembly(install === 'linked' ? `${example}-assembly` : `${example}-packed-assembly`, sources, (outdir) =>
    run(process.execPath, ['--import', TSX_LOADER, 'bin/app.ts'], appDir, {
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-path-metadata': true }),
    }),
  );
  return { appDir, assemblyDir, synthCommand };
}

const OVERLAP_APP = 'test/fixtures/overlap-app';

/**
 * test/fixtures/overlap-app installed from the packed tarball, and its assembly, synthesized with its own cdk.json
 * command and the context `dualgate dev` passes, as `dualgate dev` would synthesize it.
 */
export function overlapApp(): { appDir: string; assemblyDir: string } {
  return packedFixtureApp('overlap-app', OVERLAP_APP, { OVERLAP_APP_PLANS: 'false' }, { 'dualgate:dev': true });
}

/** A fixture app installed from the packed tarball, and its assembly synthesized with its own cdk.json command. */
function packedFixtureApp(
  name: string,
  source: string,
  env: NodeJS.ProcessEnv,
  context: Record<string, unknown>,
): { appDir: string; assemblyDir: string } {
  const appDir = consumerApp(name, source, 'packed');
  const appCommand = (JSON.parse(readFileSync(join(appDir, 'cdk.json'), 'utf8')) as { app: string }).app;
  const assemblyDir = cachedAssembly(`${name}-assembly`, [...PACKED_SOURCES, source], (outdir) =>
    run('sh', ['-c', appCommand], appDir, {
      ...env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true, ...context }),
    }),
  );
  return { appDir, assemblyDir };
}

const DEV_LOOP_APP = 'test/fixtures/dev-loop-app';

/**
 * test/fixtures/dev-loop-app installed from the packed tarball, as a user's app gets dualgate: a function that logs
 * then throws, one to edit. A test that edits it works on a copy (cpSync with verbatimSymlinks keeps the install).
 */
export function devLoopApp(): string {
  return consumerApp('dev-loop-app', DEV_LOOP_APP, 'packed');
}

const LARGE_APP = 'test/fixtures/large-app';

/**
 * test/fixtures/large-app (300 routes, 10 functions, plans, monitoring) installed from the packed tarball, and its
 * assembly synthesized with its own cdk.json command, CDK's default resource limit and the context the CDK CLI and
 * `dualgate dev` pass.
 */
export function largeApp(): { appDir: string; assemblyDir: string } {
  return packedFixtureApp('large-app', LARGE_APP, {}, {});
}
