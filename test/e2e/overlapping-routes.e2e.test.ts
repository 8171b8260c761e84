/**
 * Route-bound authorization on a table whose routes overlap in every way API Gateway allows, end to end: the
 * consumer app test/fixtures/overlap-app, installed from the `npm pack` tarball, synthesized with its own cdk.json
 * command, and served by `npx dualgate dev` from the installed package. Every route is called with a JWT and with
 * an API key: a caller holding the route's scope reaches it (the handler echoes the route API Gateway chose), a
 * caller holding only a sibling's scope gets 403, including the encoded spellings of a literal. Then every port
 * `dualgate dev` listens on (found from /proc, not only from its banner) is probed with a foreign Host and Origin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDeployedTarget } from '../support/e2e-target';
import { canListListeningSockets, listeningSockets, type ListeningSocket } from '../support/listening-ports';
import { overlapApp } from '../support/prepared';

const READY = /dualgate local mode is ready at (http:\/\/127\.0\.0\.1:\d+)/;
/** Printed after the whole banner. */
const STARTED = /dualgate dev: ready in [\d.]+ s/;
const CLIENT_ID = 'overlap-client';
const FOREIGN_HOST = 'rebind.attacker.example';
const FOREIGN_ORIGIN = 'https://attacker.example';

/** Every scope a route of the app requires, one route each. */
const ROUTE_SCOPES = [
  'hooks:write',
  'index:admin',
  'docs:admin',
  'docs:read',
  'q:read',
  'a:read',
  'read:users',
  'admin:users',
  'read:orders',
  'write:orders',
  'api:read',
  'api:admin',
] as const;
type RouteScope = (typeof ROUTE_SCOPES)[number];

/**
 * One request, the route the local router serves it with (lambdas/core/route-table.ts: a literal beats
 * `{param}`, which beats a greedy; an exact verb beats ANY; one trailing slash is ignored; each segment is
 * percent-decoded once, `%2F` never separating), the scope that route requires, and sibling scopes that must not
 * reach it.
 */
interface RouteCase {
  method: string;
  path: string;
  resource: string;
  scope: RouteScope;
  refused: RouteScope[];
}

