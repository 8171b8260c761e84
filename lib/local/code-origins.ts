/**
 * Where each function's code asset came from, as the synth probe recorded it (lib/local/synth-probe.cjs), and how to
 * make it again from edited sources without synthesizing the app: a `Code.fromAsset` directory is copied again, a
 * NodejsFunction bundle is rebuilt with the very esbuild command CDK ran. That is what lets `--watch` serve an edit
 * to a function's own code in well under the time a synth takes; lib/local/dev-reloader.ts decides when it may.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  copyFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { probeRecordsFile } from './synth';

interface EsbuildStep {
  command: string;
  args: string[];
  cwd: string;
  /** Variables the bundling step set on top of the synth's environment (NodejsFunction's `bundling.environment`). */
  env: Record<string, string>;
  /** The directory esbuild wrote into during the synth (renamed to the asset directory afterwards). */
  outputDir: string;
  /** Where esbuild wrote the bundle's inputs; `metafileAdded` when the probe asked for it, not the app. */
  metafile: string;
  metafileAdded: boolean;
}

/** How one code asset was made. Files are absolute paths with symbolic links resolved. */
export type CodeOrigin =
  | { kind: 'copy'; assetDir: string; sourceDir: string }
  | { kind: 'esbuild'; assetDir: string; step: EsbuildStep; inputs: ReadonlySet<string> };

type ProbeRecord =
  | { kind: 'copy'; assetDir: string; sourceDir: string }
  | { kind: 'rename'; from: string; to: string }
  | ({ kind: 'esbuild' } & EsbuildStep);

/** A path with symbolic links resolved as far as it exists (a deleted file keeps its resolved directory). */
export function realPath(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPath(parent), path.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
  }
}

/** The files an esbuild metafile lists as inputs, absolute (esbuild writes them relative to its working directory). */
function metafileInputs(metafile: string, cwd: string): Set<string> | undefined {
  try {
    const parsed = JSON.parse(readFileSync(metafile, 'utf8')) as { inputs?: Record<string, unknown> };
    // Inputs such as `<define:process.env>` or a namespace are not files.
    return new Set(
      Object.keys(parsed.inputs ?? {})
        .filter((input) => !input.includes(':') || /^[A-Za-z]:[\\/]/.test(input))
        .map((input) => realPath(resolve(cwd, input))),
    );
  } catch {
    return undefined;
  }
}

/** The probe's records of a synth into `outdir`: each code asset directory and how it was made. */
export function readCodeOrigins(outdir: string): Map<string, CodeOrigin> {
  const origins = new Map<string, CodeOrigin>();
  const file = probeRecordsFile(outdir);
  if (!existsSync(file)) return origins;
  const records = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as ProbeRecord];
      } catch {
        return [];
      }
    });
  const renames = new Map<string, string>();
  for (const entry of records) if (entry.kind === 'rename') renames.set(entry.from, entry.to);
  const finalDir = (dir: string) => {
    let current = dir;
    for (let hops = 0; renames.has(current) && hops < 8; hops++) current = renames.get(current) as string;
    return current;
  };
  for (const entry of records) {
    if (entry.kind === 'copy')
      origins.set(entry.assetDir, { kind: 'copy', assetDir: entry.assetDir, sourceDir: realPath(entry.sourceDir) });
    if (entry.kind === 'esbuild') {
      const assetDir = finalDir(entry.outputDir);
      if (assetDir === entry.outputDir || !existsSync(assetDir)) continue;
      // The app's own metafile is written inside the output directory, so it moved with it.
      const metafile = entry.metafile.startsWith(entry.outputDir + sep)
        ? join(assetDir, relative(entry.outputDir, entry.metafile))
        : entry.metafile;
      const inputs = metafileInputs(metafile, entry.cwd);
      // Two esbuild runs into one asset (or none readable) is a build this cannot repeat: such an asset re-synthesizes.
      if (!inputs || origins.has(assetDir)) {
        origins.delete(assetDir);
        continue;
      }
      const { kind: _kind, ...step } = entry;
      origins.set(assetDir, { kind: 'esbuild', assetDir, step, inputs });
    }
  }
  return origins;
}

/** Whether `path` is one of the files the code was made from. */
export function isSourceOf(origin: CodeOrigin, path: string): boolean {
  return origin.kind === 'copy' ? path.startsWith(origin.sourceDir + sep) : origin.inputs.has(path);
}

