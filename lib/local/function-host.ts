/**
 * Run a Lambda function locally, isolated the way Lambda execution environments are: worker threads
 * (lib/local/function-worker.mjs), each with its own `process.env` and module state, serving one invocation at a
 * time, started on demand (up to MAX_ENVIRONMENTS_PER_FUNCTION at once) and kept warm. An invocation past the
 * function's timeout ends its own environment only, as Lambda does.
 *
 * Failures come back as FunctionError with the error's name, message and stack, the stack naming the user's files:
 * source-mapped where the bundle has a map, and the code's copy (as in /var/task) named by where it came from.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export class FunctionTimeoutError extends Error {
  override readonly name = 'FunctionTimeoutError';
  constructor(
    readonly functionName: string,
    readonly timeoutSeconds: number,
  ) {
    super(`${functionName} timed out after ${timeoutSeconds} s`);
  }
}

/** The handler threw (`phase: 'invoke'`), or its module could not be loaded or initialised (`phase: 'init'`). */
export class FunctionError extends Error {
  override readonly name = 'FunctionError';
  constructor(
    /** The thrown error's name (`TypeError`), or the Lambda runtime's (`Runtime.ImportModuleError`…). */
    readonly errorName: string,
    message: string,
    /** The thrown error's stack, with the user's paths (see the module comment). */
    readonly errorStack?: string,
    readonly phase: 'init' | 'invoke' = 'invoke',
  ) {
    super(message);
  }
}

/** Where a line of a function's output came from. */
export interface FunctionOutputOrigin {
  /** The function's display name (its construct path, or its logical id). */
  function: string;
  /** One of dualgate's own functions (authorizer, key API), which write structured JSON logs. */
  dualgate?: boolean;
  /** The request of the invocation that wrote it; absent for output outside any (module init, late timers). */
  requestId?: string;
  stream: 'stdout' | 'stderr';
  /** The Lambda runtime's level for console.* calls (`INFO`, `WARN`…); absent for direct writes to stdout/stderr. */
  level?: string;
}

export interface HostedFunctionSpec {
  name: string;
  /** How logs and errors name it (default: `name`). */
  label?: string;
  /** One of dualgate's own functions (see FunctionOutputOrigin). */
  dualgate?: boolean;
  codeDir?: string;
  inlineCode?: string;
  /**
   * The directory `codeDir` was copied from (a `Code.fromAsset` directory in the app): stack traces and output name
   * files there rather than in local mode's copy. Default: `codeDir`.
   */
  sourceDir?: string;
  handler: string;
  timeoutSeconds: number;
  memoryMb: number;
  env: Record<string, string>;
  /** Where the function's output goes, line by line (a console.* call may span lines); default: this process's stdout. */
  output?: (line: string, origin: FunctionOutputOrigin) => void;
}

/** The worker script: beside this module in the repository, copied into dist/ in the package. */
function workerScript(): URL {
  for (const candidate of ['./function-worker.mjs', './local/function-worker.mjs']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return url;
  }
  throw new Error('dualgate: function-worker.mjs is missing from the package');
}

const INLINE_SOURCE_MAP = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/;

/** A source map whose relative `sources` resolve against `originalDir` from wherever the map now lives. */
function rootedSourceMap(map: { sourceRoot?: string }, originalDir: string): { sourceRoot?: string } {
  const base = pathToFileURL(`${originalDir}/`).href;
  return { ...map, sourceRoot: map.sourceRoot ? new URL(map.sourceRoot, base).href : base };
}

/**
 * Copy a function's code to `taskDir`, its source maps pointed at the files they were built from: esbuild writes
 * `sources` relative to the map, and the copy lives elsewhere. node_modules is left alone.
 */
function copyCode(fromDir: string, taskDir: string): void {
  cpSync(fromDir, taskDir, { recursive: true });
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(path);
        continue;
      }
      if (!entry.isFile()) continue;
      const originalDir = join(fromDir, relative(taskDir, dir));
      try {
        if (entry.name.endsWith('.map')) {
          writeFileSync(path, JSON.stringify(rootedSourceMap(JSON.parse(readFileSync(path, 'utf8')) as object, originalDir)));
        } else if (/\.(c|m)?js$/.test(entry.name)) {
          const code = readFileSync(path, 'utf8');
          const inline = INLINE_SOURCE_MAP.exec(code.slice(-Math.min(code.length, 4 * 1024 * 1024)));
          if (!inline?.[1]) continue;
          const map = rootedSourceMap(JSON.parse(Buffer.from(inline[1], 'base64').toString('utf8')) as object, originalDir);
          const start = code.lastIndexOf('//# sourceMappingURL=');
          writeFileSync(
            path,
            `${code.slice(0, start)}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`,
          );
        }
      } catch {
        // A map we cannot read stays as it was: the stack then names the bundle, which is still right.
      }
    }
  };
  walk(taskDir);
}

