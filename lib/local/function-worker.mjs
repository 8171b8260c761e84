// One Lambda execution environment for local mode: a worker thread with its own process.env and module state.
// It loads the handler the way the Lambda Node.js runtime does (`dir/file.export`; .js, .mjs or .cjs; ESM or
// CommonJS by the usual rules) and answers invocations posted by lib/local/function-host.ts.
// Plain JavaScript on purpose: the installed package runs it without a TypeScript loader.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';

// Stack traces name the sources a bundle was built from when it carries a source map (NodejsFunction's
// `sourceMap: true`), as `node --enable-source-maps` does; function-host.ts points the maps at the originals.
process.setSourceMapsEnabled(true);

const { codeDir, handler: handlerSpec, functionName, memoryMb } = workerData;

/** The invocation in flight: its output is tagged with it, so the dev log prints it under its request. */
let current;

// Output goes to the parent as messages on the channel results use, so every line of an invocation arrives before
// its result. console.* carry the level the Lambda runtime gives them; direct writes (structured loggers, EMF) are
// passed as they are.
function emit(stream, level, text) {
  parentPort.postMessage({ kind: 'output', id: current?.id ?? null, requestId: current?.requestId ?? null, stream, level, text });
}

const flushers = [];
for (const stream of ['stdout', 'stderr']) {
  let partial = '';
  process[stream].write = (chunk, encoding, callback) => {
    partial += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8');
    for (let newline = partial.indexOf('\n'); newline >= 0; newline = partial.indexOf('\n')) {
      emit(stream, null, partial.slice(0, newline));
      partial = partial.slice(newline + 1);
    }
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') queueMicrotask(done);
    return true;
  };
  flushers.push(() => {
    if (partial.length > 0) emit(stream, null, partial);
    partial = '';
  });
}
const flushOutput = () => {
  for (const flush of flushers) flush();
};

const CONSOLE_LEVELS = { log: 'INFO', info: 'INFO', debug: 'DEBUG', warn: 'WARN', error: 'ERROR' };
for (const [method, level] of Object.entries(CONSOLE_LEVELS)) {
  console[method] = (...args) => emit(level === 'WARN' || level === 'ERROR' ? 'stderr' : 'stdout', level, format(...args));
}
console.trace = (...args) =>
  emit('stderr', 'TRACE', `Trace: ${format(...args)}\n${(new Error().stack ?? '').split('\n').slice(2).join('\n')}`);

/** An error as plain data: what the parent shows (name, message, stack with the user's paths). */
function describeError(error, phase) {
  if (error !== null && typeof error === 'object' && 'message' in error) {
    return {
      name: String(error.name ?? 'Error'),
      message: String(error.message),
      ...(typeof error.stack === 'string' ? { stack: error.stack } : {}),
      phase,
    };
  }
  let message;
  try {
    message = typeof error === 'string' ? error : JSON.stringify(error);
  } catch {
    message = String(error);
  }
  return { name: 'Error', message: String(message), phase };
}

/** An error thrown while loading the handler, named as the Lambda runtime names it. */
class InitError extends Error {
  constructor(name, message, cause) {
    super(message);
    this.name = name;
    if (cause?.stack) this.stack = `${name}: ${message}\n${cause.stack}`;
  }
}

/** Node names no file for a syntax error in an ES module; `node --check` does. */
function syntaxErrorLocation(file) {
  const checked = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 5000 });
  const lines = (checked.stderr ?? '').split('\n');
  const end = lines.findIndex((line) => line.startsWith('SyntaxError'));
  return end > 0 ? lines.slice(0, end).join('\n').trim() : undefined;
}

async function loadHandler() {
  const slash = handlerSpec.lastIndexOf('/');
  const dot = handlerSpec.indexOf('.', slash + 1);
  if (dot < 0) throw new InitError('Runtime.MalformedHandlerName', `Bad handler ${handlerSpec}: expected file.export`);
  const file = handlerSpec.slice(0, dot);
  const exportPath = handlerSpec.slice(dot + 1).split('.');
  const candidates = ['.js', '.mjs', '.cjs'].map((extension) => join(codeDir, `${file}${extension}`));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found)
    throw new InitError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${file}' (.js, .mjs or .cjs) in the function's code for handler ${handlerSpec}`,
    );
  let target;
  try {
    target = await import(pathToFileURL(found).href);
  } catch (error) {
    if (error instanceof SyntaxError) {
      const location = /^\S+:\d+\n/.test(error.stack ?? '') ? undefined : syntaxErrorLocation(found);
      if (location) error.stack = `${location}\n\n${error.stack}`;
      throw new InitError('Runtime.UserCodeSyntaxError', `SyntaxError: ${error.message}`, error);
    }
    if (error?.code === 'MODULE_NOT_FOUND' || error?.code === 'ERR_MODULE_NOT_FOUND')
      throw new InitError('Runtime.ImportModuleError', `Error: ${error.message.split('\n')[0]}`, error);
    // The module's own top-level code threw (Lambda's init phase): the error as it is.
    throw error;
  }
  for (const part of exportPath) target = target?.[part] ?? target?.default?.[part];
  if (typeof target !== 'function')
    throw new InitError(
      'Runtime.HandlerNotFound',
      `${handlerSpec} is undefined or not exported (${found} does not export ${exportPath.join('.')} as a function)`,
    );
  return target;
}

const ready = loadHandler();
ready.catch(() => undefined);

function contextFor(invocation) {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: invocation.requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, invocation.deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

parentPort.on('message', async (invocation) => {
  let handler;
  try {
    handler = await ready;
  } catch (error) {
    flushOutput();
    return parentPort.postMessage({ id: invocation.id, ok: false, error: describeError(error, 'init') });
  }
  // Start the environment (import the module, run its init) without invoking the handler.
  if (invocation.warmOnly) {
    flushOutput();
    return parentPort.postMessage({ id: invocation.id, ok: true, result: null });
  }
  current = { id: invocation.id, requestId: invocation.requestId };
  let reply;
  try {
    const context = contextFor(invocation);
    const result =
      handler.length >= 3
        ? await new Promise((resolve, reject) => {
            const maybe = handler(invocation.event, context, (error, value) => (error ? reject(error) : resolve(value)));
            if (maybe && typeof maybe.then === 'function') maybe.then(resolve, reject);
          })
        : await handler(invocation.event, context);
    reply = { id: invocation.id, ok: true, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) };
  } catch (error) {
    reply = { id: invocation.id, ok: false, error: describeError(error, 'invoke') };
  }
  flushOutput();
  current = undefined;
  parentPort.postMessage(reply);
});