const CASES: RouteCase[] = [
  // The root: GET is its own route; every other verb is ANY's.
  { method: 'GET', path: '/', resource: '/', scope: 'index:admin', refused: ['hooks:write'] },
  { method: 'POST', path: '/', resource: '/', scope: 'hooks:write', refused: ['index:admin'] },
  { method: 'DELETE', path: '/', resource: '/', scope: 'hooks:write', refused: ['index:admin'] },
  // A literal beside its own greedy child and beside the root's {q}.
  { method: 'GET', path: '/docs', resource: '/docs', scope: 'docs:admin', refused: ['docs:read', 'q:read'] },
  { method: 'GET', path: '/docs/', resource: '/docs', scope: 'docs:admin', refused: ['docs:read', 'q:read'] },
  { method: 'GET', path: '/%64ocs', resource: '/docs', scope: 'docs:admin', refused: ['docs:read', 'q:read'] },
  { method: 'GET', path: '/docs/x', resource: '/docs/{page+}', scope: 'docs:read', refused: ['docs:admin', 'q:read'] },
  { method: 'GET', path: '/docs/x/y', resource: '/docs/{page+}', scope: 'docs:read', refused: ['docs:admin'] },
  // /a has no method of its own: `/a` and `/a/` are the root's {q}; anything below is /a/{g+}.
  { method: 'GET', path: '/a', resource: '/{q}', scope: 'q:read', refused: ['a:read'] },
  { method: 'GET', path: '/a/', resource: '/{q}', scope: 'q:read', refused: ['a:read'] },
  { method: 'GET', path: '/a/x', resource: '/a/{g+}', scope: 'a:read', refused: ['q:read'] },
  { method: 'GET', path: '/a/x/y', resource: '/a/{g+}', scope: 'a:read', refused: ['q:read'] },
  { method: 'GET', path: '/%61/x', resource: '/a/{g+}', scope: 'a:read', refused: ['q:read'] },
  { method: 'GET', path: '/anything', resource: '/{q}', scope: 'q:read', refused: ['a:read', 'docs:read', 'docs:admin'] },
  // A literal beside {id}, in every spelling that decodes to it; what decodes to something else is {id}.
  { method: 'GET', path: '/users/admin', resource: '/users/admin', scope: 'admin:users', refused: ['read:users'] },
  { method: 'GET', path: '/users/admin/', resource: '/users/admin', scope: 'admin:users', refused: ['read:users'] },
  { method: 'GET', path: '/users/%61dmin', resource: '/users/admin', scope: 'admin:users', refused: ['read:users'] },
  { method: 'GET', path: '/users/adm%69n', resource: '/users/admin', scope: 'admin:users', refused: ['read:users'] },
  { method: 'GET', path: '/users/%61%64%6D%69%6E', resource: '/users/admin', scope: 'admin:users', refused: ['read:users'] },
  { method: 'GET', path: '/users/ADMIN', resource: '/users/{id}', scope: 'read:users', refused: ['admin:users'] },
  { method: 'GET', path: '/users/%2561dmin', resource: '/users/{id}', scope: 'read:users', refused: ['admin:users'] },
  { method: 'GET', path: '/users/42', resource: '/users/{id}', scope: 'read:users', refused: ['admin:users'] },
  // GET beside ANY on one resource.
  { method: 'GET', path: '/orders/1', resource: '/orders/{id}', scope: 'read:orders', refused: ['write:orders'] },
  { method: 'DELETE', path: '/orders/1', resource: '/orders/{id}', scope: 'write:orders', refused: ['read:orders'] },
  { method: 'PUT', path: '/orders/1', resource: '/orders/{id}', scope: 'write:orders', refused: ['read:orders'] },
  { method: 'POST', path: '/orders/1', resource: '/orders/{id}', scope: 'write:orders', refused: ['read:orders'] },
  { method: 'PATCH', path: '/orders/1', resource: '/orders/{id}', scope: 'write:orders', refused: ['read:orders'] },
  // A greedy inside a greedy: /api/admin/{proxy+} takes one segment or more after admin; /api/admin alone is /api/{proxy+}.
  { method: 'GET', path: '/api/x', resource: '/api/{proxy+}', scope: 'api:read', refused: ['api:admin'] },
  { method: 'GET', path: '/api/x/admin', resource: '/api/{proxy+}', scope: 'api:read', refused: ['api:admin'] },
  { method: 'GET', path: '/api/admin', resource: '/api/{proxy+}', scope: 'api:read', refused: ['api:admin'] },
  { method: 'GET', path: '/api/admin/x', resource: '/api/admin/{proxy+}', scope: 'api:admin', refused: ['api:read'] },
  { method: 'GET', path: '/api/admin/x/y', resource: '/api/admin/{proxy+}', scope: 'api:admin', refused: ['api:read'] },
  { method: 'GET', path: '/api/%61dmin/x', resource: '/api/admin/{proxy+}', scope: 'api:admin', refused: ['api:read'] },
];

/** Requests no route serves: 404 whatever the credential (no fallback to a route of another verb). */
const UNROUTED: { method: string; path: string }[] = [
  { method: 'DELETE', path: '/docs' },
  { method: 'POST', path: '/docs/x' },
  { method: 'POST', path: '/users/admin' },
  { method: 'PUT', path: '/users/%61dmin' },
  { method: 'DELETE', path: '/api/admin/x' },
  { method: 'POST', path: '/a/x' },
];

type CredentialKind = 'jwt' | 'key';
const KINDS: CredentialKind[] = ['jwt', 'key'];