/** One execution environment: a worker serving one invocation at a time, as a Lambda environment does. */
interface Environment {
  worker: Worker;
  /** The code copy it runs. */
  taskDir: string;
  /** The invocation in flight, if any. */
  current?: { id: string; resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout };
}

/** Concurrent environments per function locally; requests beyond wait for one to free up. */
const MAX_ENVIRONMENTS_PER_FUNCTION = 8;

interface WorkerMessage {
  kind?: 'output';
  id: string | null;
  ok?: boolean;
  result?: unknown;
  error?: { name: string; message: string; stack?: string; phase?: 'init' | 'invoke' };
  requestId?: string | null;
  stream?: 'stdout' | 'stderr';
  level?: string | null;
  text?: string;
}

export class HostedFunction {
  private readonly environments: Environment[] = [];
  /** Environments of replaced code still finishing an invocation: ended when it settles. */
  private readonly retiring = new Set<Environment>();
  private readonly waiting: ((environment: Environment) => void)[] = [];
  private taskDir: string;
  private sourceDir: string | undefined;
  private stopped = false;

  constructor(readonly spec: HostedFunctionSpec) {
    this.taskDir = this.prepare(spec.codeDir);
    this.sourceDir = spec.sourceDir ?? spec.codeDir;
  }

  get label(): string {
    return this.spec.label ?? this.spec.name;
  }

  /**
   * Lambda unpacks the code into /var/task, with no package.json above it: `.js` is CommonJS unless the code's own
   * package.json says otherwise. A copy outside any project keeps that true locally (the assembly may sit in a
   * "type": "module" project, which would make Node read the same file as ESM).
   */
  private prepare(codeDir: string | undefined): string {
    const taskDir = mkdtempSync(join(tmpdir(), 'dualgate-task-'));
    if (codeDir) copyCode(codeDir, taskDir);
    // Inline code (Code.fromInline) is index.js with CommonJS exports, as Lambda runs it.
    else writeFileSync(join(taskDir, 'index.js'), this.spec.inlineCode ?? '');
    return taskDir;
  }

  /** Text from the worker with paths into local mode's copy of the code turned into paths to where it came from. */
  private display(text: string, taskDir: string): string {
    // Most lines (every decision the authorizer logs) name no file: they pass untouched, at no cost per request.
    if (!text.includes('file://') && !text.includes(taskDir)) return text;
    let shown = text.replace(/file:\/\/(\/[^\s)'"]*)/g, (url) => {
      try {
        return fileURLToPath(url);
      } catch {
        return url;
      }
    });
    if (this.sourceDir) shown = shown.split(`${taskDir}/`).join(`${this.sourceDir}/`);
    return shown;
  }

