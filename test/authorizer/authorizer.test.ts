import { describe, expect, it } from 'vitest';
import { DEMO_COMPILED_TABLE } from '../support/demo-app';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import { MAX_ROUTES_MEMOISED_PER_PRINCIPAL } from '../../lambdas/authorizer/authorizer';
import { testSettings } from '../support/settings';
import { captureLogger } from '../support/logs';
import { createSigningKey, FakeJwksFetcher, nowSeconds, signJwt } from '../support/jwt';
import { TEST_ISSUER } from '../support/jwt';
import { FakeKeyLookup, makeKey } from '../support/keys';
import { KeyStoreUnavailableError } from '../../lambdas/shared/key-store';
import { routeOf } from '../support/authorizer-event';
import { compileRouteTable } from '../../lambdas/core/policy-compiler';
import { DEMO_ROUTE_TABLE } from '../../examples/demo/routes';

const ISSUER = TEST_ISSUER;
const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/users';
const signingKey = createSigningKey('kid-1');

const settings = testSettings();

function setup(...records: ReturnType<typeof makeKey>['record'][]) {
  const store = new FakeKeyLookup(...records);
  const fetcher = new FakeJwksFetcher([signingKey.publicJwk]);
  const logs = captureLogger();
  const { authorize } = buildAuthorizer(settings, DEMO_COMPILED_TABLE, { keyLookup: store, fetcher, logger: logs.logger });
  return { authorize, store, fetcher, logs };
}
const event = (authorization: string | undefined, methodArn = METHOD_ARN) => ({
  methodArn,
  ...routeOf(methodArn),
  headers: authorization === undefined ? {} : { Authorization: authorization },
  multiValueHeaders: null,
  requestContext: { requestId: 'req-1' } as never,
});
const jwtFor = (sub: string, scope: string) =>
  signJwt({ iss: ISSUER, aud: 'dualgate-api', sub, scope, exp: nowSeconds() + 600 }, { key: signingKey });

