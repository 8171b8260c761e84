/**
 * Run a Lambda function locally, isolated the way a Lambda execution environment is: one worker thread per
 * function (lib/local/function-worker.mjs), with its own `process.env` and module state, started on first use and
 * kept warm. An invocation past the function's timeout ends that environment (the next one starts fresh), as
 * Lambda does.
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

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class HostedFunction {
  private worker?: Worker;
  private readonly pending = new Map<string, Pending>();
  private readonly codeDir: string;

  constructor(readonly spec: HostedFunctionSpec) {
    // Lambda unpacks the code into /var/task, with no package.json above it: `.js` is CommonJS unless the code's
    // own package.json says otherwise. A copy outside any project keeps that true locally (the assembly may sit in
    // a "type": "module" project, which would make Node read the same file as ESM).
    this.codeDir = mkdtempSync(join(tmpdir(), 'dualgate-task-'));
    if (spec.codeDir) cpSync(spec.codeDir, this.codeDir, { recursive: true });
    // Inline code (Code.fromInline) is index.js with CommonJS exports, as Lambda runs it.
    else writeFileSync(join(this.codeDir, 'index.js'), spec.inlineCode ?? '');
  }

  private start(): Worker {
    const worker = new Worker(workerScript(), {
      workerData: { codeDir: this.codeDir, handler: this.spec.handler, functionName: this.spec.name, memoryMb: this.spec.memoryMb },
      env: { ...this.spec.env },
      stdout: Boolean(this.spec.output),
      stderr: Boolean(this.spec.output),
      execArgv: [],
    });
    if (this.spec.output) {
      const forward = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.length > 0) this.spec.output?.(line);
      };
      worker.stdout.on('data', forward);
      worker.stderr.on('data', forward);
    }
    worker.on('message', (message: { id: string; ok: boolean; result?: unknown; error?: { name: string; message: string } }) => {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new FunctionError(message.error?.name ?? 'Error', message.error?.message ?? 'error'));
    });
    const failAll = (error: Error) => {
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(error);
        this.pending.delete(id);
      }
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', (error) => failAll(new FunctionError(error.name, error.message)));
    worker.on('exit', (code) => failAll(new FunctionError('Runtime.ExitError', `the function's environment exited with code ${code}`)));
    worker.unref();
    return worker;
  }

  /** Start the environment: load the module and run its init (a cold start), without invoking the handler. */
  warm(): Promise<unknown> {
    return this.invoke(undefined, randomUUID(), true);
  }

  /** Invoke with an event; rejects with FunctionTimeoutError past the timeout, FunctionError when it throws. */
  invoke(event: unknown, requestId: string = randomUUID(), warmOnly = false): Promise<unknown> {
    this.worker ??= this.start();
    const worker = this.worker;
    const id = randomUUID();
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // Lambda ends a timed-out environment: the next invocation gets a fresh one.
        if (this.worker === worker) this.worker = undefined;
        void worker.terminate();
        reject(new FunctionTimeoutError(`${this.spec.name} timed out after ${this.spec.timeoutSeconds} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, event, requestId, deadlineMs: Date.now() + timeoutMs, warmOnly });
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    rmSync(this.codeDir, { recursive: true, force: true });
  }
}