  private start(): Environment {
    const taskDir = this.taskDir;
    const worker = new Worker(workerScript(), {
      workerData: { codeDir: taskDir, handler: this.spec.handler, functionName: this.spec.name, memoryMb: this.spec.memoryMb },
      env: { ...this.spec.env },
      // The worker sends its output as messages; what a native module writes straight to fd 1 or 2 still arrives here.
      stdout: true,
      stderr: true,
      execArgv: [],
    });
    const environment: Environment = { worker, taskDir };
    const write = (line: string, origin: Omit<FunctionOutputOrigin, 'function'>) => {
      const shown = this.display(line, environment.taskDir);
      if (this.spec.output) this.spec.output(shown, { function: this.label, ...(this.spec.dualgate ? { dualgate: true } : {}), ...origin });
      else process.stdout.write(`${shown}\n`);
    };
    for (const stream of ['stdout', 'stderr'] as const) {
      worker[stream].on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.length > 0) write(line, { stream });
      });
    }
    const settle = (outcome: { ok: true; result: unknown } | { ok: false; error: Error }) => {
      const current = environment.current;
      if (!current) return;
      environment.current = undefined;
      clearTimeout(current.timer);
      if (outcome.ok) current.resolve(outcome.result);
      else current.reject(outcome.error);
      this.release(environment);
    };
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'output') {
        write(message.text ?? '', {
          stream: message.stream ?? 'stdout',
          ...(message.requestId ? { requestId: message.requestId } : {}),
          ...(message.level ? { level: message.level } : {}),
        });
        return;
      }
      if (environment.current?.id !== message.id) return;
      if (message.ok) settle({ ok: true, result: message.result });
      else {
        const error = message.error ?? { name: 'Error', message: 'error' };
        const stack = error.stack === undefined ? undefined : this.display(error.stack, environment.taskDir);
        settle({
          ok: false,
          error: new FunctionError(error.name, this.display(error.message, environment.taskDir), stack, error.phase ?? 'invoke'),
        });
      }
    });
    const discard = (error: Error) => {
      this.remove(environment);
      settle({ ok: false, error });
      // A crashed environment frees its place: the next waiting invocation gets a fresh one.
      const next = this.stopped ? undefined : this.waiting.shift();
      if (next) next(this.start());
    };
    worker.on('error', (error) => discard(new FunctionError(error.name, error.message, error.stack)));
    worker.on('exit', (code) => discard(new FunctionError('Runtime.ExitError', `the function's environment exited with code ${code}`)));
    worker.unref();
    this.environments.push(environment);
    return environment;
  }

  private remove(environment: Environment): void {
    const index = this.environments.indexOf(environment);
    if (index >= 0) this.environments.splice(index, 1);
    if (this.retiring.delete(environment)) this.dropUnusedCopies(environment.taskDir);
  }

  /** Delete a replaced copy of the code once no environment runs it. */
  private dropUnusedCopies(taskDir: string): void {
    if (taskDir === this.taskDir) return;
    if ([...this.environments, ...this.retiring].some((environment) => environment.taskDir === taskDir)) return;
    rmSync(taskDir, { recursive: true, force: true });
  }

  /** An idle environment goes to the next waiting invocation, if any; one running replaced code ends instead. */
  private release(environment: Environment): void {
    if (this.retiring.has(environment)) {
      void environment.worker.terminate();
      this.remove(environment);
      const next = this.stopped ? undefined : this.waiting.shift();
      if (next) next(this.start());
      return;
    }
    if (!this.environments.includes(environment)) return;
    const next = this.waiting.shift();
    if (next) next(environment);
  }

  /** An idle environment, a new one while under the cap, or the next one to free up. */
  private acquire(): Promise<Environment> {
    const idle = this.environments.find((environment) => !environment.current);
    if (idle) return Promise.resolve(idle);
    if (this.environments.length < MAX_ENVIRONMENTS_PER_FUNCTION) return Promise.resolve(this.start());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /**
   * Serve new code from now on (a `--watch` reload of this function alone): later invocations start fresh
   * environments from a copy of `codeDir`; one in flight finishes on the old code, as during a Lambda deployment.
   */
  replaceCode(codeDir: string, sourceDir?: string): void {
    if (this.stopped) return;
    const previous = this.taskDir;
    this.taskDir = this.prepare(codeDir);
    this.sourceDir = sourceDir ?? codeDir;
    for (const environment of this.environments.splice(0)) {
      if (environment.current) this.retiring.add(environment);
      else void environment.worker.terminate();
    }
    this.dropUnusedCopies(previous);
  }

  /** Start an environment: load the module and run its init (a cold start), without invoking the handler. */
  warm(): Promise<unknown> {
    return this.invoke(undefined, randomUUID(), true);
  }

  /** Invoke with an event; rejects with FunctionTimeoutError past the timeout, FunctionError when it throws. */
  async invoke(event: unknown, requestId: string = randomUUID(), warmOnly = false): Promise<unknown> {
    if (this.stopped) throw new FunctionError('Runtime.Stopped', `${this.spec.name} is stopped`);
    const environment = await this.acquire();
    const id = randomUUID();
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Lambda ends a timed-out environment; only this one, not the others serving their own requests.
        environment.current = undefined;
        this.remove(environment);
        void environment.worker.terminate();
        reject(new FunctionTimeoutError(this.label, this.spec.timeoutSeconds));
        const next = this.waiting.shift();
        if (next) next(this.start());
      }, timeoutMs);
      environment.current = { id, resolve, reject, timer };
      environment.worker.postMessage({ id, event, requestId, deadlineMs: Date.now() + timeoutMs, warmOnly });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const environments = [...this.environments.splice(0), ...this.retiring];
    this.retiring.clear();
    await Promise.all(environments.map((environment) => environment.worker.terminate()));
    for (const taskDir of new Set([this.taskDir, ...environments.map((environment) => environment.taskDir)]))
      rmSync(taskDir, { recursive: true, force: true });
  }
}
