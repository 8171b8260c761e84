/**
 * `dualgate dev --watch`: what a batch of changed files does to what is served.
 *
 * - Every changed file is a source of some function's code (a file of a `Code.fromAsset` directory, an input of a
 *   NodejsFunction bundle): that code alone is made again (lib/local/code-origins.ts) and those functions serve it,
 *   in a fraction of a synth's time. The app is then synthesized in the background to confirm: if the template
 *   changed after all (a file the stack imports too), the whole app reloads from that synth.
 * - Anything else: the app is synthesized again and reloaded whole, keys, tokens and ports kept.
 *
 * A synth or a rebuild that fails leaves the previous version serving, with its real error printed. Batches are
 * handled one at a time, in order; a batch that comes during a reload waits for it, and one that comes during a
 * confirming synth stops that synth (the next one confirms both).
 */
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readCloudAssembly } from './assembly';
import { isSourceOf, readCodeOrigins, realPath, rebuildCode, RebuildError, sameFiles, type CodeOrigin } from './code-origins';
import { routeChanges } from './dev-banner';
import { functionLabel, startDevServer, type DevServer, type DevServerOptions } from './dev-server';
import type { ChangeBatch, ChangedFile } from './source-watcher';
import { killRunningSynth, SynthError } from './synth';

/** One code asset and the functions that run it. */
interface CodeUnit {
  origin: CodeOrigin;
  /** What is served now: the asset of the served assembly, or a rebuild of it. */
  servedDir: string;
  /** servedDir is a rebuild of ours (deleted once replaced). */
  rebuilt: boolean;
  functionIds: string[];
  /** How logs name those functions. */
  labels: string[];
}

/** What is being served: the assembly it came from, and how each function's code can be made again. */
interface Served {
  server: DevServer;
  assemblyDir: string;
  templates: string;
  units: CodeUnit[];
  /** Each function's code directory as served, by logical id (for the confirming synth's comparison). */
  codeDirs: Map<string, string>;
  /** Function code was rebuilt since this assembly was synthesized: a synth should confirm the template. */
  unconfirmed: boolean;
  /** When the first change not yet confirmed was seen. */
  unconfirmedSinceMs?: number;
}

/** The templates of an assembly with every asset hash blanked: equal when only function code changed. */
function templatesFingerprint(assemblyDir: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory() && entry.name.startsWith('assembly-')) walk(join(dir, entry.name));
      else if (entry.isFile() && entry.name.endsWith('.template.json'))
        hash.update(entry.name).update(readFileSync(join(dir, entry.name), 'utf8').replace(/[0-9a-f]{64}/g, '#'));
    }
  };
  walk(assemblyDir);
  return hash.digest('hex');
}

/** Where each code directory of the assembly came from, for stack traces (DevServerOptions.codeSources). */
export function codeSourcesOf(origins: ReadonlyMap<string, CodeOrigin>): Map<string, string> {
  const sources = new Map<string, string>();
  for (const [assetDir, origin] of origins) if (origin.kind === 'copy') sources.set(assetDir, origin.sourceDir);
  return sources;
}

