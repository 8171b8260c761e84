/**
 * What `npm i dualgate` runs on a platform team's machine (docs/install-footprint.md): of everything the package's
 * `dependencies` pull in, only classic-level (dynalite → level) has an install script, and that script only
 * looks for a prebuilt binary before it would compile. A new dependency, or an update, that brings another install
 * script or a native build would change what every consumer's install does: this says so before it ships.
 * Read from package-lock.json and the installed node_modules: no network.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..');

interface LockedPackage {
  version?: string;
  hasInstallScript?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };
const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** Node's lookup: `<from>/node_modules/<name>`, then each enclosing node_modules up to the root's. */
function locate(name: string, from: string): string {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) throw new Error(`package-lock.json has no ${name} reachable from ${from || 'the root'}`);
    const at = base.lastIndexOf('/node_modules/');
    base = at === -1 ? '' : base.slice(0, at);
  }
}

/** Lock paths of every package installed because of the package's own `dependencies` (what a consumer gets). */
function runtimeClosure(): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const entry = lock.packages[path]!;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) visit(locate(name, path));
  };
  for (const name of Object.keys(manifest.dependencies)) visit(locate(name, ''));
  return seen;
}

const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

describe('what installing dualgate runs', () => {
  const closure = runtimeClosure();

  it('has one package with an install script among them, classic-level, whose script is node-gyp-build', () => {
    expect(closure.has('node_modules/dynalite') && closure.has('node_modules/oauth2-mock-server')).toBe(true);
    const withInstallScripts = [...closure].filter((path) => lock.packages[path]!.hasInstallScript).map(nameOf);
    expect(withInstallScripts).toEqual(['classic-level']);
    const classicLevel = JSON.parse(readFileSync(join(REPO, 'node_modules', 'classic-level', 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(classicLevel.scripts.install).toBe('node-gyp-build');
    expect(classicLevel.scripts.preinstall ?? classicLevel.scripts.postinstall).toBeUndefined();
  });

  it('finds classic-level prebuilt for the platforms platform teams develop on, so nothing compiles there', () => {
    const prebuilds = join(REPO, 'node_modules', 'classic-level', 'prebuilds');
    expect(existsSync(prebuilds)).toBe(true);
    const platforms = readdirSync(prebuilds);
    expect(platforms).toEqual(expect.arrayContaining(['linux-x64', 'linux-arm64', 'darwin-x64+arm64', 'win32-x64']));
    // glibc and musl (Alpine containers) on linux-x64.
    expect(readdirSync(join(prebuilds, 'linux-x64')).sort()).toEqual(['classic-level.musl.node', 'classic-level.node']);
  });

  it('has no other native code: no binding.gyp or .node file outside classic-level', () => {
    const native = [...closure]
      .filter((path) => nameOf(path) !== 'classic-level')
      .filter((path) => {
        const dir = join(REPO, path);
        if (existsSync(join(dir, 'binding.gyp')) || existsSync(join(dir, 'prebuilds'))) return true;
        return readdirSync(dir, { recursive: true, encoding: 'utf8' }).some((file) => file.endsWith('.node'));
      });
    expect(native.map(nameOf)).toEqual([]);
  });
});