/** esbuild failed to rebuild a bundle: its own message says why. */
export class RebuildError extends Error {
  override readonly name = 'RebuildError';
}

/** The esbuild executable the app has installed: its node_modules/.bin link, else the package's own `bin`. */
function installedEsbuild(cwd: string): string | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const bin = join(dir, 'node_modules', '.bin', 'esbuild');
    if (existsSync(bin)) return bin;
    if (dirname(dir) === dir) break;
  }
  try {
    const manifestFile = createRequire(join(cwd, 'package.json')).resolve('esbuild/package.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.['esbuild'];
    return bin ? join(dirname(manifestFile), bin) : undefined;
  } catch {
    return undefined;
  }
}

/** `npx --no-install esbuild …` as the installed binary, when there is one: npx alone costs half a second or more. */
function directCommand(step: EsbuildStep): { command: string; args: string[] } {
  const [first, second, ...rest] = step.args;
  if (step.command === 'npx' && first === '--no-install' && second === 'esbuild') {
    const bin = installedEsbuild(step.cwd);
    if (bin) return { command: bin, args: rest };
  }
  return { command: step.command, args: step.args };
}

function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', (error) => resolvePromise({ code: -1, output: error.message }));
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

/** Copy every file under `from` over the same place under `to`. */
function overlay(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      mkdirSync(target, { recursive: true });
      overlay(source, target);
    } else copyFileSync(source, target);
  }
}

interface RebuiltCode {
  codeDir: string;
  /** The origin to rebuild from next time (a bundle's inputs may have changed with the edit). */
  origin: CodeOrigin;
}

/**
 * Make the code again from the edited sources, starting from `currentDir` (what is served now), into a new
 * directory: for a copy, the changed files copied over (deleted ones removed); for a bundle, esbuild run as the
 * synth ran it, its outputs laid over the rest (files a hook or `nodeModules` added stay).
 */
export async function rebuildCode(origin: CodeOrigin, currentDir: string, changed: readonly string[]): Promise<RebuiltCode> {
  const codeDir = mkdtempSync(join(tmpdir(), 'dualgate-code-'));
  cpSync(currentDir, codeDir, { recursive: true });
  if (origin.kind === 'copy') {
    for (const path of changed) {
      if (!isSourceOf(origin, path)) continue;
      const target = join(codeDir, relative(origin.sourceDir, path));
      if (existsSync(path) && statSync(path).isFile()) {
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(path, target);
      } else rmSync(target, { recursive: true, force: true });
    }
    return { codeDir, origin };
  }
  const { step } = origin;
  const buildDir = mkdtempSync(join(tmpdir(), 'dualgate-bundle-'));
  try {
    const metafile = step.metafileAdded ? `${buildDir}.meta.json` : step.metafile.split(step.outputDir).join(buildDir);
    const args = step.args.map((arg) =>
      arg.startsWith('--metafile=') && step.metafileAdded ? `--metafile=${metafile}` : arg.split(step.outputDir).join(buildDir),
    );
    const direct = directCommand({ ...step, args });
    const { code, output } = await run(direct.command, direct.args, step.cwd, step.env);
    if (code !== 0) {
      rmSync(codeDir, { recursive: true, force: true });
      throw new RebuildError(output.trim() || `esbuild exited with code ${code}`);
    }
    overlay(buildDir, codeDir);
    const inputs = metafileInputs(metafile, step.cwd) ?? origin.inputs;
    if (step.metafileAdded) rmSync(metafile, { force: true });
    return { codeDir, origin: { ...origin, inputs } };
  } finally {
    rmSync(buildDir, { recursive: true, force: true });
  }
}

/**
 * Whether two directories hold the same code: the same files with the same bytes, source maps aside (a rebuild's
 * map names the sources from another directory than the synth's, which changes nothing that runs).
 */
export function sameFiles(a: string, b: string): boolean {
  const list = (dir: string, prefix = ''): string[] =>
    readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? list(dir, join(prefix, entry.name)) : [join(prefix, entry.name)],
    );
  try {
    const files = list(a).sort();
    const others = list(b).sort();
    if (files.length !== others.length || files.some((file, index) => file !== others[index])) return false;
    return files.every((file) => file.endsWith('.map') || readFileSync(join(a, file)).equals(readFileSync(join(b, file))));
  } catch {
    return false;
  }
}
