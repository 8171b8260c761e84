// One Lambda execution environment for local mode: a worker thread with its own process.env and module state.
// It loads the handler the way the Lambda Node.js runtime does (`dir/file.export`; .js, .mjs or .cjs; ESM or
// CommonJS by the usual rules) and answers invocations posted by lib/local/function-host.ts.
// Plain JavaScript on purpose: the installed package runs it without a TypeScript loader.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const { codeDir, handler: handlerSpec, functionName, memoryMb } = workerData;

async function loadHandler() {
  const slash = handlerSpec.lastIndexOf('/');
  const dot = handlerSpec.indexOf('.', slash + 1);
  if (dot < 0) throw new Error(`Bad handler ${handlerSpec}: expected file.export`);
  const file = handlerSpec.slice(0, dot);
  const exportPath = handlerSpec.slice(dot + 1).split('.');
  const candidates = ['.js', '.mjs', '.cjs'].map((extension) => join(codeDir, `${file}${extension}`));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`Cannot find module ${file} (.js, .mjs or .cjs) in the function's code for handler ${handlerSpec}`);
  let target = await import(pathToFileURL(found).href);
  for (const part of exportPath) target = target?.[part] ?? target?.default?.[part];
  if (typeof target !== 'function') throw new Error(`${found} does not export ${exportPath.join('.')} as a function`);
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
  try {
    const handler = await ready;
    // Start the environment (import the module, run its init) without invoking the handler.
    if (invocation.warmOnly) return parentPort.postMessage({ id: invocation.id, ok: true, result: null });
    const context = contextFor(invocation);
    const result =
      handler.length >= 3
        ? await new Promise((resolve, reject) => {
            const maybe = handler(invocation.event, context, (error, value) => (error ? reject(error) : resolve(value)));
            if (maybe && typeof maybe.then === 'function') maybe.then(resolve, reject);
          })
        : await handler(invocation.event, context);
    parentPort.postMessage({ id: invocation.id, ok: true, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
  } catch (error) {
    parentPort.postMessage({ id: invocation.id, ok: false, error: { name: error?.name ?? 'Error', message: error?.message ?? String(error) } });
  }
});
