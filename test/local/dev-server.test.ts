/**
 * The dev server on integrations other than Lambda: an app synthesized here with an HTTP proxy route (to a server
 * on loopback), a MOCK route, an AWS service integration and a Python function, served and called over HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DualAuthApi } from '../../lib/construct/dual-auth-api';
import { readCloudAssembly } from '../../lib/local/assembly';
import { startDevServer, type DevServer, type FunctionFailure } from '../../lib/local/dev-server';
import type { FunctionOutputOrigin } from '../../lib/local/function-host';
import { functionEnvironment } from '../../lib/local/function-environment';

let upstream: Server;
let upstreamUrl: string;
const seen: { method?: string; url?: string; authorization?: string }[] = [];
let server: DevServer;
let assemblyDir: string;
const failures: FunctionFailure[] = [];
const output: { line: string; origin: FunctionOutputOrigin }[] = [];

beforeAll(async () => {
  upstream = createServer((request, response) => {
    seen.push({
      method: request.method!,
      url: request.url!,
      ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
    });
    response.writeHead(207, { 'content-type': 'application/json', 'x-upstream': 'yes' }).end(JSON.stringify({ upstream: request.url }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  assemblyDir = mkdtempSync(join(tmpdir(), 'dualgate-dev-assembly-'));
  const app = new App({ outdir: assemblyDir, context: { 'aws:cdk:enable-path-metadata': true } });
  const stack = new Stack(app, 'Integrations');
  const gate = new DualAuthApi(stack, 'Gate', {
    managementApi: false,
    issuers: [{ issuer: 'https://login.example.com', audience: 'api' }],
  });
  gate.addRoute({
    method: 'GET',
    path: '/proxy/{proxy+}',
    authorized: false,
    integration: new apigateway.HttpIntegration(`${upstreamUrl}/x/{proxy}`, {
      proxy: true,
      httpMethod: 'GET',
      options: { requestParameters: { 'integration.request.path.proxy': 'method.request.path.proxy' } },
    }),
  });
  gate.addRoute({
    method: 'GET',
    path: '/mock',
    authorized: false,
    integration: new apigateway.MockIntegration({
      requestTemplates: { 'application/json': '{"statusCode": 200}' },
      integrationResponses: [{ statusCode: '200', responseTemplates: { 'application/json': '{"mocked":true}' } }],
    }),
  });
  const role = new iam.Role(stack, 'SqsRole', { assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com') });
  gate.addRoute({
    method: 'POST',
    path: '/queue',
    authorized: false,
    integration: new apigateway.AwsIntegration({ service: 'sqs', path: '000000000000/queue', options: { credentialsRole: role } }),
  });
  const python = new lambda.Function(stack, 'Python', {
    runtime: lambda.Runtime.PYTHON_3_12,
    handler: 'index.handler',
    code: lambda.Code.fromInline('def handler(e, c): return {}'),
  });
  gate.addRoute({ method: 'GET', path: '/python', authorized: false, handler: python });
  const node = new lambda.Function(stack, 'Node', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
  });
  gate.addRoute({ method: 'GET', path: '/secure', scopes: ['s:read'], handler: node });
  const inline = (id: string, code: string) =>
    new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline(code) });
  gate.addRoute({
    method: 'GET',
    path: '/throws',
    authorized: false,
    handler: inline('Throws', 'exports.handler = async () => { console.log("about to throw"); throw new Error("boom"); }'),
  });
  gate.addRoute({
    method: 'GET',
    path: '/unloadable',
    authorized: false,
    handler: inline('Unloadable', 'exports.other = async () => ({ statusCode: 200 });'),
  });
  gate.addRoute({
    method: 'GET',
    path: '/malformed',
    authorized: false,
    handler: inline('Malformed', 'exports.handler = async () => ({ statusCode: "two hundred" })'),
  });
  const sleepy = new lambda.Function(stack, 'Sleepy', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    timeout: Duration.seconds(1),
    code: lambda.Code.fromInline(
      'exports.handler = async (event) => { await new Promise((r) => setTimeout(r, Number(event.pathParameters.ms))); return { statusCode: 200, body: "{}" }; }',
    ),
  });
  gate.addRoute({ method: 'GET', path: '/sleepy/{ms}', authorized: false, handler: sleepy });
  gate.addRoute({
    method: 'GET',
    path: '/callback',
    authorized: false,
    handler: inline(
      'Callback',
      'exports.handler = (event, context, callback) => callback(null, { statusCode: 200, body: JSON.stringify({ fn: context.functionName }) })',
    ),
  });
  app.synth();
  server = await startDevServer({
    assemblyDir,
    gatewayPort: 0,
    issuerPort: 0,
    audience: 'local',
    accessLog: () => undefined,
    functionOutput: (line, origin) => output.push({ line, origin }),
    onFunctionFailure: (failure) => failures.push(failure),
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('dualgate dev, integrations other than Lambda', () => {
  it('forwards an HTTP proxy integration to its URL with the greedy parameter and the query substituted', async () => {
    const response = await fetch(`${server.apis[0]!.url}/proxy/a/b%20c?x=1&x=2`);
    expect(response.status).toBe(207);
    expect(response.headers.get('x-upstream')).toBe('yes');
    expect(await response.json()).toEqual({ upstream: '/x/a/b%20c?x=1&x=2' });
    expect(seen.at(-1)?.method).toBe('GET');
  });

  it('keeps a parameter inside the path the integration URI names: no `..` climbing out (review finding)', async () => {
    const before = seen.length;
    for (const attack of ['..%2F..%2Finternal%2Fsecret', 'a/%2E%2E%2F%2E%2E%2Fsecret', '.%2Fx']) {
      const response = await fetch(`${server.apis[0]!.url}/proxy/${attack}`);
      expect(response.status, attack).toBe(400);
    }
    expect(seen.length).toBe(before);
    expect(((await (await fetch(`${server.apis[0]!.url}/proxy/a/..b`)).json()) as { upstream: string }).upstream).toBe('/x/a/..b');
  });

  it('answers a MOCK integration with its configured response', async () => {
    const response = await fetch(`${server.apis[0]!.url}/mock`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ mocked: true });
  });

  it('lists what it cannot serve and answers it with 501 JSON naming the method', async () => {
    expect(server.apis[0]!.notServed.map((entry) => `${entry.method} ${entry.path}`).sort()).toEqual(['GET /python', 'POST /queue']);
    const queue = await fetch(`${server.apis[0]!.url}/queue`, { method: 'POST' });
    expect(queue.status).toBe(501);
    expect(((await queue.json()) as { message: string }).message).toMatch(/^POST \/queue is not served locally: a AWS integration/);
    const python = await fetch(`${server.apis[0]!.url}/python`);
    expect(python.status).toBe(501);
    expect(((await python.json()) as { message: string }).message).toMatch(
      /^GET \/python is not served locally: .*python3\.12.*only Node\.js runtimes/,
    );
  });
});

describe('dualgate dev, functions that misbehave', () => {
  it('answers 502 for a function that throws or returns a malformed result, as API Gateway does', async () => {
    for (const path of ['/throws', '/malformed']) {
      const response = await fetch(`${server.apis[0]!.url}${path}`);
      expect(response.status, path).toBe(502);
      expect(await response.json()).toEqual({ message: 'Internal server error' });
    }
  });

  it('tells why: the error and its stack, the malformed result, the module that cannot load, with the route and request', async () => {
    failures.length = 0;
    const thrown = await fetch(`${server.apis[0]!.url}/throws`);
    const requestId = thrown.headers.get('x-amzn-requestid');
    await fetch(`${server.apis[0]!.url}/malformed`);
    await fetch(`${server.apis[0]!.url}/unloadable`);
    expect(failures.map((failure) => [failure.function, failure.route, failure.kind, failure.errorName])).toEqual([
      ['Integrations/Throws', 'GET /throws', 'threw', 'Error'],
      ['Integrations/Malformed', 'GET /malformed', 'malformed', 'MalformedProxyResult'],
      ['Integrations/Unloadable', 'GET /unloadable', 'init', 'Runtime.HandlerNotFound'],
    ]);
    expect(failures[0]).toMatchObject({ requestId, message: 'boom', role: 'integration', logicalId: expect.stringMatching(/^Throws/) });
    expect(failures[0]?.stack).toMatch(/^Error: boom\n\s+at /);
    expect(failures[1]?.message).toBe(
      'statusCode must be an integer from 100 to 599 (got "two hundred"); it returned {"statusCode":"two hundred"}',
    );
    // The function's own output came with the same request id.
    expect(output.filter((entry) => entry.line === 'about to throw').at(-1)?.origin).toEqual({
      function: 'Integrations/Throws',
      requestId,
      stream: 'stdout',
      level: 'INFO',
    });
  });

  it('reports a timeout as Lambda words it', async () => {
    failures.length = 0;
    expect((await fetch(`${server.apis[0]!.url}/sleepy/1500`)).status).toBe(504);
    expect(failures).toEqual([
      expect.objectContaining({ function: 'Integrations/Sleepy', kind: 'timeout', message: 'Task timed out after 1.00 seconds' }),
    ]);
  });

  it('runs concurrent invocations in separate environments: one timing out does not fail the other (review finding)', async () => {
    const slowRequest = fetch(`${server.apis[0]!.url}/sleepy/3000`);
    // Started so that it is still running when the slow one hits its 1 s timeout.
    await new Promise((resolve) => setTimeout(resolve, 800));
    const [slow, fast] = await Promise.all([slowRequest, fetch(`${server.apis[0]!.url}/sleepy/400`)]);
    expect(slow.status).toBe(504);
    expect(fast.status).toBe(200);
    expect((await fetch(`${server.apis[0]!.url}/sleepy/10`)).status).toBe(200);
  });

  it('serves a callback-style handler with a Lambda context', async () => {
    const response = await fetch(`${server.apis[0]!.url}/callback`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { fn: string }).fn).toMatch(/^Callback/);
  });
});

describe('dualgate dev, what it serves', () => {
  it('lists every route with its method, scopes and what answers it', () => {
    const routes = server.apis[0]!.routes.map((route) => [
      route.method,
      route.path,
      route.authorized,
      route.scopes.join(' '),
      route.target,
    ]);
    expect(routes).toEqual(
      expect.arrayContaining([
        ['GET', '/secure', true, 's:read', 'Integrations/Node'],
        ['GET', '/mock', false, '', 'MOCK 200'],
        ['GET', '/proxy/{proxy+}', false, '', `HTTP proxy GET ${upstreamUrl}/x/{proxy}`],
        ['POST', '/queue', false, '', expect.stringMatching(/^not served locally \(501\): a AWS integration/)],
      ]),
    );
  });

  it('serves new code for one function without restarting anything else', async () => {
    const code = mkdtempSync(join(tmpdir(), 'dualgate-replaced-'));
    writeFileSync(join(code, 'index.js'), 'exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ replaced: true }) });');
    const logicalId = server.apis[0]!.routes.find((route) => route.path === '/secure')?.functionId as string;
    expect(await server.replaceFunctionCode(logicalId, code)).toBe('Integrations/Node');
    const callback = server.apis[0]!.routes.find((route) => route.path === '/callback')?.functionId as string;
    expect(await server.replaceFunctionCode('NoSuchFunction', code)).toBeUndefined();
    // /secure needs a credential: /callback's function, replaced too, shows the new code is what answers.
    expect(await server.replaceFunctionCode(callback, code)).toBe('Integrations/Callback');
    const response = await fetch(`${server.apis[0]!.url}/callback`);
    expect(await response.json()).toEqual({ replaced: true });
    expect((await fetch(`${server.apis[0]!.url}/mock`)).status).toBe(200);
  });

  it('reports new code that no longer loads as soon as it is replaced, before any request', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'dualgate-replaced-'));
    writeFileSync(join(broken, 'index.js'), 'exports.handler = async () => {\n  return { a: 1 ;\n};\n');
    failures.length = 0;
    const callback = server.apis[0]!.routes.find((route) => route.path === '/callback')?.functionId as string;
    await server.replaceFunctionCode(callback, broken);
    expect(failures).toEqual([
      expect.objectContaining({
        function: 'Integrations/Callback',
        kind: 'init',
        errorName: 'Runtime.UserCodeSyntaxError',
        route: 'loading its new code',
        requestId: '',
      }),
    ]);
    expect(failures[0]?.stack).toContain(`${join(broken, 'index.js')}:2`);
  });
});

describe('function environments', () => {
  it('resolves literals and pseudo parameters, and leaves references to AWS resources as named placeholders', () => {
    const assembly = readCloudAssembly(assemblyDir);
    const roleId = [...assembly.resources].find(([id, resource]) => id.startsWith('SqsRole') && resource.type === 'AWS::IAM::Role')![0];
    const fn = {
      ...[...assembly.functions.values()][0]!,
      environment: {
        PLAIN: 'x',
        REGION: { Ref: 'AWS::Region' },
        ARN: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::b']] },
        ROLE: { 'Fn::GetAtt': [roleId, 'Arn'] },
      },
    };
    const { env, unresolved } = functionEnvironment(fn, assembly, { Parameters: { PLAIN: 'from-file' } });
    expect(env).toMatchObject({ PLAIN: 'from-file', REGION: 'us-east-1', ARN: 'arn:aws:s3:::b' });
    expect(env['ROLE']).toBe(`dualgate-local-unresolved:${roleId}.Arn`);
    expect(unresolved.map((entry) => [entry.variable, entry.references])).toEqual([['ROLE', `GetAtt ${roleId}.Arn (AWS::IAM::Role)`]]);
  });
});
