/**
 * Spray the in-process authorizer with 100 000 distinct well-formed API keys (each valid, so every one is
 * cached) and 100 000 distinct valid JWTs, and show that memory plateaus: every cache is bounded.
 *
 *   npm run spray           (node --expose-gc, about a minute on 2 cores)
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { DEMO_COMPILED_TABLE } from '../examples/demo/routes';
import { buildAuthorizer, MAX_JWT_CACHE_ENTRIES, MAX_KEY_CACHE_ENTRIES } from '../lambdas/authorizer/wiring';
import { generateKey } from '../lambdas/core/key-format';
import type { KeyRecord } from '../lambdas/core/key-record';
import { DEFAULT_SETTINGS } from '../lambdas/core/settings';
import type { KeyLookup } from '../lambdas/shared/key-store';
import { createLogger } from '../lambdas/shared/logger';
import type { Fetcher } from 'aws-jwt-verify/https';

const COUNT = Number(process.env.SPRAY_COUNT ?? 100_000);
const CHECKPOINTS = [0.1, 0.25, 0.5, 0.75, 1].map((fraction) => Math.round(COUNT * fraction));
const ISSUER = 'https://issuer.example.com';
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run spray does)');

/** Every hash is a live key: the worst case for the positive cache. */
const everyKeyIsLive: KeyLookup = {
  async getByHash(keyHash): Promise<KeyRecord> {
    return {
      keyHash,
      keyId: `key_${keyHash.slice(0, 26)}`,
      owner: 'sprayer',
      name: 'spray',
      scopes: ['read:users'],
      createdAt: '2026-01-01T00:00:00Z',
      createdBy: 'sprayer',
      enabled: true,
      start: 'dg_xxxx',
      version: 1,
    };
  },
};

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const jwk = { ...(publicKey.export({ format: 'jwk' }) as Record<string, string>), kid: 'spray', alg: 'EdDSA', use: 'sig' };
const jwksBody = Buffer.from(JSON.stringify({ keys: [jwk] }));
const fetcher: Fetcher = {
  fetch: async () => jwksBody.buffer.slice(jwksBody.byteOffset, jwksBody.byteOffset + jwksBody.byteLength) as ArrayBuffer,
};
const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'spray', typ: 'JWT' })).toString('base64url');
const exp = Math.floor(Date.now() / 1000) + 3600;
function jwt(index: number): string {
  const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: 'api', sub: `client-${index}`, scope: 'read:users', exp })).toString(
    'base64url',
  );
  const signature = sign(null, Buffer.from(`${header}.${payload}`), privateKey).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

const { authorize, jwtCheck } = buildAuthorizer(
  {
    tableName: 'keys',
    ...DEFAULT_SETTINGS,
    issuers: [{ issuer: ISSUER, audience: ['api'], jwksUri: `${ISSUER}/jwks` }],
    allowHttpIssuers: false,
  },
  DEMO_COMPILED_TABLE,
  { keyLookup: everyKeyIsLive, fetcher, logger: createLogger({ service: 'spray', sink: () => undefined }) },
);
await jwtCheck?.hydrate();

const methodArn = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me';
const heapMb = () => {
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapMb: +(heapUsed / 2 ** 20).toFixed(1), rssMb: +(rss / 2 ** 20).toFixed(1) };
};

async function spray(kind: 'apiKey' | 'jwt') {
  const rows: { sprayed: number; heapMb: number; rssMb: number }[] = [];
  let allowed = 0;
  for (let i = 1; i <= COUNT; i++) {
    const credential = kind === 'apiKey' ? generateKey('dg').key : jwt(i);
    const outcome = await authorize({
      methodArn,
      httpMethod: 'GET',
      resource: '/me',
      headers: { Authorization: `Bearer ${credential}` },
      multiValueHeaders: null,
    });
    if (outcome.effect === 'allow') allowed++;
    if (CHECKPOINTS.includes(i)) rows.push({ sprayed: i, ...heapMb() });
  }
  if (allowed !== COUNT) throw new Error(`${kind}: only ${allowed} of ${COUNT} allowed`);
  return rows;
}

const baseline = heapMb();
console.log(`baseline after init: heap ${baseline.heapMb} MB, rss ${baseline.rssMb} MB`);
const keyRows = await spray('apiKey');
const jwtRows = await spray('jwt');
const report = {
  count: COUNT,
  caps: { keyCacheEntries: MAX_KEY_CACHE_ENTRIES, jwtCacheEntries: MAX_JWT_CACHE_ENTRIES },
  baseline,
  apiKeys: keyRows,
  jwts: jwtRows,
  heapGrowthSecondHalfMb: {
    apiKeys: +((keyRows.at(-1)?.heapMb ?? 0) - (keyRows[2]?.heapMb ?? 0)).toFixed(1),
    jwts: +((jwtRows.at(-1)?.heapMb ?? 0) - (jwtRows[2]?.heapMb ?? 0)).toFixed(1),
  },
};
console.table([
  ...keyRows.map((row) => ({ kind: 'distinct live API keys', ...row })),
  ...jwtRows.map((row) => ({ kind: 'distinct valid JWTs', ...row })),
]);
console.log(JSON.stringify(report));