function unitsOf(
  assemblyDir: string,
  stack: string | undefined,
  origins: ReadonlyMap<string, CodeOrigin>,
): { units: CodeUnit[]; codeDirs: Map<string, string> } {
  const assembly = readCloudAssembly(assemblyDir, stack ? { stack } : {});
  const units = new Map<string, CodeUnit>();
  const codeDirs = new Map<string, string>();
  for (const fn of assembly.functions.values()) {
    if (!fn.codeDir) continue;
    codeDirs.set(fn.logicalId, fn.codeDir);
    const origin = origins.get(fn.codeDir);
    if (!origin) continue;
    const unit = units.get(fn.codeDir) ?? { origin, servedDir: fn.codeDir, rebuilt: false, functionIds: [], labels: [] };
    unit.functionIds.push(fn.logicalId);
    unit.labels.push(functionLabel(fn));
    units.set(fn.codeDir, unit);
  }
  return { units: [...units.values()], codeDirs };
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');

const describeFiles = (files: readonly ChangedFile[]) => {
  const names = files.map((file) => file.relativePath + (file.exists ? '' : ' (deleted)'));
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
};

interface DevReloaderOptions {
  server: DevServer;
  assemblyDir: string;
  /** Synthesize the app into a new directory (recording code origins); rejects with SynthError. */
  synth: (onStart?: (child: ChildProcess) => void) => Promise<string>;
  /** A synth is about to start (the watcher then knows which files it has read). */
  onSynthStart?: () => void;
  /** Delete a synthesized directory that is no longer served. */
  discard: (assemblyDir: string) => void;
  serveOptions: Omit<DevServerOptions, 'assemblyDir' | 'gatewayPorts' | 'reuse' | 'codeSources'>;
  note: (message: string) => void;
  /** A reload that cannot serve anything any more (the ports were lost): dev has to stop. */
  fatal: (message: string) => void;
  /** Quiet time after a function-code reload before the confirming synth starts. */
  confirmAfterMs?: number;
}

export class DevReloader {
  private served: Served;
  private queued = new Map<string, ChangedFile>();
  private queuedSinceMs = 0;
  private lock: Promise<void> = Promise.resolve();
  private generation = 0;
  private confirmTimer: NodeJS.Timeout | undefined;
  private confirmSynth: ChildProcess | undefined;
  private stopped = false;

  constructor(private readonly options: DevReloaderOptions) {
    const origins = readCodeOrigins(options.assemblyDir);
    this.served = {
      server: options.server,
      assemblyDir: options.assemblyDir,
      templates: templatesFingerprint(options.assemblyDir),
      ...unitsOf(options.assemblyDir, options.serveOptions.stack, origins),
      unconfirmed: false,
    };
  }

  get server(): DevServer {
    return this.served.server;
  }

  /** Changes seen by the watcher. */
  readonly onBatch = (batch: ChangeBatch): void => {
    if (this.stopped) return;
    this.generation += 1;
    this.cancelConfirm();
    if (this.queued.size === 0) this.queuedSinceMs = batch.firstSeenMs;
    for (const file of batch.files) this.queued.set(file.path, file);
    // Not awaited: a watcher event only queues; exclusive() reports a failed reload itself.
    void this.exclusive(() => this.drain());
  };

  /** Stop confirming and delete rebuilt code; what is being served keeps serving until the caller stops it. */
  stop(): void {
    this.stopped = true;
    this.cancelConfirm();
    for (const unit of this.served.units) if (unit.rebuilt) rmSync(unit.servedDir, { recursive: true, force: true });
  }

  /** Every step that changes what is served runs alone, in order. */
  private exclusive(step: () => Promise<void>): Promise<void> {
    this.lock = this.lock
      .then(step)
      .catch((error: unknown) => this.options.note(`reload failed: ${error instanceof Error ? error.message : String(error)}`));
    return this.lock;
  }

  private async drain(): Promise<void> {
    if (this.stopped) return;
    const sinceMs = this.queuedSinceMs;
    // A file no synth has read, and no function's code is made of, changes nothing served (a temporary file).
    const files = [...this.queued.values()].filter((file) => !file.isNew || this.ownersOf(file).length > 0);
    this.queued = new Map();
    if (files.length > 0) {
      const plan = this.functionsOnly(files);
      if (plan) await this.reloadFunctionCode(files, plan, sinceMs);
      else await this.reloadApp(files, sinceMs);
    }
    // The batch stopped any confirming synth: one starts again once the changes stop.
    if (this.served.unconfirmed) this.scheduleConfirm();
  }

  private ownersOf(file: ChangedFile): CodeUnit[] {
    const path = realPath(file.path);
    return this.served.units.filter((unit) => isSourceOf(unit.origin, path));
  }

  /** The code units the files belong to, when every file belongs to one; undefined when any does not. */
  private functionsOnly(files: readonly ChangedFile[]): Map<CodeUnit, string[]> | undefined {
    const plan = new Map<CodeUnit, string[]>();
    for (const file of files) {
      const owners = this.ownersOf(file);
      if (owners.length === 0) return undefined;
      for (const unit of owners) plan.set(unit, [...(plan.get(unit) ?? []), realPath(file.path)]);
    }
    return plan;
  }

  private async reloadFunctionCode(files: readonly ChangedFile[], plan: Map<CodeUnit, string[]>, sinceMs: number): Promise<void> {
    const served = this.served;
    const names = (unit: CodeUnit) => unit.labels.join(', ');
    this.options.note(
      `change seen: ${describeFiles(files)}; reloading the code of ${[...plan.keys()].map(names).join(', ')} (no synth: only function code changed)`,
    );
    const reloaded: string[] = [];
    for (const [unit, paths] of plan) {
      let rebuilt;
      try {
        rebuilt = await rebuildCode(unit.origin, unit.servedDir, paths);
      } catch (error) {
        if (!(error instanceof RebuildError)) throw error;
        this.options.note(`could not rebuild ${names(unit)}, still serving its previous code:\n${indent(error.message)}`);
        continue;
      }
      const sourceDir = rebuilt.origin.kind === 'copy' ? rebuilt.origin.sourceDir : undefined;
      for (const functionId of unit.functionIds)
        reloaded.push((await served.server.replaceFunctionCode(functionId, rebuilt.codeDir, sourceDir)) ?? functionId);
      if (unit.rebuilt) rmSync(unit.servedDir, { recursive: true, force: true });
      unit.servedDir = rebuilt.codeDir;
      unit.rebuilt = true;
      unit.origin = rebuilt.origin;
      for (const functionId of unit.functionIds) served.codeDirs.set(functionId, rebuilt.codeDir);
      if (!served.unconfirmed) served.unconfirmedSinceMs = sinceMs;
      served.unconfirmed = true;
    }
    if (reloaded.length > 0) this.options.note(`reloaded in ${Date.now() - sinceMs} ms: serving the new code of ${reloaded.join(', ')}`);
  }

  private async reloadApp(files: readonly ChangedFile[], sinceMs: number): Promise<void> {
    this.options.note(`change seen: ${describeFiles(files)}; synthesizing the app again`);
    let assemblyDir: string;
    try {
      this.options.onSynthStart?.();
      assemblyDir = await this.options.synth();
    } catch (error) {
      if (!(error instanceof SynthError)) throw error;
      this.options.note(`synth failed, still serving the previous version:\n${indent(error.message)}`);
      return;
    }
    await this.restart(assemblyDir, sinceMs);
  }

  /** Serve another assembly: the gateways and functions restart on the same ports, keys and tokens kept. */
  private async restart(assemblyDir: string, sinceMs: number): Promise<void> {
    const previous = this.served;
    const startedMs = Date.now();
    await previous.server.stop({ keepData: true });
    const origins = readCodeOrigins(assemblyDir);
    let server: DevServer;
    try {
      const gatewayPorts = previous.server.apis.map((api) => Number(new URL(api.url).port));
      server = await startDevServer({
        ...this.options.serveOptions,
        assemblyDir,
        gatewayPorts,
        reuse: { dynamo: previous.server.dynamo, issuer: previous.server.issuer },
        codeSources: codeSourcesOf(origins),
      });
    } catch (error) {
      this.options.fatal(`reload failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.served = {
      server,
      assemblyDir,
      templates: templatesFingerprint(assemblyDir),
      ...unitsOf(assemblyDir, this.options.serveOptions.stack, origins),
      unconfirmed: false,
    };
    this.forget(previous);
    const changes = routeChanges(previous.server.apis, server.apis);
    this.options.note(
      `reloaded in ${Date.now() - sinceMs} ms (restart ${Date.now() - startedMs} ms): ${server.apis.map((api) => api.url).join(', ')}${changes.length > 0 ? `\n${changes.join('\n')}` : ''}`,
    );
  }

  private forget(previous: Served): void {
    for (const unit of previous.units) if (unit.rebuilt) rmSync(unit.servedDir, { recursive: true, force: true });
    if (previous.assemblyDir !== this.served.assemblyDir) this.options.discard(previous.assemblyDir);
  }

  private cancelConfirm(): void {
    clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    if (this.confirmSynth) killRunningSynth(this.confirmSynth);
    this.confirmSynth = undefined;
  }

  private scheduleConfirm(): void {
    this.cancelConfirm();
    if (this.stopped) return;
    this.confirmTimer = setTimeout(() => void this.confirm(), this.options.confirmAfterMs ?? 1500);
    this.confirmTimer.unref();
  }

  /** Synthesize in the background; adopt the result if the template is unchanged, else reload the whole app from it. */
  private async confirm(): Promise<void> {
    const generation = this.generation;
    let assemblyDir: string;
    let child: ChildProcess | undefined;
    try {
      this.options.onSynthStart?.();
      assemblyDir = await this.options.synth((started) => (this.confirmSynth = child = started));
    } catch (error) {
      // Stopped by a newer change, which brings its own confirmation; a real failure is the user's to see.
      if (generation === this.generation && error instanceof SynthError && !this.stopped)
        this.options.note(`synth failed (the functions' new code is served; the stack is the previous one):\n${indent(error.message)}`);
      return;
    } finally {
      if (this.confirmSynth === child) this.confirmSynth = undefined;
    }
    await this.exclusive(async () => {
      if (generation !== this.generation || this.stopped) {
        this.options.discard(assemblyDir);
        return;
      }
      if (templatesFingerprint(assemblyDir) !== this.served.templates) {
        this.options.note(
          "the change reached the app's template too (the stack reads a file a function's code is made of): reloading the whole app",
        );
        await this.restart(assemblyDir, this.served.unconfirmedSinceMs ?? Date.now());
        return;
      }
      // Same template: serve the synth's own code wherever it differs from the rebuild (it should not), then adopt it.
      const previous = this.served;
      const origins = readCodeOrigins(assemblyDir);
      const next = unitsOf(assemblyDir, this.options.serveOptions.stack, origins);
      for (const [functionId, codeDir] of next.codeDirs) {
        const servedDir = previous.codeDirs.get(functionId);
        if (servedDir !== undefined && existsSync(servedDir) && sameFiles(servedDir, codeDir)) continue;
        const origin = origins.get(codeDir);
        await previous.server.replaceFunctionCode(functionId, codeDir, origin?.kind === 'copy' ? origin.sourceDir : undefined);
      }
      this.served = { server: previous.server, assemblyDir, templates: previous.templates, ...next, unconfirmed: false };
      this.forget(previous);
    });
  }
}
