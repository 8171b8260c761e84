/**
 * In-process micro-benchmarks: whole authorizer decisions (event in, policy and context out) beside
 * their physical floor (one SHA-256, one raw RS256 `crypto.verify`) and their reference (aws-jwt-verify's
 * bare `verifySync`), measured interleaved in the same run. I/O is stubbed, except for
 * `key_uncached_us`, which reads dynalite; DynamoDB calls are counted on a real SDK client.
 */
import { hash as oneShotHash, verify as cryptoVerify } from 'node:crypto';
import { DEMO_COMPILED_TABLE } from '../examples/demo/routes';
import { closeSync, openSync, writeSync } from 'node:fs';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { JwtVerifier } from 'aws-jwt-verify';
import type { Fetcher } from 'aws-jwt-verify/https';
import type { AuthorizerOutcome } from '../lambdas/authorizer/authorizer';
import { buildAuthorizer, MAX_JWT_CACHE_ENTRIES } from '../lambdas/authorizer/wiring';
import { itemFromRecord, type KeyRecord } from '../lambdas/core/key-record';
import type { KeyLookup, KeyUsageWriter } from '../lambdas/shared/key-store';
import { createLogger, type LogSink } from '../lambdas/shared/logger';
import { readSettings } from '../lambdas/core/settings';
import { LOCAL_AWS, startLocalDynamo } from '../lib/local/dynamo';
import {
  authorizerEvent,
  badChecksumKey,
  BENCH_AUDIENCE,
  BENCH_ISSUER,
  createSigningKey,
  jwksOf,
  newKey,
  signAccessToken,
} from './fixtures';
import { round, runInterleaved, type InterleavedOptions, type MicroCase } from './stats';

export interface MicroOptions extends InterleavedOptions {
  /** Decisions per batch for `jwt_first` (each needs a token never seen before, signed up front). */
  jwtFirstIterations: number;
  /** Rounds for the dynalite group (each op is a loopback HTTP round trip). */
  dynamoRounds: number;
  /** Decisions per DynamoDB call count. */
  callCountDecisions: number;
}

export interface MicroResults {
  floor: { sha256_us: number; rs256_verify_us: number };
  authorizer: {
    key_cached_us: number;
    key_bad_checksum_us: number;
    jwt_first_us: number;
    jwt_repeat_us: number;
    key_uncached_us: number;
  };
  reference: { aws_jwt_verify_us: number; dynamodb_get_item_us: number; sha256_us_dynamo_group: number };
  /** The same decisions with the log line written to /dev/null (a syscall per line, like Lambda's stdout) or at LOG_LEVEL=WARN, where only the line's EMF metric part is built (and discarded). */
  logging: {
    key_cached_devnull_us: number;
    key_cached_unlogged_us: number;
    key_bad_checksum_devnull_us: number;
    key_bad_checksum_unlogged_us: number;
    jwt_repeat_devnull_us: number;
    jwt_repeat_unlogged_us: number;
  };
  /** Reads per decision; `last_used_writes_first_use`: lastUsedAt writes per fresh key's first decision (not awaited). */
  ddb_calls: { key_cached: number; key_uncached: number; bad_checksum: number; last_used_writes_first_use: number };
}

/** A JWKS served from memory: the JWT check's fetcher with no network. */
class MemoryJwksFetcher implements Fetcher {
  fetches = 0;
  constructor(private readonly body: string) {}
  async fetch(): Promise<ArrayBuffer> {
    this.fetches++;
    const buffer = Buffer.from(this.body);
    return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
  }
}

/** The key table stubbed in memory; counts reads like the real store would make calls. */
class MemoryKeyLookup implements KeyLookup {
  reads = 0;
  private readonly records = new Map<string, KeyRecord>();
  constructor(...records: KeyRecord[]) {
    for (const record of records) this.records.set(record.keyHash, record);
  }
  async getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    this.reads++;
    return this.records.get(keyHash);
  }
}

const BENCH_ENV = {
  DUALGATE_KEY_TABLE: 'dualgate-bench-keys',
  DUALGATE_ISSUERS: JSON.stringify([{ issuer: BENCH_ISSUER, audience: [BENCH_AUDIENCE], jwksUri: `${BENCH_ISSUER}/jwks` }]),
  LOG_LEVEL: 'INFO',
};

