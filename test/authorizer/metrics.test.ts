/**
 * The authorizer's and the key API's metric lines: valid EMF, the expected names and units, bounded dimensions
 * only (never keyId, sub or a path), and no credential in any line.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { AllowReason, FailureReason, RejectReason } from '../../lambdas/authorizer/decision';
import type { RouteDenyReason } from '../../lambdas/authorizer/route-policy';
import { JwksFetcher } from '../../lambdas/authorizer/jwks-fetcher';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import { createKeysHandler } from '../../lambdas/keys/router';
import { KeyStore, KeyStoreUnavailableError } from '../../lambdas/shared/key-store';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEMO_CATALOG, DEMO_COMPILED_TABLE } from '../support/demo-app';
import { emfMetrics, emfViolations, type EmfMetric } from '../support/emf';
import { createSigningKey, FakeJwksFetcher, nowSeconds, signJwt, TEST_ISSUER } from '../support/jwt';
import { FakeKeyLookup, makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';
import { createLogger } from '../../lambdas/shared/logger';
import { testSettings } from '../support/settings';
import { routeOf } from '../support/authorizer-event';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/users';
const signingKey = createSigningKey('kid-1');

/** Every reason code, so a dimension value outside them fails (a Record forces the list to stay complete). */
const REASONS: Record<RejectReason | FailureReason | AllowReason | RouteDenyReason, true> = {
  missing_scope: true,
  unknown_route: true,
  no_credential: true,
  malformed_header: true,
  ambiguous_header: true,
  header_too_long: true,
  wrong_scheme: true,
  malformed_credential: true,
  key_wrong_prefix: true,
  key_bad_checksum: true,
  key_not_found: true,
  key_expired: true,
  key_revoked: true,
  key_disabled: true,
  key_item_malformed: true,
  jwt_malformed: true,
  jwt_noncanonical: true,
  jwt_unsupported_crit: true,
  jwt_invalid_signature: true,
  jwt_invalid_algorithm: true,
  jwt_expired: true,
  jwt_not_yet_valid: true,
  jwt_invalid_issuer: true,
  jwt_invalid_audience: true,
  jwt_invalid_claim: true,
  jwt_not_access_token: true,
  jwt_missing_sub: true,
  jwt_invalid_scope_claim: true,
  jwt_unknown_kid: true,
  key_store_unavailable: true,
  jwks_unavailable: true,
  internal_error: true,
  key_valid: true,
  key_valid_stale: true,
  jwt_valid: true,
};
/** The only dimensions, each with its closed set of values. */
const BOUNDED_DIMENSIONS: Record<string, ReadonlySet<string>> = {
  service: new Set(['dualgate-authorizer', 'dualgate-keys']),
  decision: new Set(['allow', 'deny', 'unauthorized', 'fail']),
  credentialKind: new Set(['apiKey', 'jwt', 'unknown', 'none']),
  reason: new Set(Object.keys(REASONS)),
  operation: new Set([
    'create',
    'list',
    'get',
    'update',
    'rotate',
    'revoke',
    'consumer.get',
    'consumer.set-plan',
    'consumer.clear-plan',
    'unknown',
  ]),
};

function assertBounded(metrics: EmfMetric[]): void {
  for (const metric of metrics) {
    expect(metric.namespace).toBe('dualgate');
    for (const set of metric.dimensionSets) {
      for (const [name, value] of Object.entries(set)) {
        expect(Object.keys(BOUNDED_DIMENSIONS), `dimension ${name} of ${metric.name}`).toContain(name);
        expect([...BOUNDED_DIMENSIONS[name]!], `value of dimension ${name}`).toContain(value);
      }
    }
  }
}

const event = (authorization: string | undefined) => ({
  methodArn: METHOD_ARN,
  ...routeOf(METHOD_ARN),
  headers: authorization === undefined ? {} : { Authorization: authorization },
  multiValueHeaders: null,
  requestContext: { requestId: 'req-1' } as never,
});

function setup(...records: ReturnType<typeof makeKey>['record'][]) {
  const store = new FakeKeyLookup(...records);
  const logs = captureLogger('dualgate-authorizer');
  const built = buildAuthorizer(testSettings(), DEMO_COMPILED_TABLE, {
    keyLookup: store,
    fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
    logger: logs.logger,
  });
  return { ...built, store, logs };
}

