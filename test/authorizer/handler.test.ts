import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { itemFromRecord } from '../../lambdas/shared/key-record';
import { makeKey } from '../support/keys';
import { demoRouteConfigFile } from '../support/demo-app';
import { routeOf } from '../support/authorizer-event';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/POST/users';
const ddb = mockClient(DynamoDBClient);

async function loadHandler() {
  vi.resetModules();
  vi.stubEnv('DUALGATE_KEY_TABLE', 'dualgate-keys');
  vi.stubEnv('DUALGATE_KEY_PREFIX', 'dg');
  vi.stubEnv('DUALGATE_ISSUERS', '');
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('DUALGATE_CONFIG_FILE', demoRouteConfigFile());
  return (await import('../../lambdas/authorizer/handler')).handler;
}
const event = (authorization: string) =>
  ({ type: 'REQUEST', methodArn: METHOD_ARN, ...routeOf(METHOD_ARN), headers: { authorization }, multiValueHeaders: { authorization: [authorization] } }) as never;

describe('authorizer Lambda handler', () => {
  let stdout: string[];
  beforeEach(() => {
    ddb.reset();
    stdout = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('reads the key by hash with one eventually consistent GetItem and returns policy and context', async () => {
    const { key, record } = makeKey({ scopes: ['write:users'] });
    ddb.on(GetItemCommand).resolves({ Item: itemFromRecord(record) });
    const handler = await loadHandler();
    const result = await handler(event(`Bearer ${key}`));
    expect(result.principalId).toBe('user-123');
    expect(result.context).toEqual({ sub: 'user-123', scopes: 'write:users', authMethod: 'apiKey', keyId: record.keyId });
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: expect.arrayContaining([`arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/POST/users`]) });
    const calls = ddb.commandCalls(GetItemCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ TableName: 'dualgate-keys', Key: { keyHash: { S: record.keyHash } } });
  });

  it('throws exactly "Unauthorized" for an unknown key, so API Gateway answers 401', async () => {
    ddb.on(GetItemCommand).resolves({});
    const handler = await loadHandler();
    await expect(handler(event(`Bearer ${makeKey().key}`))).rejects.toThrow(/^Unauthorized$/);
  });

  it('makes no DynamoDB call for a bad checksum', async () => {
    const handler = await loadHandler();
    const { key } = makeKey();
    await expect(handler(event(`Bearer ${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`))).rejects.toThrow(/^Unauthorized$/);
    expect(ddb.commandCalls(GetItemCommand)).toHaveLength(0);
  });

  it('throws something other than "Unauthorized" when DynamoDB throttles, so API Gateway answers 503', async () => {
    ddb.on(GetItemCommand).rejects(Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' }));
    const handler = await loadHandler();
    const { key } = makeKey();
    await expect(handler(event(`Bearer ${key}`))).rejects.toThrow(/^AuthorizerFailure$/);
    const logged = stdout.join('');
    expect(logged).toContain('"reason":"key_store_unavailable"');
    expect(logged).toContain('ProvisionedThroughputExceededException');
    expect(logged).not.toContain(key);
  });

  it('rejects a malformed item (missing owner) with 401, not an allow', async () => {
    const { key, record } = makeKey();
    const item = itemFromRecord(record);
    delete item['owner'];
    ddb.on(GetItemCommand).resolves({ Item: item });
    const handler = await loadHandler();
    await expect(handler(event(`Bearer ${key}`))).rejects.toThrow(/^Unauthorized$/);
    expect(stdout.join('')).toContain('"reason":"key_item_malformed"');
  });

  it('rejects every JWT when no issuer is configured', async () => {
    const handler = await loadHandler();
    await expect(handler(event('Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'))).rejects.toThrow(/^Unauthorized$/);
  });

  it('fails its cold start with a message naming the route-table file when the asset lacks it', async () => {
    vi.resetModules();
    vi.stubEnv('DUALGATE_KEY_TABLE', 'dualgate-keys');
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('DUALGATE_CONFIG_FILE', '/nonexistent/dualgate-config.json');
    await expect(import('../../lambdas/authorizer/handler')).rejects.toThrow(/dualgate-config\.json: cannot read \/nonexistent\/dualgate-config\.json/);
  });
});