interface Dev {
  child: ChildProcess;
  output: () => string;
  url: string;
  tokenUrl: string;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over node:http, so Host and Origin are sent exactly as given (fetch cannot set Host). */
function send(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // `path` overrides the URL's path: an absolute URL there is sent as an absolute-form request target.
    const outgoing = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false, ...(options.path ? { path: options.path } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/** `npx dualgate dev` in the app: serving `assemblyDir`, or synthesizing the app itself (its cdk.json) without one. */
async function startDev(appDir: string, assemblyDir: string | undefined, env: Record<string, string> = {}): Promise<Dev> {
  // As a platform team runs it: npx finds the installed package's bin. Its own process group, so the whole
  // tree (npm, the shell, dualgate) stops together. JSON logs: this test reads the access log and the decisions.
  const child = spawn('npx', ['--no', 'dualgate', 'dev', '--log-format', 'json', ...(assemblyDir ? ['--assembly', assemblyDir] : [])], {
    cwd: appDir,
    env: { ...process.env, PORT: '0', ISSUER_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 120_000;
  while (!STARTED.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      stopDev(child);
      throw new Error(`dualgate dev did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    output: () => output,
    url: READY.exec(output)![1]!,
    tokenUrl: /token endpoint (http:\/\/127\.0\.0\.1:\d+\/token)/.exec(output)![1]!,
  };
}

function stopDev(child: ChildProcess | undefined): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
}

async function token(dev: Dev, scopes: readonly string[]): Promise<string> {
  const response = await fetch(dev.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:any`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes.join(' ') }).toString(),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** An API key holding exactly `scopes`, created through the key API with a token that may grant them. */
async function apiKey(dev: Dev, scopes: readonly string[]): Promise<string> {
  const creator = await token(dev, ['keys:write', 'keys:read', ...scopes]);
  const created = await send(`${dev.url}/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${creator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `holds ${scopes.join(' ')}`, scopes }),
  });
  expect(created.status, created.body).toBe(201);
  return (JSON.parse(created.body) as { key: string }).key;
}

async function credentials(dev: Dev, scope: RouteScope): Promise<Record<CredentialKind, string>> {
  return { jwt: await token(dev, [scope]), key: await apiKey(dev, [scope]) };
}

interface Called {
  status: number;
  body: Record<string, unknown>;
  requestId: string;
}

async function call(dev: Dev, method: string, path: string, credential?: string): Promise<Called> {
  const reply = await send(`${dev.url}${path}`, { method, headers: credential ? { authorization: `Bearer ${credential}` } : {} });
  let body: Record<string, unknown> = {};
  try {
    body = reply.body ? (JSON.parse(reply.body) as Record<string, unknown>) : {};
  } catch {
    body = { unparsed: reply.body };
  }
  return { status: reply.status, body, requestId: String(reply.headers['x-amzn-requestid'] ?? '') };
}

/** A line local mode printed about this request, once it is there (lines are written once per event-loop turn). */
async function logLine(dev: Dev, requestId: string, marker: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const line = dev
      .output()
      .split('\n')
      .find((candidate) => candidate.includes(`"requestId":"${requestId}"`) && candidate.includes(marker));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    if (Date.now() > deadline) throw new Error(`no log line with ${marker} for ${requestId}:\n${dev.output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Why a request was refused: the gateway's access log (the route it matched, ACCESS_DENIED) and, when the authorizer
 * was called rather than its cached answer reused, the authorizer's own reason.
 */
async function refusal(dev: Dev, called: Called): Promise<Record<string, unknown>> {
  const access = await logLine(dev, called.requestId, '"authorizerCached"');
  const reason = access['authorizerCached'] === true ? 'cached' : (await logLine(dev, called.requestId, '"decision":"deny"'))['reason'];
  return { status: called.status, resourcePath: access['resourcePath'], errorType: access['errorType'], reason };
}

/** What a request, with the scopes its caller holds, should get: 200 and the route's resource, or 403. */
function outcome(called: Called): { status: number; resource?: unknown; sub?: unknown; scopes?: unknown } {
  return called.status === 200
    ? { status: 200, resource: called.body['resource'], sub: called.body['sub'], scopes: called.body['scopes'] }
    : { status: called.status };
}

describe.skipIf(isDeployedTarget())('npx dualgate dev on an app whose routes overlap (packed install)', () => {
  let dev: Dev;
  const byScope = new Map<RouteScope, Record<CredentialKind, string>>();

  beforeAll(async () => {
    const app = overlapApp();
    dev = await startDev(app.appDir, app.assemblyDir);
    for (const scope of ROUTE_SCOPES) byScope.set(scope, await credentials(dev, scope));
  }, 300_000);

  afterAll(() => stopDev(dev?.child));

  const held = (scope: RouteScope, kind: CredentialKind) => byScope.get(scope)![kind];

  describe.each(KINDS)('with %s credentials', (kind) => {
    it.each(CASES)('$method $path: $scope reaches $resource; $refused get 403', async ({ method, path, resource, scope, refused }) => {
      expect(outcome(await call(dev, method, path, held(scope, kind)))).toEqual({ status: 200, resource, sub: CLIENT_ID, scopes: scope });
      for (const sibling of refused) {
        const called = await call(dev, method, path, held(sibling, kind));
        expect([sibling, await refusal(dev, called)]).toEqual([
          sibling,
          { status: 403, resourcePath: resource, errorType: 'ACCESS_DENIED', reason: expect.stringMatching(/^(missing_scope|cached)$/) },
        ]);
      }
    });

    it('answers 404 for a verb no route of that resource has, whatever the caller holds', async () => {
      for (const { method, path } of UNROUTED) {
        for (const scope of ROUTE_SCOPES)
          expect([method, path, scope, (await call(dev, method, path, held(scope, kind))).status]).toEqual([method, path, scope, 404]);
      }
    });
  });

  it('answers 401 on every route without a credential', async () => {
    for (const { method, path } of CASES) expect([method, path, (await call(dev, method, path)).status]).toEqual([method, path, 401]);
  });

  it('covers all twelve routes, each with the one scope it requires', () => {
    const routeOf = new Map(CASES.map((routeCase) => [routeCase.scope, routeCase.resource]));
    expect([...routeOf.keys()].sort()).toEqual([...ROUTE_SCOPES].sort());
    for (const routeCase of CASES) expect([routeCase.scope, routeCase.resource]).toEqual([routeCase.scope, routeOf.get(routeCase.scope)]);
  });

  describe.each(KINDS)('one %s on two routes within the authorizer cache TTL', (kind) => {
    /** Calls in order with one fresh credential: each expected status, and whether the gateway's cache answered. */
    async function sequence(scope: RouteScope, steps: { method: string; path: string; status: number; cached: boolean }[]): Promise<void> {
      const credential = kind === 'jwt' ? await token(dev, [scope]) : await apiKey(dev, [scope]);
      const seen: typeof steps = [];
      for (const step of steps) {
        const called = await call(dev, step.method, step.path, credential);
        const log = await logLine(dev, called.requestId, '"authorizerCached"');
        seen.push({ method: step.method, path: step.path, status: called.status, cached: log['authorizerCached'] === true });
      }
      expect(seen).toEqual(steps);
    }

    it('an allowed route, then a denied one, then both again: each route its own cached answer', async () => {
      await sequence('read:users', [
        { method: 'GET', path: '/users/1', status: 200, cached: false },
        { method: 'GET', path: '/users/admin', status: 403, cached: false },
        { method: 'GET', path: '/users/2', status: 200, cached: true },
        { method: 'GET', path: '/users/%61dmin', status: 403, cached: true },
      ]);
      await sequence('read:orders', [
        { method: 'GET', path: '/orders/1', status: 200, cached: false },
        { method: 'DELETE', path: '/orders/1', status: 403, cached: false },
        { method: 'GET', path: '/orders/2', status: 200, cached: true },
        { method: 'DELETE', path: '/orders/2', status: 403, cached: true },
      ]);
      await sequence('api:read', [
        { method: 'GET', path: '/api/x', status: 200, cached: false },
        { method: 'GET', path: '/api/admin/x', status: 403, cached: false },
        { method: 'GET', path: '/api/y', status: 200, cached: true },
      ]);
    });

    it('a denied route, then an allowed one, then both again', async () => {
      await sequence('admin:users', [
        { method: 'GET', path: '/users/1', status: 403, cached: false },
        { method: 'GET', path: '/users/admin', status: 200, cached: false },
        { method: 'GET', path: '/users/2', status: 403, cached: true },
        { method: 'GET', path: '/users/%61dmin', status: 200, cached: true },
      ]);
      await sequence('hooks:write', [
        { method: 'GET', path: '/', status: 403, cached: false },
        { method: 'POST', path: '/', status: 200, cached: false },
        { method: 'GET', path: '/', status: 403, cached: true },
        { method: 'POST', path: '/', status: 200, cached: true },
      ]);
      await sequence('docs:read', [
        { method: 'GET', path: '/docs', status: 403, cached: false },
        { method: 'GET', path: '/docs/x', status: 200, cached: false },
        { method: 'GET', path: '/docs/', status: 403, cached: true },
      ]);
    });
  });

  it.skipIf(!canListListeningSockets())(
    'every port it listens on (found in /proc) is loopback-only and refuses a foreign Host (421) and Origin',
    async () => {
      await expectEveryPortRefusesWebPages(dev, ['gateway', 'issuer', 'dynamodb']);
    },
  );

  it('grants a foreign Origin no CORS on an allowed call either (the app sets none; the gateway adds none)', async () => {
    const reply = await send(`${dev.url}/users/42`, {
      headers: { authorization: `Bearer ${held('read:users', 'key')}`, origin: FOREIGN_ORIGIN },
    });
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.headers).filter((header) => header.startsWith('access-control-'))).toEqual([]);
  });
});

/** The listeners of one `dualgate dev`: every LISTEN socket of its process tree (/proc), and what its banner calls each port. */
function listeners(dev: Dev): { sockets: ListeningSocket[]; ports: number[]; named: Map<number, string> } {
  const banner = dev.output();
  const named = new Map<number, string>();
  const name = (label: string, pattern: RegExp) => {
    for (const match of banner.matchAll(pattern)) named.set(Number(match[1]), label);
  };
  name('gateway', /gateway {3}http:\/\/127\.0\.0\.1:(\d+)/g);
  name('issuer', /issuer {4}http:\/\/127\.0\.0\.1:(\d+)/g);
  name('dynamodb', /dynamodb {2}http:\/\/127\.0\.0\.1:(\d+)/g);
  name('control plane', /control plane http:\/\/127\.0\.0\.1:(\d+)/g);
  const sockets = listeningSockets(dev.child.pid as number);
  return { sockets, ports: [...new Set(sockets.map((socket) => socket.port))].sort((a, b) => a - b), named };
}

type ListenerKind = 'gateway' | 'internal';

/**
 * What a web page could try on a port, and what it got: a rebound Host (with and without the port), an
 * absolute-form target naming a foreign host, a cross-origin POST and a CORS preflight. The internal listeners
 * refuse a foreign Origin (403); the gateway hands it to the API (here: ANY / without a credential, 401). Neither
 * may grant CORS. A loopback Host is answered (the control: the refusals are the guard's, not a dead port's).
 */
async function probe(port: number): Promise<Record<string, unknown>> {
  const url = `http://127.0.0.1:${port}/`;
  const host = `127.0.0.1:${port}`;
  const grantsCors = (reply: Reply) => {
    const allowed = reply.headers['access-control-allow-origin'];
    return allowed === '*' || allowed === FOREIGN_ORIGIN || reply.headers['access-control-allow-credentials'] !== undefined;
  };
  const crossOrigin = await send(url, {
    method: 'POST',
    headers: { host, origin: FOREIGN_ORIGIN, 'content-type': 'application/json' },
    body: '{}',
  });
  const preflight = await send(url, {
    method: 'OPTIONS',
    headers: {
      host,
      origin: FOREIGN_ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
  const loopback = await send(url, { headers: { host: `localhost:${port}` } });
  return {
    reboundHost: (await send(url, { headers: { host: FOREIGN_HOST } })).status,
    reboundHostWithPort: (await send(url, { headers: { host: `${FOREIGN_HOST}:${port}` } })).status,
    reboundTarget: (await send(url, { path: `http://${FOREIGN_HOST}/`, headers: { host } })).status,
    crossOrigin: crossOrigin.status,
    crossOriginGrantsCors: grantsCors(crossOrigin),
    preflight: preflight.status,
    preflightGrantsCors: grantsCors(preflight),
    loopbackHostAnswered: ![421, 403].includes(loopback.status),
  };
}

function refused(kind: ListenerKind): Record<string, unknown> {
  return {
    reboundHost: 421,
    reboundHostWithPort: 421,
    reboundTarget: 421,
    crossOrigin: kind === 'internal' ? 403 : 401,
    crossOriginGrantsCors: false,
    preflight: kind === 'internal' ? 403 : 401,
    preflightGrantsCors: false,
    loopbackHostAnswered: true,
  };
}

/** Every listener of `dev` is found, named by the banner, bound to loopback, and refuses what a web page tries. */
async function expectEveryPortRefusesWebPages(dev: Dev, expectedListeners: string[]): Promise<void> {
  const { sockets, ports, named } = listeners(dev);
  // Nothing listens that the banner does not name, and everything it names listens.
  expect(ports).toEqual([...named.keys()].sort((a, b) => a - b));
  expect([...named.values()].sort()).toEqual([...expectedListeners].sort());
  expect(sockets.filter((socket) => socket.address !== '127.0.0.1')).toEqual([]);
  for (const port of ports) {
    const kind: ListenerKind = named.get(port) === 'gateway' ? 'gateway' : 'internal';
    expect({ listener: named.get(port), port, ...(await probe(port)) }).toEqual({ listener: named.get(port), port, ...refused(kind) });
  }
}

describe.skipIf(isDeployedTarget() || !canListListeningSockets())('npx dualgate dev synthesizing the same app with usage plans', () => {
  it('opens the usage-plans control plane too, and every port it listens on refuses a foreign Host (421) and Origin', async () => {
    const { appDir } = overlapApp();
    // No --assembly: dualgate dev runs the app's cdk.json command itself, as on a platform team's machine.
    const dev = await startDev(appDir, undefined, { OVERLAP_APP_PLANS: 'true' });
    try {
      expect(dev.output()).toContain('(synth included)');
      await expectEveryPortRefusesWebPages(dev, ['gateway', 'issuer', 'dynamodb', 'control plane']);
    } finally {
      stopDev(dev.child);
    }
  }, 180_000);
});
