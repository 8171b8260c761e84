/**
 * Local mode is not reachable from a web page (issue 16): the pure Host/Origin rules, the guard over real HTTP, and
 * each listener `dualgate dev` opens (gateway, issuer, dynalite, usage-plans control plane) with a rebound Host and
 * a foreign Origin. `node:http` requests, because fetch cannot set Host.
 */
import { request, createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { startGateway, type ProxyHandler, type Route } from '../../lib/local/gateway';
import { startLocalIssuer } from '../../lib/local/issuer';
import { startLocalDynamo } from '../../lib/local/dynamo';
import { localConfigFromEnv } from '../../lib/local/local-config';
import { DualgateConfigError } from '../../lib/construct/config';
import {
  checkRequest,
  isLoopbackHost,
  isLoopbackOrigin,
  loopbackOnly,
  normalizeAllowedHost,
  restrictToLoopback,
} from '../../lib/local/loopback-guard';
import { startControlPlane } from '../../lib/local/usage-plans/control-plane';
import { UsagePlanEmulator } from '../../lib/local/usage-plans/emulator';

const REBOUND = 'rebind.attacker.example';
const ATTACKER_ORIGIN = 'https://attacker.example';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (Host included). */
function send(
  baseUrl: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      baseUrl + path,
      { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/** Raw bytes on a socket, for what node:http will not send (no Host, an absolute-form target). */
function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

function corsHeaders(headers: IncomingHttpHeaders): string[] {
  return Object.keys(headers).filter((name) => name.startsWith('access-control-'));
}

function expectRefusedHost(answer: Answer): void {
  expect(answer.status).toBe(421);
  expect(answer.headers['content-type']).toBe('application/json');
  expect(answer.headers['connection']).toBe('close');
  const { message } = JSON.parse(answer.body) as { message: string };
  expect(message).toContain('localhost, 127.0.0.1 or [::1]');
  expect(message).toContain('--allow-host NAME');
  expect(message).toContain('DUALGATE_ALLOWED_HOSTS');
  expect(corsHeaders(answer.headers)).toEqual([]);
}

function expectRefusedOrigin(answer: Answer): void {
  expect(answer.status).toBe(403);
  expect((JSON.parse(answer.body) as { message: string }).message).toMatch(/not a loopback origin/);
  expect(corsHeaders(answer.headers)).toEqual([]);
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LOCALHOST', 'LocalHost:3000', '127.0.0.1', '127.0.0.1:65535', '[::1]', '[::1]:3000', 'localhost:'])(
    'accepts %j',
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
    },
  );

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['trailing dot (a different name to a browser; allow it explicitly)', 'localhost.'],
    ['a loopback address as the first labels of a foreign name', '127.0.0.1.attacker.example'],
    ['localhost as the first label of a foreign name', 'localhost.attacker.example'],
    ['a foreign name', REBOUND],
    ['a foreign name ending in localhost', 'attacker-localhost'],
    ['IPv6 without brackets', '::1'],
    ['an unclosed bracket', '[::1'],
    ['a non-numeric port', 'localhost:http'],
    ['two ports', 'localhost:3000:1'],
    ['userinfo', 'localhost@attacker.example'],
    ['another loopback address (not listed: allow it explicitly)', '127.0.0.2'],
    ['the unspecified address', '0.0.0.0'],
    ['whitespace', ' localhost'],
  ])('refuses %s', (_, host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });

  it('accepts an allowed name with any port and case, and only when allowed', () => {
    expect(isLoopbackHost('DevBox.test:8080', ['devbox.test'])).toBe(true);
    expect(isLoopbackHost('devbox.test', ['devbox.test'])).toBe(true);
    expect(isLoopbackHost('devbox.test')).toBe(false);
    expect(isLoopbackHost('devbox.test.attacker.example', ['devbox.test'])).toBe(false);
  });

  it('accepts exactly a loopback name plus an optional port, for any string (property)', () => {
    const nearMiss = fc
      .tuple(
        fc.constantFrom('', 'x', '.', '-', 'a.'),
        fc.constantFrom('localhost', '127.0.0.1', '[::1]', 'LOCALHOST'),
        fc.string({ maxLength: 8 }),
      )
      .map(([prefix, name, suffix]) => prefix + name + suffix);
    fc.assert(
      fc.property(fc.oneof(fc.string(), nearMiss), (host) => {
        const expected = /^(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{0,5})?$/i.test(host);
        expect(isLoopbackHost(host)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('isLoopbackOrigin', () => {
  it.each(['http://localhost:5173', 'http://127.0.0.1', 'http://[::1]:3000', 'HTTP://LOCALHOST', 'https://localhost:8443'])(
    'accepts %j',
    (origin) => {
      expect(isLoopbackOrigin(origin)).toBe(true);
    },
  );

  it.each([
    'null',
    ATTACKER_ORIGIN,
    'http://localhost.attacker.example',
    'http://127.0.0.1.attacker.example:3000',
    'http://localhost:3000/path',
    'http://localhost@attacker.example',
    'file://',
    'ws://localhost',
    '',
  ])('refuses %j', (origin) => {
    expect(isLoopbackOrigin(origin)).toBe(false);
  });
});

describe('normalizeAllowedHost (--allow-host, DUALGATE_ALLOWED_HOSTS)', () => {
  it.each([
    ['DevBox.Test', 'devbox.test'],
    ['host.docker.internal', 'host.docker.internal'],
    ['localhost.', 'localhost.'],
    ['10.0.0.5', '10.0.0.5'],
    ['fd00::1', '[fd00::1]'],
    ['[FD00::1]', '[fd00::1]'],
  ])('takes %j as %j', (value, expected) => {
    expect(normalizeAllowedHost(value)).toBe(expected);
  });

  it.each(['devbox:8080', 'http://devbox', '*.test', '', 'a b', '[not-ipv6]', 'devbox/path', 'user@devbox'])('refuses %j', (value) => {
    expect(normalizeAllowedHost(value)).toBeUndefined();
  });

  it('reads both sources and names the one with a bad value', () => {
    expect(
      localConfigFromEnv({ DUALGATE_ALLOWED_HOSTS: 'Other.Test, devbox.test,' }, { allowHosts: ['devbox.test'] }).allowedHosts,
    ).toEqual(['devbox.test', 'other.test']);
    expect(localConfigFromEnv({}).allowedHosts).toEqual([]);
    expect(() => localConfigFromEnv({}, { allowHosts: ['devbox:8080'] })).toThrow(DualgateConfigError);
    expect(() => localConfigFromEnv({}, { allowHosts: ['devbox:8080'] })).toThrow(/^--allow-host takes a host name/);
    expect(() => localConfigFromEnv({ DUALGATE_ALLOWED_HOSTS: 'http://devbox' })).toThrow(/^DUALGATE_ALLOWED_HOSTS takes a host name/);
  });
});

describe('checkRequest', () => {
  const loopback = { host: ['127.0.0.1:3000'] };
  it('refuses an absolute-form target naming another host, even with a loopback Host', () => {
    expect(checkRequest({ url: `http://${REBOUND}/keys`, headersDistinct: loopback }, { kind: 'gateway' })).toMatchObject({
      allowed: false,
      reason: 'foreign_target',
      statusCode: 421,
    });
    expect(checkRequest({ url: 'http://127.0.0.1:3000/keys', headersDistinct: loopback }, { kind: 'gateway' })).toEqual({ allowed: true });
    expect(checkRequest({ url: '*', headersDistinct: loopback }, { kind: 'gateway' })).toEqual({ allowed: true });
  });

  it('refuses two Host headers, even when both are loopback', () => {
    expect(checkRequest({ url: '/', headersDistinct: { host: ['127.0.0.1', 'localhost'] } }, { kind: 'gateway' })).toMatchObject({
      allowed: false,
      reason: 'foreign_host',
    });
  });

  it('refuses a foreign or opaque Origin on internal listeners only, and takes a loopback one', () => {
    for (const origin of [ATTACKER_ORIGIN, 'null']) {
      expect(checkRequest({ url: '/', headersDistinct: { ...loopback, origin: [origin] } }, { kind: 'internal' })).toMatchObject({
        allowed: false,
        reason: 'foreign_origin',
        statusCode: 403,
      });
      expect(checkRequest({ url: '/', headersDistinct: { ...loopback, origin: [origin] } }, { kind: 'gateway' })).toEqual({
        allowed: true,
      });
    }
    expect(checkRequest({ url: '/', headersDistinct: { ...loopback, origin: ['http://localhost:5173'] } }, { kind: 'internal' })).toEqual({
      allowed: true,
    });
    expect(
      checkRequest(
        { url: '/', headersDistinct: { ...loopback, origin: ['http://localhost:5173', ATTACKER_ORIGIN] } },
        { kind: 'internal' },
      ),
    ).toMatchObject({ allowed: false, reason: 'foreign_origin' });
  });

  it('echoes at most 100 characters of a refused Host', () => {
    const verdict = checkRequest({ url: '/', headersDistinct: { host: ['a'.repeat(5000)] } }, { kind: 'gateway' });
    expect(verdict.allowed).toBe(false);
    expect(verdict.allowed === false && verdict.message.length).toBeLessThan(600);
  });
});

describe('loopbackOnly over HTTP', () => {
  async function serve(
    listener: RequestListener,
    kind: 'gateway' | 'internal',
    allowedHosts?: string[],
  ): Promise<{ url: string; port: number; calls: () => number }> {
    let calls = 0;
    const server: Server = createServer(
      loopbackOnly(
        (request, response) => {
          calls++;
          listener(request, response);
        },
        { kind, ...(allowedHosts ? { allowedHosts } : {}) },
      ),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, port, calls: () => calls };
  }
  const grantingEveryWay: RequestListener = (_request, response) => {
    response.setHeader('access-control-allow-origin', '*');
    response.appendHeader('Access-Control-Allow-Headers', 'authorization');
    const flat = _request.url === '/flat';
    if (flat) response.writeHead(200, ['content-type', 'text/plain', 'Access-Control-Allow-Methods', 'POST', 'x-kept', 'yes']);
    else response.writeHead(200, 'OK', { 'content-type': 'text/plain', 'access-control-allow-credentials': 'true', 'x-kept': 'yes' });
    response.end('served');
  };

  it('refuses a rebound Host with 421 JSON before the listener runs, and closes the connection', async () => {
    const served = await serve(grantingEveryWay, 'gateway');
    const refused = await send(served.url, '/', {
      method: 'POST',
      headers: { host: REBOUND, 'content-type': 'text/plain' },
      body: 'x'.repeat(100_000),
    });
    expectRefusedHost(refused);
    expect(JSON.parse(refused.body)).toEqual({ message: expect.stringContaining(`got Host "${REBOUND}"`) });
    expect(served.calls()).toBe(0);
    expect((await send(served.url, '/', { headers: { host: 'localhost:1234' } })).body).toBe('served');
    expect(served.calls()).toBe(1);
  });

  it('refuses a request without Host (HTTP/1.0) and an absolute-form target naming another host', async () => {
    const served = await serve(grantingEveryWay, 'gateway');
    expect(await sendRaw(served.port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 421 [^\r]*\r\n[\s\S]*no Host header/);
    expect(await sendRaw(served.port, `GET http://${REBOUND}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).toMatch(
      /^HTTP\/1\.1 421 [\s\S]*the request target/,
    );
    expect(served.calls()).toBe(0);
  });

  it('lets an allowed name through', async () => {
    const served = await serve(grantingEveryWay, 'gateway', ['devbox.test']);
    expect((await send(served.url, '/', { headers: { host: 'DEVBOX.test:3000' } })).status).toBe(200);
    expect((await send(served.url, '/', { headers: { host: 'other.test' } })).status).toBe(421);
  });

  it('drops every Access-Control-* header an internal listener sets, however it sets them, and keeps the rest', async () => {
    const served = await serve(grantingEveryWay, 'internal');
    for (const path of ['/object', '/flat']) {
      const answer = await send(served.url, path, { headers: { host: '127.0.0.1', origin: 'http://localhost:5173' } });
      expect(answer.status).toBe(200);
      expect(answer.headers['x-kept']).toBe('yes');
      expect(corsHeaders(answer.headers)).toEqual([]);
    }
  });

  it('leaves the gateway listener its own CORS headers (the app configured them)', async () => {
    const served = await serve(grantingEveryWay, 'gateway');
    const answer = await send(served.url, '/object', { headers: { host: '127.0.0.1', origin: ATTACKER_ORIGIN } });
    expect(answer.headers['access-control-allow-origin']).toBe('*');
    expect(answer.headers['access-control-allow-credentials']).toBe('true');
  });

  it('restrictToLoopback guards a server built elsewhere, every request listener of it', async () => {
    const calls: string[] = [];
    const server = createServer((request, response) => {
      calls.push(request.url ?? '');
      response.setHeader('access-control-allow-origin', '*');
      response.end('ok');
    });
    restrictToLoopback(server, { kind: 'internal' });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expectRefusedHost(await send(url, '/rebound', { headers: { host: REBOUND } }));
    expectRefusedOrigin(await send(url, '/cross-origin', { headers: { host: '127.0.0.1', origin: ATTACKER_ORIGIN } }));
    const served = await send(url, '/loopback', { headers: { host: '127.0.0.1' } });
    expect(served.body).toBe('ok');
    expect(corsHeaders(served.headers)).toEqual([]);
    expect(calls).toEqual(['/loopback']);
  });
});

describe('the local gateway', () => {
  const ROUTES: Route[] = [
    { method: 'GET', path: '/plain', handler: 'plain', scopes: [], authorized: false },
    { method: 'GET', path: '/cors', handler: 'cors', scopes: [], authorized: false },
  ];
  async function gateway(allowedHosts?: string[]) {
    const invoked: string[] = [];
    const handlers: Record<string, ProxyHandler> = {
      plain: async () => (invoked.push('plain'), { statusCode: 200, body: '{}' }),
      cors: async () => (
        invoked.push('cors'), { statusCode: 200, headers: { 'Access-Control-Allow-Origin': 'https://app.example' }, body: '{}' }
      ),
    };
    const running = await startGateway({
      host: '127.0.0.1',
      port: 0,
      routes: ROUTES,
      stageName: 'v1',
      authorizerCacheTtlSeconds: 0,
      authorize: async () => ({ effect: 'unauthorized' }),
      loadHandler: async (name) => handlers[name] as ProxyHandler,
      accessLog: () => undefined,
      ...(allowedHosts ? { allowedHosts } : {}),
    });
    cleanups.push(running.close);
    return { url: running.url, invoked };
  }

  it('refuses a rebound Host without invoking anything, and serves a loopback one', async () => {
    const { url, invoked } = await gateway();
    expectRefusedHost(await send(url, '/plain', { headers: { host: REBOUND } }));
    expect(invoked).toEqual([]);
    expect((await send(url, '/plain', { headers: { host: 'localhost:3000' } })).status).toBe(200);
    expect(invoked).toEqual(['plain']);
  });

  it("adds no CORS header of its own for a foreign Origin, and passes a backend's through", async () => {
    const { url } = await gateway();
    const plain = await send(url, '/plain', { headers: { host: '127.0.0.1', origin: ATTACKER_ORIGIN } });
    expect(plain.status).toBe(200);
    expect(corsHeaders(plain.headers)).toEqual([]);
    const preflight = await send(url, '/plain', {
      method: 'OPTIONS',
      headers: { host: '127.0.0.1', origin: ATTACKER_ORIGIN, 'access-control-request-method': 'GET' },
    });
    expect(corsHeaders(preflight.headers)).toEqual([]);
    const configured = await send(url, '/cors', { headers: { host: '127.0.0.1', origin: ATTACKER_ORIGIN } });
    expect(configured.headers['access-control-allow-origin']).toBe('https://app.example');
  });

  it('serves a name given in allowedHosts', async () => {
    const { url } = await gateway(['devbox.test']);
    expect((await send(url, '/plain', { headers: { host: 'devbox.test:3000' } })).status).toBe(200);
  });
});

describe('the local issuer', () => {
  const tokenRequest = (host: string, extra: Record<string, string> = {}) => ({
    method: 'POST',
    headers: {
      host,
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('page:secret').toString('base64')}`,
      ...extra,
    },
    body: 'grant_type=client_credentials&scope=keys%3Aadmin',
  });
  async function issuer(allowedHosts?: string[]) {
    const running = await startLocalIssuer({
      host: '127.0.0.1',
      port: 0,
      audience: 'local',
      scopeCatalog: ['keys:admin'],
      ...(allowedHosts ? { allowedHosts } : {}),
    });
    cleanups.push(running.stop);
    return running;
  }

  it('issues no token for a rebound Host, and one for a loopback Host', async () => {
    const { url } = await issuer();
    const refused = await send(url, '/token', tokenRequest(REBOUND));
    expectRefusedHost(refused);
    expect(refused.body).not.toContain('access_token');
    for (const path of ['/jwks', '/.well-known/openid-configuration'])
      expectRefusedHost(await send(url, path, { headers: { host: REBOUND } }));
    const granted = await send(url, '/token', tokenRequest('[::1]:9'));
    expect(granted.status).toBe(200);
    expect(JSON.parse(granted.body)).toHaveProperty('access_token');
  });

  it('refuses a foreign Origin with 403 and no token', async () => {
    const { url } = await issuer();
    const refused = await send(url, '/token', tokenRequest('127.0.0.1', { origin: ATTACKER_ORIGIN }));
    expectRefusedOrigin(refused);
    expect(refused.body).not.toContain('access_token');
    expectRefusedOrigin(await send(url, '/jwks', { headers: { host: '127.0.0.1', origin: ATTACKER_ORIGIN } }));
  });

  it('grants no CORS on the JWKS, the discovery document or their preflights (oauth2-mock-server would send *)', async () => {
    const { url } = await issuer();
    for (const path of ['/jwks', '/.well-known/openid-configuration']) {
      const answer = await send(url, path, { headers: { host: '127.0.0.1', origin: 'http://localhost:5173' } });
      expect(answer.status).toBe(200);
      expect(corsHeaders(answer.headers)).toEqual([]);
      const preflight = await send(url, path, {
        method: 'OPTIONS',
        headers: { host: '127.0.0.1', origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
      });
      expect(corsHeaders(preflight.headers)).toEqual([]);
    }
  });

  it('issues a token for a name given in allowedHosts', async () => {
    const { url } = await issuer(['devbox.test']);
    expect((await send(url, '/token', tokenRequest('devbox.test:3001'))).status).toBe(200);
  });
});

describe('dynalite (the key tables)', () => {
  const TABLE = 'dualgate-keys';
  const putItem = (host: string, keyHash: string, extra: Record<string, string> = {}) => ({
    method: 'POST',
    headers: {
      host,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.PutItem',
      // A made-up signature: dynalite checks only that one is there.
      authorization: 'AWS4-HMAC-SHA256 Credential=page/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00',
      'x-amz-date': '20260101T000000Z',
      ...extra,
    },
    body: JSON.stringify({
      TableName: TABLE,
      Item: { keyHash: { S: keyHash }, keyId: { S: keyHash }, owner: { S: 'page' }, createdAt: { S: '2026-01-01' } },
    }),
  });
  async function dynamo(allowedHosts?: string[]) {
    const running = await startLocalDynamo({ host: '127.0.0.1', tableName: TABLE, ...(allowedHosts ? { allowedHosts } : {}) });
    cleanups.push(running.stop);
    const stored = async (keyHash: string) =>
      (await running.client.send(new GetItemCommand({ TableName: TABLE, Key: { keyHash: { S: keyHash } }, ConsistentRead: true }))).Item !==
      undefined;
    return { ...running, stored };
  }

  it('writes nothing for a rebound Host, and writes for a loopback one', async () => {
    const local = await dynamo();
    expectRefusedHost(await send(local.endpoint, '/', putItem(REBOUND, 'planted-by-rebinding')));
    expect(await local.stored('planted-by-rebinding')).toBe(false);
    const written = await send(local.endpoint, '/', putItem('127.0.0.1', 'written-locally'));
    expect(written.status).toBe(200);
    expect(await local.stored('written-locally')).toBe(true);
  });

  it('refuses a foreign Origin with 403 and writes nothing; grants no CORS to a preflight', async () => {
    const local = await dynamo();
    expectRefusedOrigin(await send(local.endpoint, '/', putItem('127.0.0.1', 'planted-cross-origin', { origin: ATTACKER_ORIGIN })));
    expect(await local.stored('planted-cross-origin')).toBe(false);
    const preflight = await send(local.endpoint, '/', {
      method: 'OPTIONS',
      headers: {
        host: '127.0.0.1',
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-amz-target',
      },
    });
    expect(corsHeaders(preflight.headers)).toEqual([]);
    const loopbackPage = await send(local.endpoint, '/', { headers: { host: '127.0.0.1', origin: 'http://localhost:5173' } });
    expect(loopbackPage.status).toBe(200);
    expect(corsHeaders(loopbackPage.headers)).toEqual([]);
  });

  it('writes for a name given in allowedHosts', async () => {
    const local = await dynamo(['devbox.test']);
    expect((await send(local.endpoint, '/', putItem('devbox.test', 'written-via-alias'))).status).toBe(200);
    expect(await local.stored('written-via-alias')).toBe(true);
  });
});

describe('the usage-plans control plane', () => {
  const createKey = (host: string, extra: Record<string, string> = {}) => ({
    method: 'POST',
    headers: { host, 'content-type': 'application/json', ...extra },
    body: JSON.stringify({ name: 'planted', enabled: true }),
  });
  async function plane(allowedHosts?: string[]) {
    const emulator = new UsagePlanEmulator({ plans: [{ id: 'p', name: 'p' }] });
    const running = await startControlPlane(emulator, '127.0.0.1', allowedHosts ? { allowedHosts } : {});
    cleanups.push(running.close);
    return { endpoint: running.endpoint, emulator };
  }

  it('creates no key for a rebound Host or a foreign Origin, and one for a loopback Host', async () => {
    const { endpoint, emulator } = await plane();
    const before = JSON.stringify(emulator.snapshot());
    expectRefusedHost(await send(endpoint, '/apikeys', createKey(REBOUND)));
    expectRefusedOrigin(await send(endpoint, '/apikeys', createKey('127.0.0.1', { origin: ATTACKER_ORIGIN })));
    expect(JSON.stringify(emulator.snapshot())).toBe(before);
    const created = await send(endpoint, '/apikeys', createKey('localhost'));
    expect(created.status).toBe(201);
    expect(JSON.stringify(emulator.snapshot())).not.toBe(before);
  });

  it('creates a key for a name given in allowedHosts', async () => {
    const { endpoint } = await plane(['devbox.test']);
    expect((await send(endpoint, '/apikeys', createKey('devbox.test:1'))).status).toBe(201);
  });
});
