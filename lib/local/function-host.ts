/**
 * Run a Lambda function locally, isolated the way Lambda execution environments are: worker threads
 * (lib/local/function-worker.mjs), each with its own `process.env` and module state, serving one invocation at a
 * time, started on demand (up to MAX_ENVIRONMENTS_PER_FUNCTION at once) and kept warm. An invocation past the
 * function's timeout ends its own environment only, as Lambda does.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

export class FunctionTimeoutError extends Error {
  override readonly name = 'FunctionTimeoutError';
}

/** The handler threw, or its module could not load. */
export class FunctionError extends Error {
  override readonly name = 'FunctionError';
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
}

export interface HostedFunctionSpec {
  name: string;
  codeDir?: string;
  inlineCode?: string;
  handler: string;
  timeoutSeconds: number;
  memoryMb: number;
  env: Record<string, string>;
  /** Where the function's stdout/stderr lines go (default: this process's). */
  output?: (line: string) => void;
}

/** The worker script: beside this module in the repository, copied into dist/ in the package. */
function workerScript(): URL {
  for (const candidate of ['./function-worker.mjs', './local/function-worker.mjs']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return url;
  }
  throw new Error('dualgate: function-worker.mjs is missing from the package');
}

/** One execution environment: a worker serving one invocation at a time, as a Lambda environment does. */
interface Environment {
  worker: Worker;
  /** The invocation in flight, if any. */
  current?: { id: string; resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout };
}

/** Concurrent environments per function locally; requests beyond wait for one to free up. */
export const MAX_ENVIRONMENTS_PER_FUNCTION = 8;

export class HostedFunction {
  private readonly environments: Environment[] = [];
  private readonly waiting: ((environment: Environment) => void)[] = [];
  private readonly codeDir: string;
  private stopped = false;

  constructor(readonly spec: HostedFunctionSpec) {
    // Lambda unpacks the code into /var/task, with no package.json above it: `.js` is CommonJS unless the code's
    // own package.json says otherwise. A copy outside any project keeps that true locally (the assembly may sit in
    // a "type": "module" project, which would make Node read the same file as ESM).
    this.codeDir = mkdtempSync(join(tmpdir(), 'dualgate-task-'));
    if (spec.codeDir) cpSync(spec.codeDir, this.codeDir, { recursive: true });
    // Inline code (Code.fromInline) is index.js with CommonJS exports, as Lambda runs it.
    else writeFileSync(join(this.codeDir, 'index.js'), spec.inlineCode ?? '');
  }

  private start(): Environment {
    const worker = new Worker(workerScript(), {
      workerData: { codeDir: this.codeDir, handler: this.spec.handler, functionName: this.spec.name, memoryMb: this.spec.memoryMb },
      env: { ...this.spec.env },
      stdout: Boolean(this.spec.output),
      stderr: Boolean(this.spec.output),
      execArgv: [],
    });
    const environment: Environment = { worker };
    if (this.spec.output) {
      const forward = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.length > 0) this.spec.output?.(line);
      };
      worker.stdout.on('data', forward);
      worker.stderr.on('data', forward);
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
    worker.on('message', (message: { id: string; ok: boolean; result?: unknown; error?: { name: string; message: string } }) => {
      if (environment.current?.id !== message.id) return;
      settle(message.ok ? { ok: true, result: message.result } : { ok: false, error: new FunctionError(message.error?.name ?? 'Error', message.error?.message ?? 'error') });
    });
    const discard = (error: Error) => {
      this.remove(environment);
      settle({ ok: false, error });
      // A crashed environment frees its place: the next waiting invocation gets a fresh one.
      const next = this.stopped ? undefined : this.waiting.shift();
      if (next) next(this.start());
    };
    worker.on('error', (error) => discard(new FunctionError(error.name, error.message)));
    worker.on('exit', (code) => discard(new FunctionError('Runtime.ExitError', `the function's environment exited with code ${code}`)));
    worker.unref();
    this.environments.push(environment);
    return environment;
  }

  private remove(environment: Environment): void {
    const index = this.environments.indexOf(environment);
    if (index >= 0) this.environments.splice(index, 1);
  }

  /** An idle environment goes to the next waiting invocation, if any. */
  private release(environment: Environment): void {
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
        reject(new FunctionTimeoutError(`${this.spec.name} timed out after ${this.spec.timeoutSeconds} s`));
        const next = this.waiting.shift();
        if (next) next(this.start());
      }, timeoutMs);
      environment.current = { id, resolve, reject, timer };
      environment.worker.postMessage({ id, event, requestId, deadlineMs: Date.now() + timeoutMs, warmOnly });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const environments = this.environments.splice(0);
    await Promise.all(environments.map((environment) => environment.worker.terminate()));
    rmSync(this.codeDir, { recursive: true, force: true });
  }
}