let lastLineLength = 0;
/** Pays for building and serialising the log line, not for writing it. */
const discardSink: LogSink = (line) => {
  lastLineLength = line.length;
};

function expectEffect(name: string, outcome: AuthorizerOutcome, effect: AuthorizerOutcome['effect']): void {
  if (outcome.effect !== effect) throw new Error(`bench fixture broken: ${name} gave ${outcome.effect}, expected ${effect}`);
}

const instantUsageWriter: KeyUsageWriter = { recordUse: () => Promise.resolve(true) };

function stubbedAuthorizer(lookup: KeyLookup, jwksBody: string, sink: LogSink, level = 'INFO') {
  const logger = createLogger({ service: 'dualgate-authorizer', level, sink });
  // A usage writer that answers at once: each decision pays for the lastUsedAt bookkeeping, not for a table.
  return buildAuthorizer(readSettings({ ...BENCH_ENV, LOG_LEVEL: level }), DEMO_COMPILED_TABLE, {
    keyLookup: lookup,
    usageWriter: instantUsageWriter,
    fetcher: new MemoryJwksFetcher(jwksBody),
    logger,
  });
}

export async function runMicro(options: MicroOptions, progress: (line: string) => void = () => undefined): Promise<MicroResults> {
  const signingKey = createSigningKey();
  const jwksBody = JSON.stringify(jwksOf(signingKey));
  const { key, record } = newKey();
  const badKey = badChecksumKey();
  const repeatToken = signAccessToken(signingKey);

  // Tokens for jwt_first: each decision must be a cache miss. Used once each if the pool is large enough;
  // otherwise cycled through a pool larger than the JWT cache, which evicts a token (oldest first) before it comes back.
  const firstUses = (options.warmupRounds + options.rounds) * options.jwtFirstIterations;
  const poolSize = Math.min(firstUses, MAX_JWT_CACHE_ENTRIES + 256);
  progress(`signing ${poolSize} RS256 tokens for jwt_first`);
  const firstTokens = Array.from({ length: poolSize }, () => signAccessToken(signingKey));
  const firstEvents = firstTokens.map((token) => authorizerEvent(token));

  const lookup = new MemoryKeyLookup(record);
  const main = stubbedAuthorizer(lookup, jwksBody, discardSink);
  await main.jwtCheck!.hydrate();
  const devNull = openSync('/dev/null', 'w');
  const devNullSink: LogSink = (line) => {
    writeSync(devNull, `${line}\n`);
  };
  const withDevNull = stubbedAuthorizer(lookup, jwksBody, devNullSink);
  await withDevNull.jwtCheck!.hydrate();
  const unlogged = stubbedAuthorizer(lookup, jwksBody, discardSink, 'WARN');
  await unlogged.jwtCheck!.hydrate();

  const keyEvent = authorizerEvent(key);
  const badEvent = authorizerEvent(badKey);
  const repeatEvent = authorizerEvent(repeatToken);
  for (const [name, authorizer] of [
    ['main', main],
    ['devnull', withDevNull],
    ['unlogged', unlogged],
  ] as const) {
    expectEffect(`${name} key`, await authorizer.authorize(keyEvent), 'allow');
    expectEffect(`${name} bad checksum`, await authorizer.authorize(badEvent), 'unauthorized');
    expectEffect(`${name} jwt`, await authorizer.authorize(repeatEvent), 'allow');
  }
  expectEffect('first jwt', await main.authorize(authorizerEvent(signAccessToken(signingKey))), 'allow');

  // The floors: one SHA-256 of a key, one raw RS256 signature check of a JWT.
  const [headerPart, payloadPart, signaturePart] = repeatToken.split('.') as [string, string, string];
  const signingInput = Buffer.from(`${headerPart}.${payloadPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  if (!cryptoVerify('RSA-SHA256', signingInput, signingKey.publicKey, signature)) throw new Error('floor signature does not verify');

  // The reference: aws-jwt-verify with the same issuer and audience, nothing else, JWKS already cached.
  const bareVerifier = JwtVerifier.create({
    issuer: BENCH_ISSUER,
    audience: BENCH_AUDIENCE,
    jwksUri: `${BENCH_ISSUER}/.well-known/jwks.json`,
  });
  bareVerifier.cacheJwks(jwksOf(signingKey) as unknown as Parameters<typeof bareVerifier.cacheJwks>[0]);
  bareVerifier.verifySync(firstTokens[0]!);

  let firstIndex = 0;
  let referenceIndex = 0;
  const cases: MicroCase[] = [
    // The fastest SHA-256 Node offers (one-shot crypto.hash), the same call the authorizer makes.
    { name: 'floor.sha256', op: () => oneShotHash('sha256', key, 'hex') },
    { name: 'floor.rs256_verify', op: () => cryptoVerify('RSA-SHA256', signingInput, signingKey.publicKey, signature) },
    { name: 'authorizer.key_cached', op: () => main.authorize(keyEvent) },
    { name: 'authorizer.key_bad_checksum', op: () => main.authorize(badEvent) },
    { name: 'authorizer.jwt_repeat', op: () => main.authorize(repeatEvent) },
    {
      name: 'authorizer.jwt_first',
      op: () => main.authorize(firstEvents[firstIndex++ % poolSize]!),
      iterations: options.jwtFirstIterations,
    },
    {
      name: 'reference.aws_jwt_verify',
      op: () => bareVerifier.verifySync(firstTokens[referenceIndex++ % poolSize]!),
      iterations: options.jwtFirstIterations,
    },
    { name: 'logging.key_cached_devnull', op: () => withDevNull.authorize(keyEvent) },
    { name: 'logging.key_cached_unlogged', op: () => unlogged.authorize(keyEvent) },
    { name: 'logging.key_bad_checksum_devnull', op: () => withDevNull.authorize(badEvent) },
    { name: 'logging.key_bad_checksum_unlogged', op: () => unlogged.authorize(badEvent) },
    { name: 'logging.jwt_repeat_devnull', op: () => withDevNull.authorize(repeatEvent) },
    { name: 'logging.jwt_repeat_unlogged', op: () => unlogged.authorize(repeatEvent) },
  ];
  progress(`in-process decisions: ${cases.length} cases × ${options.rounds} rounds, interleaved`);
  const readsBefore = lookup.reads;
  const stubbed = await runInterleaved(cases, options);
  if (lookup.reads !== readsBefore) throw new Error(`cached-key benchmark read the table ${lookup.reads - readsBefore} times`);
  closeSync(devNull);
  if (lastLineLength === 0) throw new Error('the discarding log sink saw no line');

  progress('dynalite: uncached key decisions and DynamoDB call counts');
  const dynamo = await runDynamo(options, signingKey);

  const us = (name: string) => round(stubbed[name]!.medianUs);
  return {
    floor: { sha256_us: us('floor.sha256'), rs256_verify_us: us('floor.rs256_verify') },
    authorizer: {
      key_cached_us: us('authorizer.key_cached'),
      key_bad_checksum_us: us('authorizer.key_bad_checksum'),
      jwt_first_us: us('authorizer.jwt_first'),
      jwt_repeat_us: us('authorizer.jwt_repeat'),
      key_uncached_us: dynamo.keyUncachedUs,
    },
    reference: {
      aws_jwt_verify_us: us('reference.aws_jwt_verify'),
      dynamodb_get_item_us: dynamo.getItemUs,
      sha256_us_dynamo_group: dynamo.sha256Us,
    },
    logging: {
      key_cached_devnull_us: us('logging.key_cached_devnull'),
      key_cached_unlogged_us: us('logging.key_cached_unlogged'),
      key_bad_checksum_devnull_us: us('logging.key_bad_checksum_devnull'),
      key_bad_checksum_unlogged_us: us('logging.key_bad_checksum_unlogged'),
      jwt_repeat_devnull_us: us('logging.jwt_repeat_devnull'),
      jwt_repeat_unlogged_us: us('logging.jwt_repeat_unlogged'),
    },
    ddb_calls: dynamo.calls,
  };
}

/**
 * A DynamoDB client configured like production's createDynamoClient, plus local credentials and call counters:
 * `calls` counts reads (what a decision waits for), `writes` the lastUsedAt UpdateItems (which it never waits for).
 */
function countedClient(endpoint: string): { client: DynamoDBClient; calls: () => number; writes: () => number } {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS.region,
    credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
    maxAttempts: 2,
    requestHandler: { requestTimeout: 800, connectionTimeout: 400 },
  });
  let count = 0;
  let writes = 0;
  // Counts every command sent (before retries): what a decision asks of DynamoDB.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'UpdateItemCommand') writes++;
      else count++;
      return next(args);
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
  return { client, calls: () => count, writes: () => writes };
}

async function runDynamo(options: MicroOptions, signingKey: ReturnType<typeof createSigningKey>) {
  const tableName = 'dualgate-bench-keys';
  const local = await startLocalDynamo({ host: '127.0.0.1', tableName });
  try {
    const seed = async (record: KeyRecord) => {
      await local.client.send(new PutItemCommand({ TableName: tableName, Item: itemFromRecord(record) }));
    };
    const dynamoAuthorizer = (endpoint: string, keyCacheTtlSeconds: number) => {
      const counted = countedClient(endpoint);
      const logger = createLogger({ service: 'dualgate-authorizer', level: 'INFO', sink: discardSink });
      const env = { ...BENCH_ENV, DUALGATE_KEY_TABLE: tableName, DUALGATE_KEY_CACHE_TTL_SECONDS: String(keyCacheTtlSeconds) };
      const jwksBody = JSON.stringify(jwksOf(signingKey));
      const built = buildAuthorizer(readSettings(env), DEMO_COMPILED_TABLE, {
        dynamoClient: counted.client,
        fetcher: new MemoryJwksFetcher(jwksBody),
        logger,
      });
      return { ...built, calls: counted.calls, writes: counted.writes, client: counted.client };
    };

    // DynamoDB calls per decision, on a production-configured authorizer (key cache on).
    const counting = dynamoAuthorizer(local.endpoint, 30);
    const cachedKey = newKey();
    await seed(cachedKey.record);
    const cachedEvent = authorizerEvent(cachedKey.key);
    expectEffect('dynalite cached key (first)', await counting.authorize(cachedEvent), 'allow');
    const n = options.callCountDecisions;
    let before = counting.calls();
    for (let i = 0; i < n; i++) expectEffect('dynalite cached key', await counting.authorize(cachedEvent), 'allow');
    const keyCached = (counting.calls() - before) / n;

    const fresh = Array.from({ length: n }, () => newKey());
    for (const entry of fresh) await seed(entry.record);
    before = counting.calls();
    const writesBefore = counting.writes();
    for (const entry of fresh) expectEffect('dynalite fresh key', await counting.authorize(authorizerEvent(entry.key)), 'allow');
    const keyUncached = (counting.calls() - before) / n;
    await counting.lastUsed?.drain();
    // A key's first use records lastUsedAt once, after the decision.
    const lastUsedWrites = (counting.writes() - writesBefore) / n;

    before = counting.calls();
    for (let i = 0; i < n; i++)
      expectEffect('dynalite bad checksum', await counting.authorize(authorizerEvent(badChecksumKey())), 'unauthorized');
    const badChecksum = (counting.calls() - before) / n;

    // key_uncached_us: the key cache TTL set to 0, so every decision reads the table, beside a bare GetItem.
    const uncached = dynamoAuthorizer(local.endpoint, 0);
    const uncachedEvent = authorizerEvent(cachedKey.key);
    const callsBefore = uncached.calls();
    expectEffect('dynalite uncached key', await uncached.authorize(uncachedEvent), 'allow');
    expectEffect('dynalite uncached key', await uncached.authorize(uncachedEvent), 'allow');
    if (uncached.calls() - callsBefore !== 2) throw new Error('key cache TTL 0 did not read the table on every decision');
    const bare = countedClient(local.endpoint).client;
    const getItem = new GetItemCommand({ TableName: tableName, Key: { keyHash: { S: cachedKey.record.keyHash } } });
    const results = await runInterleaved(
      [
        { name: 'sha256', op: () => oneShotHash('sha256', cachedKey.key, 'hex') },
        { name: 'key_uncached', op: () => uncached.authorize(uncachedEvent) },
        { name: 'get_item', op: () => bare.send(getItem) },
      ],
      { rounds: options.dynamoRounds, warmupRounds: 2, batchMs: Math.max(options.batchMs, 20) },
    );
    uncached.client.destroy();
    counting.client.destroy();
    bare.destroy();
    return {
      keyUncachedUs: round(results['key_uncached']!.medianUs),
      getItemUs: round(results['get_item']!.medianUs),
      sha256Us: round(results['sha256']!.medianUs),
      calls: { key_cached: keyCached, key_uncached: keyUncached, bad_checksum: badChecksum, last_used_writes_first_use: lastUsedWrites },
    };
  } finally {
    await local.stop();
  }
}