describe('authorizer', () => {
  it('gives a key and a JWT with the same sub and scopes the same {sub, scopes} context and the very same policy', async () => {
    const { key, record } = makeKey({ owner: 'client-42', scopes: ['write:users', 'read:users'] });
    const { authorize } = setup(record);
    const byKey = await authorize(event(`Bearer ${key}`));
    const byJwt = await authorize(event(`Bearer ${jwtFor('client-42', 'read:users write:users')}`));
    if (byKey.effect !== 'allow' || byJwt.effect !== 'allow') throw new Error('expected both to be allowed');
    expect(byKey.response.principalId).toBe('client-42');
    expect(byJwt.response.principalId).toBe('client-42');
    const { authMethod: keyMethod, keyId, ...keyIdentity } = byKey.response.context;
    const { authMethod: jwtMethod, ...jwtIdentity } = byJwt.response.context;
    expect(keyIdentity).toEqual({ sub: 'client-42', scopes: 'read:users write:users' });
    expect(jwtIdentity).toEqual(keyIdentity);
    expect([keyMethod, jwtMethod, keyId]).toEqual(['apiKey', 'jwt', record.keyId]);
    expect(byKey.response.policyDocument).toBe(byJwt.response.policyDocument);
  });

  it('decides on the route API Gateway chose: an Allow on that route’s own method ARN pattern only', async () => {
    const { key, record } = makeKey({ scopes: ['read:users'] });
    const { authorize } = setup(record);
    const outcome = await authorize(event(`Bearer ${key}`, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me'));
    if (outcome.effect !== 'allow') throw new Error('expected allow');
    expect(outcome.response.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: ['arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me'] },
    ]);
  });

  it('denies a route whose scopes the caller lacks, with reason missing_scope and the identity in the context', async () => {
    const { key, record } = makeKey({ scopes: ['read:users'] });
    const { authorize, logs } = setup(record);
    const outcome = await authorize({ ...event(`Bearer ${key}`, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/POST/users') });
    expect(outcome.effect).toBe('deny');
    if (outcome.effect !== 'deny') return;
    expect(outcome.response.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: ['arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/POST/users'] },
    ]);
    expect(outcome.response.context).toMatchObject({ sub: 'user-123', scopes: 'read:users' });
    expect(logs.entries().at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'missing_scope',
      route: 'POST /users',
      keyId: record.keyId,
      Decisions: 1,
    });
  });

  it('denies a route missing from the table (unknown_route), logging a warning, never an allow', async () => {
    const { key, record } = makeKey({ scopes: ['read:users', 'write:users'] });
    const { authorize, logs } = setup(record);
    for (const route of [
      { httpMethod: 'GET', resource: '/admin' },
      { httpMethod: 'DELETE', resource: '/users' },
      { httpMethod: 'BREW', resource: '/users' },
      { httpMethod: 'ANY', resource: '/users' },
      { httpMethod: 'GET', resource: '__proto__' },
      {},
    ]) {
      const outcome = await authorize({ ...event(`Bearer ${key}`), httpMethod: undefined, resource: undefined, ...route });
      expect(outcome.effect, JSON.stringify(route)).toBe('deny');
      if (outcome.effect === 'deny')
        expect(outcome.response.policyDocument.Statement[0]).toMatchObject({
          Effect: 'Deny',
          Resource: ['arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/*'],
        });
      expect(logs.entries().at(-1)).toMatchObject({
        level: 'WARN',
        decision: 'deny',
        reason: 'unknown_route',
        ...(route.resource ? { resource: route.resource } : {}),
      });
    }
  });

  it('looks up the exact verb first, then ANY on the same resource', async () => {
    const table = compileRouteTable([
      { method: 'GET', path: '/orders/{id}', scopes: ['read:orders'] },
      { method: 'ANY', path: '/orders/{id}', scopes: ['write:orders'] },
    ]);
    const { key: reader, record: readerRecord } = makeKey({ scopes: ['read:orders'] });
    const { key: writer, record: writerRecord } = makeKey({ scopes: ['write:orders'] });
    const { authorize } = buildAuthorizer(settings, table, {
      keyLookup: new FakeKeyLookup(readerRecord, writerRecord),
      fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
      logger: captureLogger().logger,
    });
    const on = (key: string, httpMethod: string) =>
      authorize({
        methodArn: `arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/${httpMethod}/orders/o1`,
        httpMethod,
        resource: '/orders/{id}',
        headers: { Authorization: `Bearer ${key}` },
        multiValueHeaders: null,
      });
    expect((await on(reader, 'GET')).effect).toBe('allow');
    expect((await on(reader, 'DELETE')).effect).toBe('deny');
    expect((await on(writer, 'GET')).effect).toBe('deny');
    const put = await on(writer, 'PUT');
    expect(put.effect).toBe('allow');
    if (put.effect === 'allow')
      expect(put.response.policyDocument.Statement[0]?.Resource).toEqual([
        'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/PUT/orders/*',
      ]);
  });

  it('decides every route right for a principal on more routes than the authorizer memoises per principal', async () => {
    const routes = Array.from({ length: MAX_ROUTES_MEMOISED_PER_PRINCIPAL + 36 }, (_, index) => ({
      method: 'GET' as const,
      path: `/r${index}`,
      scopes: index % 2 === 0 ? ['even'] : ['odd'],
    }));
    const { key, record } = makeKey({ scopes: ['even'] });
    const { authorize } = buildAuthorizer(settings, compileRouteTable(routes), {
      keyLookup: new FakeKeyLookup(record),
      fetcher: new FakeJwksFetcher([]),
      logger: captureLogger().logger,
    });
    for (let pass = 0; pass < 2; pass++) {
      for (const [index, route] of routes.entries()) {
        const outcome = await authorize({
          methodArn: `arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET${route.path}`,
          httpMethod: 'GET',
          resource: route.path,
          headers: { Authorization: `Bearer ${key}` },
          multiValueHeaders: null,
        });
        expect(outcome.effect, `${route.path}, pass ${pass}`).toBe(index % 2 === 0 ? 'allow' : 'deny');
        if (outcome.effect !== 'unauthorized' && outcome.effect !== 'fail')
          expect(outcome.response.policyDocument.Statement[0]?.Resource).toEqual([
            `arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET${route.path}`,
          ]);
      }
    }
  });

  it('in the credential cache scope, returns one policy for every route, not just the one asked for, so API Gateway may cache it', async () => {
    const { key, record } = makeKey({ scopes: ['read:users'] });
    const { authorize } = buildAuthorizer(settings, compileRouteTable(DEMO_ROUTE_TABLE, 'credential'), {
      keyLookup: new FakeKeyLookup(record),
      fetcher: new FakeJwksFetcher([]),
      logger: captureLogger().logger,
    });
    const outcome = await authorize(event(`Bearer ${key}`, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me'));
    if (outcome.effect !== 'allow') throw new Error('expected allow');
    const resources = outcome.response.policyDocument.Statement.flatMap((statement) => statement.Resource);
    expect(resources).toEqual(
      expect.arrayContaining([
        'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/users',
        'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me',
      ]),
    );
    expect(resources).not.toContain('arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/POST/users');
  });

  it.each([
    ['no header', undefined, 'no_credential'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'wrong_scheme'],
    ['garbage', 'Bearer hello-world', 'malformed_credential'],
    ['five JWT segments', 'Bearer a.b.c.d.e', 'jwt_malformed'],
    ['a non-base64url JWT segment', 'Bearer eyJhbGciOiJSUzI1NiJ9.e$J9.sig', 'jwt_malformed'],
    ['a look-alike key', 'Bearer dg_аbc', 'malformed_credential'],
    ['a bad checksum', 'Bearer dg_000000000000000000000000000000000000', 'key_bad_checksum'],
    ['an unknown key', () => `Bearer ${makeKey().key}`, 'key_not_found'],
    [
      'a wrong audience JWT',
      () => `Bearer ${signJwt({ iss: ISSUER, aud: 'x', sub: 's', exp: nowSeconds() + 60 }, { key: signingKey })}`,
      'jwt_invalid_audience',
    ],
  ])('answers Unauthorized for %s and logs reason %s', async (_name, header, reason) => {
    const { authorize, logs } = setup();
    const authorization = typeof header === 'function' ? header() : header;
    expect(await authorize(event(authorization))).toEqual({ effect: 'unauthorized' });
    expect(logs.entries()).toEqual([expect.objectContaining({ level: 'INFO', decision: 'unauthorized', reason, requestId: 'req-1' })]);
  });

  it('fails closed on a DynamoDB failure, logging the error but not the key', async () => {
    const { authorize, store, logs } = setup();
    store.failWith = new KeyStoreUnavailableError('key table read failed', { cause: new Error('ThrottlingException: Rate exceeded') });
    const { key } = makeKey();
    expect(await authorize(event(`Bearer ${key}`))).toEqual({ effect: 'fail' });
    expect(logs.entries()).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        decision: 'fail',
        reason: 'key_store_unavailable',
        causeMessage: 'ThrottlingException: Rate exceeded',
      }),
    ]);
    expect(logs.lines.join('\n')).not.toContain(key);
    expect(logs.lines.join('\n')).not.toContain(key.slice(3, 33));
  });

  it('fails closed on a JWKS failure', async () => {
    const { authorize, fetcher, logs } = setup();
    fetcher.failWith = new Error('ECONNREFUSED');
    const token = jwtFor('s', 'read:users');
    expect(await authorize(event(`Bearer ${token}`))).toEqual({ effect: 'fail' });
    expect(logs.lines.join('\n')).not.toContain(token.split('.')[2]);
  });

  it('fails closed on a method ARN it cannot read', async () => {
    const { key, record } = makeKey();
    const { authorize } = setup(record);
    expect(await authorize(event(`Bearer ${key}`, 'garbage'))).toEqual({ effect: 'fail' });
  });

  it('logs allowed decisions with sub, authMethod and keyId, never the credential', async () => {
    const { key, record } = makeKey();
    const { authorize, logs } = setup(record);
    await authorize(event(`Bearer ${key}`));
    expect(logs.entries()[0]).toMatchObject({
      decision: 'allow',
      reason: 'key_valid',
      sub: 'user-123',
      authMethod: 'apiKey',
      keyId: record.keyId,
    });
    expect(logs.lines.join('\n')).not.toContain(key);
    expect(logs.lines.join('\n')).not.toContain(record.keyHash);
  });
});
