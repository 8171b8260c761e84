/**
 * The authorizer's bundle as it ships (lib/build/bundling.ts's one definition, copied into an asset with its route table
 * by lib/construct/lambda-code.ts), run in local mode's Lambda-like worker: the AWS SDK is a chunk beside index.mjs that a
 * JWT never reads, the first key request imports, and provisioned concurrency imports during init (with the JWKS,
 * which on demand only the first JWT fetches).
 *
 * "Never reads" is shown by deleting the SDK's chunks from the code directory: a decision that needed them would
 * fail. Those chunks are the ones index.mjs reaches only through a dynamic import (bench/bundle-files.ts).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lazyChunks, staticClosure } from '../../bench/bundle-files';
import { itemFromRecord } from '../../lambdas/core/key-record';
import { RUNTIME_CONFIG_FILE } from '../../lambdas/core/route-config';
import { LAMBDA_ENTRIES } from '../../lib/build/bundling';
import { bundleDirectory, codeDirectoryWith } from '../../lib/construct/lambda-code';
import { HostedFunction } from '../../lib/local/function-host';
import { demoRouteConfigFile } from '../support/demo-app';
import { createSigningKey, nowSeconds, signJwt } from '../support/jwt';
import { makeKey } from '../support/keys';

/** A string only the DynamoDB client's code holds (its JSON protocol's target prefix). */
const SDK_MARKER = 'DynamoDB_20120810';
const signingKey = createSigningKey('kid-1');
const { key, record } = makeKey({ owner: 'key-owner' });

let asset: string;
let stub: Server;
let stubUrl: string;
let getItems = 0;
let jwksFetches = 0;
const hosted: HostedFunction[] = [];
const scratch: string[] = [];

beforeAll(async () => {
  asset = codeDirectoryWith(bundleDirectory('authorizer', LAMBDA_ENTRIES.authorizer), {
    [RUNTIME_CONFIG_FILE]: readFileSync(demoRouteConfigFile(), 'utf8'),
  });
  // The JWKS and a DynamoDB endpoint that answers GetItem with the key's item.
  stub = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/jwks') {
      jwksFetches++;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [signingKey.publicJwk] }));
      return;
    }
    request.resume();
    request.on('end', () => {
      if (request.headers['x-amz-target'] === 'DynamoDB_20120810.GetItem') {
        getItems++;
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify({ Item: itemFromRecord(record) }));
      } else
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end('{"__type":"ValidationException","message":"stub"}');
    });
  });
  await new Promise<void>((ready) => stub.listen(0, '127.0.0.1', ready));
  stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
}, 120_000);

afterEach(async () => {
  for (const fn of hosted.splice(0)) await fn.stop();
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
  getItems = 0;
  jwksFetches = 0;
});

afterAll(async () => {
  await new Promise((done) => stub?.close(done));
});

/** A copy of the asset without the chunks only a dynamic import reaches (the SDK's). */
function assetWithoutLazyChunks(): { dir: string; removed: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'dualgate-no-sdk-'));
  scratch.push(dir);
  cpSync(asset, dir, { recursive: true });
  const removed = lazyChunks(dir);
  for (const chunk of removed) {
    rmSync(join(dir, chunk));
    rmSync(join(dir, `${chunk}.map`), { force: true });
  }
  return { dir, removed };
}

function host(codeDir: string, env: Record<string, string> = {}): { fn: HostedFunction; output: string[] } {
  const output: string[] = [];
  const fn = new HostedFunction({
    name: 'authorizer',
    codeDir,
    handler: 'index.handler',
    timeoutSeconds: 10,
    memoryMb: 256,
    env: {
      DUALGATE_KEY_TABLE: 'keys',
      DUALGATE_KEY_PREFIX: 'dg',
      DUALGATE_ISSUERS: JSON.stringify([{ issuer: stubUrl, audience: ['dualgate-api'], jwksUri: `${stubUrl}/jwks` }]),
      DUALGATE_ALLOW_HTTP_ISSUERS: 'true',
      DUALGATE_DYNAMODB_ENDPOINT: stubUrl,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      LOG_LEVEL: 'INFO',
      ...env,
    },
    output: (line) => output.push(line),
  });
  hosted.push(fn);
  return { fn, output };
}

