/**
 * `dualgate dev` on a platform team's own app (examples/orders-app, wired to this repository as a linked install):
 * it serves what the app's cloud assembly says, with the app's own functions in their own workers. Over HTTP only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDeployedTarget } from '../support/e2e-target';
import { exampleApp, REPO } from '../support/prepared';

const READY = /dualgate local mode is ready at (http:\/\/127\.0\.0\.1:\d+)/;
const TOKEN_URL = /token endpoint (http:\/\/127\.0\.0\.1:\d+\/token)/;

interface Dev {
  child: ChildProcess;
  output: () => string;
  url: string;
  tokenUrl: string;
}

async function startDev(cwd: string, args: string[]): Promise<Dev> {
  const child = spawn(process.execPath, [join(REPO, 'bin', 'dualgate-cli.mjs'), 'dev', ...args], {
    cwd,
    env: { ...process.env, PORT: '0', ISSUER_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 120_000;
  while (!READY.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`dualgate dev did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, url: READY.exec(output)![1]!, tokenUrl: TOKEN_URL.exec(output)![1]! };
}

async function token(dev: Dev, scopes: string): Promise<string> {
  const response = await fetch(dev.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('orders-team:any').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes }).toString(),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function call(dev: Dev, method: string, path: string, credential?: string): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${dev.url}${path}`, { method, headers: credential ? { authorization: `Bearer ${credential}` } : {} });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

describe.skipIf(isDeployedTarget())('dualgate dev on the example consumer app', () => {
  let app: ReturnType<typeof exampleApp>;
  let dev: Dev;
  let jwt: string;
  let key: string;
  let withoutEnvFile: string;

  beforeAll(async () => {
    app = exampleApp();
    const first = await startDev(app.appDir, ['--assembly', app.assemblyDir]);
    withoutEnvFile = first.output();
    first.child.kill('SIGTERM');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const envFile = join(mkdtempSync(join(tmpdir(), 'dualgate-env-')), 'vars.json');
    // One function by its construct path, the others through Parameters: both ways sam local offers.
    writeFileSync(
      envFile,
      JSON.stringify({ 'OrdersApp/OrdersWriter': { ORDERS_TABLE: 'orders-local' }, Parameters: { ORDERS_TABLE: 'orders-shared' } }),
    );
    dev = await startDev(app.appDir, ['--assembly', app.assemblyDir, '--env-file', envFile]);
    jwt = await token(dev, 'read:orders write:orders keys:read keys:write');
    const created = await fetch(`${dev.url}/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'orders reader', scopes: ['read:orders'] }),
    });
    expect(created.status).toBe(201);
    key = ((await created.json()) as { key: string }).key;
  }, 300_000);

  afterAll(() => {
    dev?.child.kill('SIGTERM');
  });

  it('serves the open route (CommonJS .cjs in a nested folder) without a credential', async () => {
    expect(await call(dev, 'GET', '/status')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('reaches the app’s routes with a JWT and with a key carrying the app’s scopes, the same sub', async () => {
    const viaJwt = await call(dev, 'GET', '/orders', jwt);
    const viaKey = await call(dev, 'GET', '/orders', key);
    expect(viaJwt.status).toBe(200);
    expect(viaKey.status).toBe(200);
    expect(viaJwt.body['sub']).toBe('orders-team');
    expect(viaKey.body['sub']).toBe('orders-team');
    expect(viaKey.body['scopes']).toBe('read:orders');
    expect(key.startsWith('ord_')).toBe(true);
  });

  it('answers 403 for a missing scope and 401 without a credential', async () => {
    expect((await call(dev, 'POST', '/orders', key)).status).toBe(403);
    expect((await call(dev, 'GET', '/orders')).status).toBe(401);
    expect((await call(dev, 'POST', '/orders', jwt)).status).toBe(201);
  });

  it('passes path parameters, and the greedy route’s full path, in the event; ANY answers another verb', async () => {
    const one = await call(dev, 'GET', '/orders/o-42', key);
    expect(one.body).toMatchObject({ resource: '/orders/{orderId}', path: '/orders/o-42', pathParameters: { orderId: 'o-42' } });
    const deep = await call(dev, 'DELETE', '/reports/2026/q3/summary', key);
    expect(deep.status).toBe(200);
    expect(deep.body).toMatchObject({
      method: 'DELETE',
      resource: '/reports/{proxy+}',
      path: '/reports/2026/q3/summary',
      pathParameters: { proxy: '2026/q3/summary' },
    });
  });

  it('runs each function in its own environment: the same variable, each its own value; memory in the context', async () => {
    const reader = await call(dev, 'GET', '/orders', key);
    const writer = await call(dev, 'POST', '/orders', jwt);
    expect(reader.body['role']).toBe('reader');
    expect(writer.body['role']).toBe('writer');
    expect(reader.body['memoryLimitInMB']).toBe('256');
  });

  it('lists the unresolved variables at startup and takes their values from --env-file', async () => {
    expect(withoutEnvFile).toMatch(/Unresolved variables/);
    expect(withoutEnvFile).toMatch(/OrdersWriter\S*\s+ORDERS_TABLE\s+→ Ref Orders\w+ \(AWS::DynamoDB::Table\)/);
    expect(withoutEnvFile).toMatch(
      /OrdersReader\S*\s+ORDERS_TABLE\s+→ Ref Orders\w+ \(AWS::DynamoDB::Table\) {2}= "dualgate-local-unresolved:Orders\w+"/,
    );
    expect(dev.output()).not.toMatch(/Unresolved variables/);
    expect((await call(dev, 'POST', '/orders', jwt)).body['table']).toBe('orders-local');
    expect((await call(dev, 'GET', '/orders', key)).body['table']).toBe('orders-shared');
  });

  it('answers 504 past a function’s configured timeout (inline code, 1 s), and serves again afterwards', async () => {
    const started = Date.now();
    const slow = await call(dev, 'GET', '/slow', key);
    expect(slow.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2900);
    expect((await call(dev, 'GET', '/orders', key)).status).toBe(200);
  });

  it('lists the HTTP proxy route and does not pretend to serve what it cannot', async () => {
    expect(dev.output()).not.toMatch(/not served locally.*\/files/);
  });
});

describe.skipIf(isDeployedTarget())('dualgate dev --watch', () => {
  it('re-synthesizes on a stack change and reloads a function’s own code alone, prints a line for each, and keeps keys valid', async () => {
    const { appDir, synthCommand } = exampleApp();
    // A copy of its own: this test edits the app's source.
    const copy = join(mkdtempSync(join(tmpdir(), 'dualgate-watch-')), 'orders-app');
    cpSync(appDir, copy, { recursive: true });
    // An installed app has its lock file (NodejsFunction looks for it); the shared copy borrows this repository's.
    writeFileSync(
      join(copy, 'package-lock.json'),
      JSON.stringify({ name: 'orders-app', lockfileVersion: 3, requires: true, packages: {} }),
    );
    const dev = await startDev(copy, ['--watch', '--app', synthCommand]);
    try {
      const jwt = await token(dev, 'read:orders keys:write keys:read');
      const created = await fetch(`${dev.url}/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'survives reloads', scopes: ['read:orders'] }),
      });
      const { key } = (await created.json()) as { key: string };
      expect((await call(dev, 'GET', '/hello')).status).toBe(404);

      const stackFile = join(copy, 'lib', 'orders-stack.ts');
      const source = readFileSync(stackFile, 'utf8');
      writeFileSync(
        stackFile,
        source.replace(
          "this.gate.addRoute({ method: 'GET', path: '/status',",
          "this.gate.addRoute({ method: 'GET', path: '/hello', authorized: false, handler: status });\n    this.gate.addRoute({ method: 'GET', path: '/status',",
        ),
      );
      const deadline = Date.now() + 120_000;
      while (!/dualgate dev: reloaded in \d+ ms/.test(dev.output())) {
        if (Date.now() > deadline) throw new Error(`no reload line:\n${dev.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(dev.output().match(/dualgate dev: reloaded in \d+ ms/g)).toHaveLength(1);
      expect(await call(dev, 'GET', '/hello')).toEqual({ status: 200, body: { status: 'ok' } });
      expect((await call(dev, 'GET', '/orders', key)).status).toBe(200);

      // Plain JavaScript in a Code.fromAsset directory is watched too.
      const statusFile = join(copy, 'lambdas', 'status', 'index.cjs');
      writeFileSync(statusFile, readFileSync(statusFile, 'utf8').replace("status: 'ok'", "status: 'edited'"));
      while ((dev.output().match(/dualgate dev: reloaded in \d+ ms/g) ?? []).length < 2) {
        if (Date.now() > deadline + 60_000) throw new Error(`no second reload:\n${dev.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await call(dev, 'GET', '/status')).toEqual({ status: 200, body: { status: 'edited' } });
      expect((await call(dev, 'GET', '/orders', key)).status).toBe(200);
      // A directory's code alone changed: no synth, that function alone.
      expect(dev.output()).toMatch(/dualgate dev: reloaded in \d+ ms: serving the new code of OrdersApp\/Status\n/);

      // The NodejsFunction's TypeScript: its bundle is rebuilt alone, and a throw names the TypeScript line.
      const writerFile = join(copy, 'src', 'writer.ts');
      writeFileSync(
        writerFile,
        readFileSync(writerFile, 'utf8').replace(
          'const caller = principalFrom(event);',
          "const caller = principalFrom(event);\n  console.log('writing for', caller.sub);\n  if (!event.body) throw new RangeError('an order needs a body');",
        ),
      );
      while (!/serving the new code of OrdersApp\/OrdersWriter/.test(dev.output())) {
        if (Date.now() > deadline + 120_000) throw new Error(`no writer reload:\n${dev.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const writerJwt = await token(dev, 'write:orders');
      expect((await call(dev, 'POST', '/orders', writerJwt)).status).toBe(502);
      while (!dev.output().includes('an order needs a body')) {
        if (Date.now() > deadline + 150_000) throw new Error(`no failure block:\n${dev.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(dev.output()).toContain('OrdersApp/OrdersWriter threw RangeError: an order needs a body');
      expect(dev.output()).toContain(`(${writerFile}:`);
      expect(dev.output()).toMatch(/\n {4}writing for orders-team\n/);
      expect(dev.output()).not.toMatch(/synthesizing the app again[\s\S]*synthesizing the app again/);
    } finally {
      dev.child.kill('SIGTERM');
    }
  }, 300_000);
});
