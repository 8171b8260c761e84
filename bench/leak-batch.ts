/**
 * How long POST /leaks/github takes for a 1,000-match report, through the leak function's own bundle (built with the
 * package's bundling, lib/build/bundling.ts) against dynalite, with a GitHub-format key server on loopback: the signature
 * check over the whole body, the junk filter, and the table calls at the function's bounded concurrency (16).
 *
 *   npx tsx bench/leak-batch.ts                 5 rounds of each report shape
 *   npx tsx bench/leak-batch.ts --rounds 1      one round (smoke)
 *
 * Shapes: 1,000 junk strings (no table call); 1,000 live keys (1,000 consistent GetItems + 1,000 conditional
 * UpdateItems, the worst case); the same report again (idempotent: 1,000 GetItems, no write). dynalite is one
 * process on this machine, so the table figures are an upper bound for its speed, not DynamoDB's.
 * Standalone (not part of `npm run bench`): it needs no other benchmark's fixtures.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import dynalite from 'dynalite';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LAMBDA_BUNDLE_FILE, LAMBDA_ENTRIES } from '../lib/build/bundling';
import { bundleDirectory } from '../lib/construct/lambda-code';
import { generateKey, hashKey } from '../lambdas/core/key-format';
import { createKeyTable } from '../lib/local/dynamo';
import { KeyStore } from '../lambdas/shared/key-store';
import { parseReport } from '../lambdas/leaks/report';
import { decodeSignatureHeader, parseP256PublicKey, verifyReportSignature } from '../lambdas/leaks/signature';

// The SDK's notice about future Node versions is not a figure.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(values.rounds);
const TOKENS = 1000;

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)] as number;

// GitHub's side: a P-256 key and its document on loopback.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const identifier = createHash('sha256').update(publicKeyPem).digest('hex');
const keyServer = createServer((_request, response) =>
  response.end(JSON.stringify({ public_keys: [{ key_identifier: identifier, key: publicKeyPem, is_current: true }] })),
);
await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));

const db = dynalite({ createTableMs: 0 });
await new Promise<void>((resolve) => db.listen(0, '127.0.0.1', () => resolve()));
const endpoint = `http://127.0.0.1:${(db.address() as AddressInfo).port}`;
const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const tableName = 'bench-leaks';
await createKeyTable(client, tableName);
const store = new KeyStore(client, tableName);

Object.assign(process.env, {
  DUALGATE_KEY_TABLE: tableName,
  DUALGATE_KEY_PREFIX: 'dg',
  DUALGATE_DYNAMODB_ENDPOINT: endpoint,
  DUALGATE_GITHUB_KEYS_URL: `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/meta/public_keys/secret_scanning`,
  DUALGATE_ALLOW_HTTP_ISSUERS: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  LOG_LEVEL: 'ERROR',
});
const bundle = join(bundleDirectory('leaks', LAMBDA_ENTRIES.leaks), LAMBDA_BUNDLE_FILE);
// The function's log lines (one metric line per report) would drown the figures.
const write = process.stdout.write.bind(process.stdout);
const { handler } = (await import(pathToFileURL(bundle).href)) as {
  handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
};

async function liveKeys(count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let index = 0; index < count; index++) {
    const { key, start } = generateKey('dg');
    keys.push(key);
    const now = new Date().toISOString();
    await store.create({
      keyHash: hashKey(key),
      keyId: `key_BENCH${String(keys.length).padStart(21, '0')}`.slice(0, 30),
      owner: `owner-${index % 10}`,
      name: 'bench',
      scopes: [],
      createdAt: now,
      createdBy: 'bench',
      enabled: true,
      start,
      version: 1,
    });
  }
  return keys;
}

const reportOf = (tokens: string[]) =>
  JSON.stringify(
    tokens.map((token) => ({
      token,
      type: 'dualgate_api_key',
      url: 'https://github.com/octo-org/app/blob/0123456789abcdef0123456789abcdef01234567/config/production.env',
      source: 'content',
    })),
  );

async function post(body: string): Promise<{ ms: number; statusCode: number }> {
  const signature = sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
  const headers = {
    'Content-Type': 'application/json',
    'Github-Public-Key-Identifier': identifier,
    'Github-Public-Key-Signature': signature,
  };
  const event = {
    httpMethod: 'POST',
    resource: '/leaks/github',
    path: '/leaks/github',
    headers,
    multiValueHeaders: null,
    body,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEvent;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  const startedMs = performance.now();
  try {
    const response = await handler(event);
    return { ms: performance.now() - startedMs, statusCode: response.statusCode };
  } finally {
    process.stdout.write = write;
  }
}

// Warm the container: the first call builds the clients and fetches the key document.
await post(reportOf(['warm-up']));

const results: Record<string, number[]> = { junk: [], live: [], repeat: [] };
let bodyBytes = 0;
const verifyMs: number[] = [];
const parseMs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const junk = reportOf(Array.from({ length: TOKENS }, (_, index) => (index % 2 ? `dg_${'x'.repeat(36)}` : `some_token_${index}`)));
  const junkRun = await post(junk);
  const keys = await liveKeys(TOKENS);
  const live = reportOf(keys);
  bodyBytes = Buffer.byteLength(live);
  const liveRun = await post(live);
  const repeatRun = await post(live);
  if ([junkRun, liveRun, repeatRun].some((run) => run.statusCode !== 200))
    throw new Error(`a report was not accepted: ${[junkRun, liveRun, repeatRun].map((run) => run.statusCode)}`);
  results['junk']!.push(junkRun.ms);
  results['live']!.push(liveRun.ms);
  results['repeat']!.push(repeatRun.ms);
  // The offline steps alone, for the same body.
  const signature = decodeSignatureHeader(sign('sha256', Buffer.from(live), { key: privateKey, dsaEncoding: 'der' }).toString('base64'))!;
  const key = parseP256PublicKey(publicKeyPem)!;
  let startedMs = performance.now();
  verifyReportSignature(Buffer.from(live), signature, key);
  verifyMs.push(performance.now() - startedMs);
  startedMs = performance.now();
  parseReport(Buffer.from(live));
  parseMs.push(performance.now() - startedMs);
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
write(
  `POST /leaks/github, ${TOKENS} matches per report (${(bodyBytes / 1024).toFixed(0)} KB), median of ${ROUNDS} round(s), leak bundle against dynalite:\n`,
);
write(`  1,000 junk strings (no table call)                 ${fmt(median(results['junk']!))}\n`);
write(`  1,000 live keys: revoked (1,000 reads + 1,000 writes) ${fmt(median(results['live']!))}\n`);
write(`  the same report again (1,000 reads, no write)       ${fmt(median(results['repeat']!))}\n`);
write(`  of which: signature check over the body ${fmt(median(verifyMs))}, JSON parse ${fmt(median(parseMs))}\n`);
write(`  (npx tsx bench/leak-batch.ts --rounds ${ROUNDS}; the function's timeout is 25 s)\n`);

client.destroy();
await new Promise<void>((resolve) => db.close(() => resolve()));
await new Promise<void>((resolve) => keyServer.close(() => resolve()));
