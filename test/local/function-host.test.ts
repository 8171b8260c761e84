/**
 * A function's execution environment as the developer sees it: failures come back with the error's name, message
 * and a stack naming the user's own files (source-mapped for a bundle, the original directory for copied code),
 * and every line it writes is tagged with the request it belongs to, before the result arrives.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FunctionError,
  FunctionTimeoutError,
  HostedFunction,
  type FunctionOutputOrigin,
  type HostedFunctionSpec,
} from '../../lib/local/function-host';

const dirs: string[] = [];
const hosts: HostedFunction[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((host) => host.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dualgate-host-test-'));
  dirs.push(dir);
  return dir;
}

function hosted(spec: Partial<HostedFunctionSpec> & Pick<HostedFunctionSpec, 'handler'>): {
  host: HostedFunction;
  lines: { line: string; origin: FunctionOutputOrigin }[];
} {
  const lines: { line: string; origin: FunctionOutputOrigin }[] = [];
  const host = new HostedFunction({
    name: 'Fn',
    label: 'App/Fn',
    timeoutSeconds: 3,
    memoryMb: 128,
    env: {},
    output: (line, origin) => lines.push({ line, origin }),
    ...spec,
  });
  hosts.push(host);
  return { host, lines };
}

async function failureOf(promise: Promise<unknown>): Promise<FunctionError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(FunctionError);
  return error as FunctionError;
}

describe('a hosted function', () => {
  it('reports a throw with its name, message and a stack in the TypeScript source of a source-mapped bundle', async () => {
    const app = tempDir();
    mkdirSync(join(app, 'src'));
    writeFileSync(
      join(app, 'src', 'orders.ts'),
      [
        'interface Order { id?: string }',
        'export async function handler(event: Order) {',
        "  console.log('saving', event.id ?? 'nothing');",
        '  return save(event);',
        '}',
        'function save(order: Order): string {',
        "  if (!order.id) throw new TypeError('an order needs an id');",
        '  return order.id;',
        '}',
        '',
      ].join('\n'),
    );
    // As NodejsFunction bundles with sourceMap: true, into a directory of the assembly.
    const asset = join(app, 'cdk.out', 'asset.0123');
    await build({
      entryPoints: [join(app, 'src', 'orders.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: join(asset, 'index.js'),
      sourcemap: true,
      logLevel: 'silent',
    });
    const { host, lines } = hosted({ codeDir: asset, handler: 'index.handler' });

    const error = await failureOf(host.invoke({}, 'request-1'));
    expect(error.errorName).toBe('TypeError');
    expect(error.message).toBe('an order needs an id');
    expect(error.phase).toBe('invoke');
    expect(error.errorStack).toContain(`${join(app, 'src', 'orders.ts')}:7:`);
    expect(error.errorStack).toContain(`${join(app, 'src', 'orders.ts')}:4:`);
    // Its console output came first, tagged with its request and level.
    expect(lines).toEqual([
      { line: 'saving nothing', origin: { function: 'App/Fn', requestId: 'request-1', stream: 'stdout', level: 'INFO' } },
    ]);
  });

  it('names the directory copied code came from, not local mode’s copy of it', async () => {
    const source = tempDir();
    writeFileSync(join(source, 'index.mjs'), "export const handler = async () => {\n  throw new Error('boom');\n};\n");
    const asset = tempDir();
    writeFileSync(join(asset, 'index.mjs'), "export const handler = async () => {\n  throw new Error('boom');\n};\n");
    const { host } = hosted({ codeDir: asset, sourceDir: source, handler: 'index.handler' });
    const error = await failureOf(host.invoke({}));
    expect(error.errorStack).toContain(`${join(source, 'index.mjs')}:2:9`);
    expect(error.errorStack).not.toContain('dualgate-task-');
    expect(error.errorStack).not.toContain('file://');
  });

  it('tags direct writes and warnings, and output outside an invocation has no request', async () => {
    const { host, lines } = hosted({
      inlineCode:
        'process.stdout.write(\'init line\\n\'); exports.handler = async () => { process.stdout.write(\'{"level":"INFO","message":"json"}\\n\'); console.warn(\'careful %d\', 3); return { statusCode: 200, body: \'\' }; };',
      handler: 'index.handler',
    });
    await host.invoke({}, 'request-2');
    expect(lines).toEqual([
      { line: 'init line', origin: { function: 'App/Fn', stream: 'stdout' } },
      { line: '{"level":"INFO","message":"json"}', origin: { function: 'App/Fn', requestId: 'request-2', stream: 'stdout' } },
      { line: 'careful 3', origin: { function: 'App/Fn', requestId: 'request-2', stream: 'stderr', level: 'WARN' } },
    ]);
  });

  it('names a module that cannot load as the Lambda runtime does', async () => {
    const code = tempDir();
    writeFileSync(join(code, 'broken.mjs'), 'export const handler = async () => {\n  return { a: 1 ;\n};\n');
    writeFileSync(join(code, 'noexport.js'), 'exports.other = () => 1;\n');
    const syntax = await failureOf(hosted({ codeDir: code, handler: 'broken.handler' }).host.invoke({}));
    expect(syntax).toMatchObject({ errorName: 'Runtime.UserCodeSyntaxError', phase: 'init' });
    expect(syntax.message).toMatch(/^SyntaxError: Unexpected token/);
    // Node names no file for a syntax error in an ES module; the stack does.
    expect(syntax.errorStack).toContain('broken.mjs:2');
    expect(await failureOf(hosted({ codeDir: code, handler: 'noexport.handler' }).host.invoke({}))).toMatchObject({
      errorName: 'Runtime.HandlerNotFound',
      phase: 'init',
    });
    expect(await failureOf(hosted({ codeDir: code, handler: 'missing.handler' }).host.invoke({}))).toMatchObject({
      errorName: 'Runtime.ImportModuleError',
      phase: 'init',
    });
  });

  it('times out with the function’s own timeout', async () => {
    const { host } = hosted({
      inlineCode: 'exports.handler = () => new Promise(() => undefined);',
      handler: 'index.handler',
      timeoutSeconds: 1,
    });
    const error = await host.invoke({}).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(FunctionTimeoutError);
    expect(error).toMatchObject({ functionName: 'App/Fn', timeoutSeconds: 1 });
  });

  it('serves replaced code to new invocations while one in flight finishes on the old code', async () => {
    const version = (value: string, delayMs: number) =>
      `exports.handler = async () => { await new Promise((r) => setTimeout(r, ${delayMs})); return { statusCode: 200, body: '${value}' }; };`;
    const first = tempDir();
    writeFileSync(join(first, 'index.js'), version('one', 300));
    const { host } = hosted({ codeDir: first, handler: 'index.handler' });
    const inFlight = host.invoke({});
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = tempDir();
    writeFileSync(join(second, 'index.js'), version('two', 0));
    host.replaceCode(second);
    expect(await host.invoke({})).toEqual({ statusCode: 200, body: 'two' });
    expect(await inFlight).toEqual({ statusCode: 200, body: 'one' });
    expect(await host.invoke({})).toEqual({ statusCode: 200, body: 'two' });
  });
});