describe('EMF checker', () => {
  it('finds what the specification forbids', () => {
    const valid = {
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [{ Namespace: 'n', Dimensions: [['service']], Metrics: [{ Name: 'M', Unit: 'Count' }] }],
      },
      service: 's',
      M: 1,
    };
    expect(emfViolations(JSON.stringify(valid))).toEqual([]);
    expect(emfViolations(JSON.stringify({ ...valid, M: '1' }))).toEqual([expect.stringMatching(/metric M must be a top-level number/)]);
    expect(emfViolations(JSON.stringify({ ...valid, service: 7 }))).toEqual([
      expect.stringMatching(/dimension service must be a top-level string/),
    ]);
    expect(emfViolations(JSON.stringify({ ...valid, _aws: { ...valid._aws, Timestamp: 1_700_000_000 } }))).toEqual([
      expect.stringMatching(/Timestamp must be epoch milliseconds/),
    ]);
    const badUnit = {
      ...valid,
      _aws: { ...valid._aws, CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Metrics: [{ Name: 'M', Unit: 'ms' }] }] },
    };
    expect(emfViolations(JSON.stringify(badUnit))).toEqual([expect.stringMatching(/not a CloudWatch unit/)]);
    const wide = {
      ...valid,
      _aws: {
        ...valid._aws,
        CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Dimensions: [Array.from({ length: 31 }, () => 'service')] }],
      },
    };
    expect(emfViolations(JSON.stringify(wide))).toEqual([expect.stringMatching(/at most 30/)]);
    expect(emfViolations('{"message":"plain"}')).toEqual(['no _aws object']);
  });
});