/** The function's JSON log lines (its stderr may hold other text, such as a Node warning). */
function logEntries(output: string[]): Record<string, unknown>[] {
  return output.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

const event = (credential: string) => ({
  type: 'REQUEST',
  methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me',
  resource: '/me',
  path: '/me',
  httpMethod: 'GET',
  headers: { Authorization: `Bearer ${credential}` },
  multiValueHeaders: { Authorization: [`Bearer ${credential}`] },
  requestContext: { requestId: 'req-1', resourceId: 'abc123', httpMethod: 'GET', resourcePath: '/me', stage: 'v1' },
});
const jwt = () =>
  signJwt({ iss: stubUrl, aud: 'dualgate-api', sub: 'jwt-client', scope: 'read:users', exp: nowSeconds() + 600 }, { key: signingKey });

describe('the authorizer bundle, in a local-mode environment', () => {
  it('keeps the AWS SDK out of what a cold start reads: index.mjs and its static imports hold none of it', () => {
    const atInit = [...staticClosure(asset)];
    const lazy = lazyChunks(asset);
    expect(atInit).toContain('index.mjs');
    expect(atInit.filter((file) => readFileSync(join(asset, file), 'utf8').includes(SDK_MARKER))).toEqual([]);
    expect(lazy.filter((file) => readFileSync(join(asset, file), 'utf8').includes(SDK_MARKER))).toHaveLength(1);
  });

  it('decides a JWT without the SDK’s chunks on disk (never read), and fails a key closed with key_store_unavailable', async () => {
    const { dir, removed } = assetWithoutLazyChunks();
    expect(removed.length).toBeGreaterThan(0);
    const { fn, output } = host(dir);
    const allowed = (await fn.invoke(event(jwt()))) as { principalId: string; policyDocument: { Statement: { Effect: string }[] } };
    expect(allowed.principalId).toBe('jwt-client');
    expect(allowed.policyDocument.Statement[0]?.Effect).toBe('Allow');
    expect(output.join('\n')).not.toContain('failed to load at init');
    // API Gateway's AUTHORIZER_FAILURE (a 503 here), not "Unauthorized": the table is unavailable, not the key unknown.
    await expect(fn.invoke(event(key))).rejects.toMatchObject({ name: 'FunctionError', errorName: 'Error', message: 'AuthorizerFailure' });
    const failure = logEntries(output).find((entry) => entry.decision === 'fail');
    expect(failure).toMatchObject({ reason: 'key_store_unavailable', credentialKind: 'apiKey' });
    expect(getItems).toBe(0);
  }, 60_000);

  it('imports the SDK’s chunk on the first key request and reads the key with one GetItem, fetching no JWKS', async () => {
    const { fn } = host(asset);
    const allowed = (await fn.invoke(event(key))) as { principalId: string; context: Record<string, unknown> };
    expect(allowed.principalId).toBe('key-owner');
    expect(allowed.context).toMatchObject({ authMethod: 'apiKey', keyId: record.keyId });
    expect(getItems).toBe(1);
    // Cached now: the second decision reads nothing.
    await fn.invoke(event(key));
    expect(getItems).toBe(1);
    // A key never waits for an issuer: the JWKS is the first JWT's to fetch.
    expect(jwksFetches).toBe(0);
    expect(((await fn.invoke(event(jwt()))) as { principalId: string }).principalId).toBe('jwt-client');
    expect(jwksFetches).toBe(1);
  }, 60_000);

  it('imports the SDK’s chunk during init under provisioned concurrency (and, without it, logs and keeps serving JWTs)', async () => {
    const { dir } = assetWithoutLazyChunks();
    const { fn, output } = host(dir, { AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' });
    await fn.warm();
    const initFailure = logEntries(output).find((entry) => entry.message === 'key table client failed to load at init');
    expect(initFailure).toMatchObject({ level: 'ERROR', reason: 'key_store_unavailable' });
    // The JWKS was fetched during init too: the JWT below needs no fetch of its own.
    expect(jwksFetches).toBe(1);
    expect(((await fn.invoke(event(jwt()))) as { principalId: string }).principalId).toBe('jwt-client');
    expect(jwksFetches).toBe(1);
  }, 60_000);
});