describe('authorizer metric lines', () => {
  it('counts route denies by reason (missing_scope, unknown_route) on their decision lines, with bounded dimensions', async () => {
    const reader = makeKey({ scopes: ['read:users'] });
    const { authorize, logs } = setup(reader.record);
    await authorize({ ...event(`Bearer ${reader.key}`), httpMethod: 'POST', resource: '/users' });
    await authorize({ ...event(`Bearer ${reader.key}`), httpMethod: 'GET', resource: '/not-in-the-table' });
    expect(logs.lines).toHaveLength(2);
    const perLine = logs.lines.map((line) => emfMetrics(line));
    for (const metrics of perLine) assertBounded(metrics);
    const sets = perLine.map((metrics) => metrics.find((metric) => metric.name === 'Decisions')!.dimensionSets[1]);
    expect(sets).toEqual([
      { service: 'dualgate-authorizer', decision: 'deny', credentialKind: 'apiKey', reason: 'missing_scope' },
      { service: 'dualgate-authorizer', decision: 'deny', credentialKind: 'apiKey', reason: 'unknown_route' },
    ]);
    expect(logs.lines.map((line) => emfViolations(line))).toEqual([[], []]);
  });

  it('counts every decision by outcome, credential kind and reason, on the decision line itself', async () => {
    const live = makeKey({ owner: 'owner-1' });
    const revoked = makeKey({ revokedAt: '2020-01-01T00:00:00.000Z' });
    const { authorize, store, logs } = setup(live.record, revoked.record);
    const jwt = signJwt(
      { iss: TEST_ISSUER, aud: 'dualgate-api', sub: 'client-9', scope: 'read:users', exp: nowSeconds() + 600 },
      { key: signingKey },
    );
    await authorize(event(`Bearer ${live.key}`));
    await authorize(event(`Bearer ${live.key}`));
    await authorize(event(`Bearer ${jwt}`));
    await authorize(event(`Bearer ${jwt}`));
    await authorize(event(`Bearer ${revoked.key}`));
    await authorize(event('Bearer dg_000000000000000000000000000000000000'));
    await authorize(event(undefined));
    await authorize(event('Bearer hello-world'));
    store.failWith = new KeyStoreUnavailableError('down');
    await authorize(event(`Bearer ${makeKey().key}`));

    // One line per decision, and each line is an EMF document.
    expect(logs.lines).toHaveLength(9);
    const perLine = logs.lines.map((line) => emfMetrics(line));
    for (const metrics of perLine) assertBounded(metrics);
    const decision = (index: number) => {
      const decisions = perLine[index]!.find((metric) => metric.name === 'Decisions')!;
      expect(decisions.unit).toBe('Count');
      expect(decisions.values).toEqual([1]);
      return decisions.dimensionSets;
    };
    expect(decision(0)).toEqual([
      { service: 'dualgate-authorizer', decision: 'allow' },
      { service: 'dualgate-authorizer', decision: 'allow', credentialKind: 'apiKey', reason: 'key_valid' },
    ]);
    expect(decision(2)[1]).toEqual({ service: 'dualgate-authorizer', decision: 'allow', credentialKind: 'jwt', reason: 'jwt_valid' });
    expect(decision(4)[1]).toEqual({
      service: 'dualgate-authorizer',
      decision: 'unauthorized',
      credentialKind: 'apiKey',
      reason: 'key_revoked',
    });
    expect(decision(5)[1]).toMatchObject({ decision: 'unauthorized', reason: 'key_bad_checksum' });
    expect(decision(6)[1]).toMatchObject({ decision: 'unauthorized', credentialKind: 'none', reason: 'no_credential' });
    expect(decision(7)[1]).toMatchObject({ decision: 'unauthorized', credentialKind: 'unknown', reason: 'malformed_credential' });
    expect(decision(8)[1]).toMatchObject({ decision: 'fail', credentialKind: 'apiKey', reason: 'key_store_unavailable' });

    const metric = (index: number, name: string) => perLine[index]!.find((entry) => entry.name === name);
    // Cache hits: 0 when the allow needed a read or a verification, 1 when it came from memory.
    expect([0, 1, 2, 3].map((index) => metric(index, 'CacheHits')?.values)).toEqual([[0], [1], [0], [1]]);
    expect(metric(1, 'CacheHits')?.unit).toBe('Count');
    // Key-lookup latency, in milliseconds, only where the table was read (allow, revoked, store failure).
    for (const index of [0, 4, 8]) {
      expect(metric(index, 'KeyLookupLatency')).toMatchObject({ unit: 'Milliseconds', values: [expect.any(Number)] });
    }
    for (const index of [1, 2, 3, 5, 6, 7]) expect(metric(index, 'KeyLookupLatency')).toBeUndefined();

    // keyId and sub stay on the line as properties (Logs Insights finds them), never as dimensions.
    const first = JSON.parse(logs.lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ keyId: live.record.keyId, sub: 'owner-1' });
    const dimensionNames = perLine.flat().flatMap((entry) => entry.dimensionSets.flatMap((set) => Object.keys(set)));
    for (const forbidden of ['keyId', 'sub', 'requestId', 'resourcePath', 'path', 'jwksUri'])
      expect(dimensionNames).not.toContain(forbidden);

    // The credentials themselves appear in no line (test/support/credential-scan.ts also scans every captured line).
    for (const credential of [live.key, revoked.key, jwt]) expect(logs.lines.join('\n')).not.toContain(credential);
  });

  it('measures KeyLookupLatency from the start of the table read to its answer, and only for keys read from the table', async () => {
    const { key, record } = makeKey();
    const logs = captureLogger('dualgate-authorizer');
    const ticks = [1000, 1012.345];
    const { authorize } = buildAuthorizer(testSettings(), DEMO_COMPILED_TABLE, {
      keyLookup: new FakeKeyLookup(record),
      fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
      logger: logs.logger,
      monotonicMs: () => ticks.shift() ?? Number.NaN,
    });
    await authorize(event(`Bearer ${key}`));
    await authorize(event(`Bearer ${key}`));
    expect(logs.entries().map((entry) => entry['KeyLookupLatency'])).toEqual([12.35, undefined]);
    // The clock was read exactly twice: never on the answer from memory.
    expect(ticks).toEqual([]);
  });

  it('stamps each line with its own time: a repeat answer from memory does not reuse the first Timestamp', async () => {
    const { key, record } = makeKey();
    const { authorize, logs } = setup(record);
    await authorize(event(`Bearer ${key}`));
    await authorize(event(`Bearer ${key}`));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await authorize(event(`Bearer ${key}`));
    const stamps = logs.entries().map((entry) => (entry['_aws'] as { Timestamp: number }).Timestamp);
    expect(stamps[2]).toBeGreaterThan(stamps[0]!);
    for (const [index, entry] of logs.entries().entries())
      expect(Math.abs(Date.parse(entry['timestamp'] as string) - stamps[index]!)).toBeLessThanOrEqual(1);
  });

  it('still publishes every decision at LOG_LEVEL=ERROR: below the level, a line keeps only its metric part', async () => {
    const { key, record } = makeKey({ owner: 'owner-2' });
    const logs = captureLogger('dualgate-authorizer');
    const quiet = createLogger({ service: 'dualgate-authorizer', level: 'ERROR', sink: (line) => logs.lines.push(line) });
    const { authorize } = buildAuthorizer(testSettings(), DEMO_COMPILED_TABLE, {
      keyLookup: new FakeKeyLookup(record),
      fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
      logger: quiet,
    });
    await authorize(event(`Bearer ${key}`));
    await authorize(event(`Bearer ${key}`));
    await authorize(event('Bearer hello-world'));
    expect(logs.lines).toHaveLength(3);
    const entries = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    // No log fields beyond the metric's own (and a repeat line's bound identity): no level, message or requestId.
    for (const entry of entries) expect(entry).not.toHaveProperty('message');
    for (const entry of entries) expect(entry).not.toHaveProperty('requestId');
    const decisions = logs.lines.map((line) => {
      const metrics = emfMetrics(line);
      assertBounded(metrics);
      return metrics.find((metric) => metric.name === 'Decisions')!.dimensionSets[1];
    });
    expect(decisions).toEqual([
      { service: 'dualgate-authorizer', decision: 'allow', credentialKind: 'apiKey', reason: 'key_valid' },
      { service: 'dualgate-authorizer', decision: 'allow', credentialKind: 'apiKey', reason: 'key_valid' },
      { service: 'dualgate-authorizer', decision: 'unauthorized', credentialKind: 'unknown', reason: 'malformed_credential' },
    ]);
    expect(emfMetrics(logs.lines[1]!).find((metric) => metric.name === 'CacheHits')!.values).toEqual([1]);
  });

  it('counts JWKS fetches and failed fetches', async () => {
    const jwks = JSON.stringify({ keys: [signingKey.publicJwk] });
    const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    try {
      const logs = captureLogger('dualgate-authorizer');
      const fetcher = new JwksFetcher({ allowHttp: true, logger: logs.logger });
      await fetcher.fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
      await expect(fetcher.fetch('ftp://127.0.0.1/jwks')).rejects.toThrow();
      const [ok, failed] = logs.lines.map((line) => emfMetrics(line));
      for (const metrics of [ok!, failed!]) assertBounded(metrics);
      expect(ok!.map(({ name, unit, values, dimensionSets }) => ({ name, unit, values, dimensionSets }))).toEqual([
        { name: 'JwksFetches', unit: 'Count', values: [1], dimensionSets: [{ service: 'dualgate-authorizer' }] },
        { name: 'JwksFetchFailures', unit: 'Count', values: [0], dimensionSets: [{ service: 'dualgate-authorizer' }] },
      ]);
      expect(failed!.map(({ name, values }) => [name, values])).toEqual([
        ['JwksFetches', [1]],
        ['JwksFetchFailures', [1]],
      ]);
    } finally {
      await new Promise((done) => server.close(done));
    }
  });
});

describe('key API metric lines', () => {
  const request = (overrides: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent =>
    ({
      httpMethod: 'GET',
      resource: '/keys',
      path: '/keys',
      headers: {},
      body: null,
      isBase64Encoded: false,
      requestContext: { authorizer: { sub: 'alice', scopes: 'keys:read', authMethod: 'jwt' } },
      ...overrides,
    }) as unknown as APIGatewayProxyEvent;

  it('emits one line per request: requests, client errors and faults by operation, and latency', async () => {
    const logs = captureLogger('dualgate-keys');
    // A client for an endpoint nobody listens on: the list operation fails with 503.
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const handler = createKeysHandler({
      catalog: DEMO_CATALOG,
      store: new KeyStore(client, 'keys'),
      keyPrefix: 'dg',
      adminScope: 'keys:admin',
      logger: logs.logger,
    });
    expect((await handler(request({ resource: '/nowhere' }))).statusCode).toBe(404);
    expect((await handler(request({ httpMethod: 'GET', resource: '/keys/{id}', requestContext: {} as never }))).statusCode).toBe(500);
    expect((await handler(request({}))).statusCode).toBe(503);
    client.destroy();
    const lines = logs.lines.filter((line) => line.includes('"key API request"'));
    expect(lines).toHaveLength(3);
    const summary = lines.map((line) => {
      const metrics = emfMetrics(line);
      assertBounded(metrics);
      for (const metric of metrics)
        expect(metric.dimensionSets).toEqual([{ service: 'dualgate-keys', operation: expect.any(String) }, { service: 'dualgate-keys' }]);
      const units = Object.fromEntries(metrics.map((metric) => [metric.name, metric.unit]));
      expect(units).toEqual({ KeyApiRequests: 'Count', KeyApiClientErrors: 'Count', KeyApiFaults: 'Count', KeyApiLatency: 'Milliseconds' });
      const value = (name: string) => metrics.find((metric) => metric.name === name)!.values[0];
      return [metrics[0]!.dimensionSets[0]!['operation'], value('KeyApiRequests'), value('KeyApiClientErrors'), value('KeyApiFaults')];
    });
    expect(summary).toEqual([
      ['unknown', 1, 1, 0],
      ['get', 1, 0, 1],
      ['list', 1, 0, 1],
    ]);
  });
});
