/**
 * Cold start: build every Lambda bundle with esbuild exactly as NodejsFunction does (options from
 * lib/build/bundling.ts), then time fresh `node` processes, interleaved:
 *   - bare:   `node -e ''`, a process doing nothing;
 *   - init (key first): `node driver.mjs <authorizer bundle>`: import the bundle (module scope reads the route
 *             table file, builds the verifier), make the first decision with an API key (which loads the SDK's
 *             chunk and reads the key; the JWKS is not fetched), exit;
 *   - JWT first: the same with a JWT as the first credential (which fetches the JWKS; the SDK's chunk is never
 *             loaded);
 *   - JWT first, provisioned: the same under `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency` (init
 *             fetches the JWKS and loads the SDK's chunk, concurrently);
 *   - 300 routes: the key-first start with a generated 300-route, 100-scope table in its route-table file;
 *   - 10 and 1,000 routes: the same with bench/fixtures' large-app table (docs/large-apis.md compares the two);
 *   - naive SDK: a minimal handler with a DynamoDBClient at module scope making one GetItem, bundled exactly as
 *             the authorizer: the floor any Lambda that reads DynamoDB pays;
 *   - JWT floor: a minimal handler that fetches the JWKS at init (node:http) and checks a JWT's RS256 signature
 *             with one crypto.verify, bundled the same way: the floor any JWT authorizer pays (no claims checked,
 *             no configuration read, one log line);
 *   - JWT floor + authorizer code: the JWT floor's handler in a bundle that also holds the authorizer's modules,
 *             loaded and linked but never run: how much of jwt_first_ms is loading the authorizer's code, and how
 *             much is running it (a diagnostic, not a target).
 * The authorizer's I/O is a loopback stub in this process: a JWKS document and a DynamoDB endpoint that
 * answers GetItem with a canned key item. So the first decision pays for the SDK's first request
 * (middleware, credentials from the environment, signing, a TCP connect) but not for a network.
 * Both bundling choices (SDK bundled, or left to the runtime) are timed, with and without
 * `--enable-source-maps`, which the stack sets in NODE_OPTIONS.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { compileRouteTable } from '../lambdas/core/policy-compiler';
import { itemFromRecord } from '../lambdas/core/key-record';
import { RUNTIME_CONFIG_FILE, RUNTIME_CONFIG_FILE_VARIABLE, type RuntimeRouteConfig } from '../lambdas/core/route-config';
import { scopeCatalog, type RouteRule } from '../lambdas/core/route-table';
import {
  AUTHORIZER_NODE_OPTIONS,
  DEMO_LAMBDA_ENTRIES,
  esbuildOptions,
  LAMBDA_BUNDLE_FILE,
  LAMBDA_BUNDLING,
  LAMBDA_ENTRIES,
  LAMBDA_NODE_OPTIONS,
} from '../lib/build/bundling';
import { DEMO_ROUTE_TABLE } from '../examples/demo/routes';
import { bundleBytes } from './bundle-files';
import { authorizerEvent, createSigningKey, generatedRouteTable, jwksOf, largeAppRouteTable, newKey, signAccessToken } from './fixtures';
import { median, nowNs, round } from './stats';

export const REPO_ROOT = resolve(import.meta.dirname, '..');

/** The two ways to treat the AWS SDK: bundle (tree-shaken) or leave it to the Lambda runtime's copy. */
export const BUNDLING_CHOICES = {
  bundled: [] as string[],
  external: ['@aws-sdk/*', '@smithy/*'],
} as const;
export type BundlingChoice = keyof typeof BUNDLING_CHOICES;

/** The choice lib/build/bundling.ts ships. */
export const SHIPPED_CHOICE: BundlingChoice = LAMBDA_BUNDLING.externalModules.length === 0 ? 'bundled' : 'external';

export interface ColdStartOptions {
  /** Interleaved runs of every variant; the figure is the median. */
  runs: number;
  /** Unmeasured runs first (page cache, esbuild output on disk). */
  warmupRuns: number;
  /** When set, one more start of every variant runs with `--cpu-prof` and writes its profile here. */
  profileDir?: string;
}

interface VariantFigures {
  init_ms: number;
  /** Inside the child: from process start to the bundle imported (init done, JWKS loaded). */
  import_done_ms: number;
  /** Inside the child: the first decision alone. */
  first_decision_ms: number;
}

export interface ColdStartResults {
  /** JavaScript bytes per Lambda (index.mjs and every chunk), for the shipped choice. */
  bundle_bytes: Record<string, number>;
  /** Bytes a start parses before the first decision can run: index.mjs and the chunks it imports statically. */
  init_bundle_bytes: Record<string, number>;
  /** The shipped authorizer, first decision with an API key (its SDK chunk loads on that request). */
  init_ms: number;
  /** The same start and decision as `init_ms`: process start to the first key decision. */
  key_first_ms: number;
  /** Process start to the first JWT decision, JWKS served locally: the SDK is never loaded. */
  jwt_first_ms: number;
  /** The shipped authorizer with a 300-route, 100-scope table. */
  init_ms_300_routes: number;
  /** The shipped authorizer with bench/fixtures' large-app table: 10 routes, and 1,000 routes across 100 scopes. */
  init_ms_10_routes: number;
  init_ms_1000_routes: number;
  /** A minimal DynamoDB GetItem handler, bundled as the authorizer is. */
  naive_sdk_ms: number;
  /** A minimal JWT check (JWKS fetched at init, one crypto.verify), bundled as the authorizer is: jwt_first_ms's floor. */
  jwt_floor_ms: number;
  /** The JWT floor with the authorizer's modules loaded but never run: jwt_first_ms minus this is running them. */
  jwt_floor_code_ms: number;
  bare_node_ms: number;
  ratio: number;
  shipped: { bundling: BundlingChoice; node_options: string };
  /** Every variant, same run: `<bundling>` or `<bundling>+source-maps`. */
  variants: Record<string, VariantFigures & { ratio: number }>;
  /** JavaScript and source-map bytes per Lambda (all files), per bundling choice. */
  bytes: Record<BundlingChoice, Record<string, { js: number; map: number; init_js: number }>>;
}

/** Lambda name → entry file: the shipped bundles (authorizer, keys) and the demo's backends. */
export function lambdaEntries(): Record<string, string> {
  return Object.fromEntries(
    Object.entries({ ...LAMBDA_ENTRIES, ...DEMO_LAMBDA_ENTRIES }).map(([name, entry]) => [name, join(REPO_ROOT, entry)]),
  );
}

/** The naive baseline: one client at module scope, one GetItem per invocation, nothing else. */
const NAIVE_SDK_HANDLER = `
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
const client = new DynamoDBClient({ endpoint: process.env.DUALGATE_DYNAMODB_ENDPOINT });
export async function handler() {
  const { Item } = await client.send(new GetItemCommand({ TableName: process.env.DUALGATE_KEY_TABLE, Key: { keyHash: { S: 'naive' } } }));
  return { principalId: Item ? 'found' : 'none' };
}
`;

/**
 * The JWT floor: the JWKS fetched over node:http during init, the signature checked with crypto.verify. It checks
 * nothing else (no claims, no kid lookup), so it is a lower bound for jwt_first_ms, not an authorizer.
 */
const JWT_FLOOR_HANDLER = `
import { request } from 'node:http';
import { createPublicKey, verify } from 'node:crypto';
const jwksUri = JSON.parse(process.env.DUALGATE_ISSUERS)[0].jwksUri;
const body = await new Promise((resolve, reject) => request(jwksUri, (response) => {
  let text = '';
  response.on('data', (chunk) => (text += chunk));
  response.on('end', () => resolve(text));
}).on('error', reject).end());
const publicKey = createPublicKey({ key: JSON.parse(body).keys[0], format: 'jwk' });
export async function handler(event) {
  const [header, payload, signature] = event.headers.Authorization.slice(7).split('.');
  if (!verify('RSA-SHA256', Buffer.from(header + '.' + payload), publicKey, Buffer.from(signature, 'base64url'))) throw new Error('Unauthorized');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  process.stdout.write(JSON.stringify({ decision: 'allow', sub: claims.sub }) + '\\n');
  return { principalId: claims.sub, context: { authMethod: 'jwt' } };
}
`;

/**
 * The JWT floor's handler with the authorizer's code beside it: the modules handler.ts imports, referenced so that
 * esbuild keeps them (and their static imports, the same chunks as the authorizer's), never called.
 */
function jwtFloorWithAuthorizerCode(): string {
  const module = (path: string) => JSON.stringify(join(REPO_ROOT, path));
  return `
import { buildAuthorizer } from ${module('lambdas/authorizer/wiring.ts')};
import { readSettings } from ${module('lambdas/core/settings.ts')};
import { readRuntimeRouteConfig } from ${module('lambdas/shared/route-config-file.ts')};
globalThis.dualgateBenchCode = [buildAuthorizer, readSettings, readRuntimeRouteConfig];
${JWT_FLOOR_HANDLER}`;
}

/** What the construct writes beside the authorizer bundle for a route table. */
function routeConfigFile(dir: string, routes: readonly RouteRule[]): string {
  const config: RuntimeRouteConfig = {
    version: 2,
    routeTable: compileRouteTable(routes),
    catalog: scopeCatalog(routes),
    managementBasePath: '/keys',
  };
  const file = join(dir, `${routes.length}-routes-${RUNTIME_CONFIG_FILE}`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** esbuild with the shipped options (lib/build/bundling.ts), optionally leaving the SDK external. */
export async function bundleLambda(
  entry: string,
  outDir: string,
  external: readonly string[],
): Promise<{ js: number; map: number; init_js: number; file: string }> {
  // The one bundling definition (lib/build/bundling.ts) the package build and the construct use.
  await build(esbuildOptions(entry, outDir, external));
  return { ...bundleBytes(outDir), file: join(outDir, LAMBDA_BUNDLE_FILE) };
}

/** The stubbed I/O: GET /jwks serves the JWKS, POST / answers DynamoDB GetItem with `item` (anything else: a 400). */
async function startStubServer(jwks: unknown, item: unknown): Promise<{ url: string; server: Server; requests: () => number }> {
  let requests = 0;
  const jwksBody = JSON.stringify(jwks);
  const getItemBody = JSON.stringify({ Item: item });
  const server = createServer((request, response) => {
    // A start's lastUsedAt UpdateItem may or may not leave before the driver exits: not counted (answered 400 below).
    if (request.headers['x-amz-target'] !== 'DynamoDB_20120810.UpdateItem') requests++;
    if (request.method === 'GET' && request.url === '/jwks') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(jwksBody);
      return;
    }
    request.resume();
    request.on('end', () => {
      if (request.method === 'POST' && request.headers['x-amz-target'] === 'DynamoDB_20120810.GetItem') {
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(getItemBody);
      } else {
        response
          .writeHead(400, { 'content-type': 'application/x-amz-json-1.0' })
          .end('{"__type":"ValidationException","message":"bench stub"}');
      }
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests: () => requests };
}

/** The child: import the bundle, decide once, report its own timings, exit (keep-alive sockets would hold it open). */
const DRIVER = `
import { performance } from 'node:perf_hooks';
const { handler } = await import(process.argv[2]);
const imported = performance.now();
const result = await handler(JSON.parse(process.env.BENCH_EVENT));
const decided = performance.now();
if (!result || typeof result.principalId !== 'string') process.exit(3);
// The decision the variant is about (an API key's, a JWT's), not some other path's.
if (process.env.BENCH_AUTH_METHOD && result.context?.authMethod !== process.env.BENCH_AUTH_METHOD) process.exit(4);
process.stdout.write('\\n@@bench ' + JSON.stringify({ imported, decided }) + '\\n');
process.exit(0);
`;

interface SpawnResult {
  wallMs: number;
  stdout: string;
}

function timeProcess(args: string[], env: NodeJS.ProcessEnv): Promise<SpawnResult> {
  return new Promise((resolvePromise, reject) => {
    const start = nowNs();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = Number(nowNs() - start) / 1e6;
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.slice(0, 2000)}`));
      else resolvePromise({ wallMs, stdout });
    });
  });
}

export async function runColdStart(
  options: ColdStartOptions,
  progress: (line: string) => void = () => undefined,
): Promise<ColdStartResults> {
  const workDir = mkdtempSync(join(tmpdir(), 'dualgate-bench-'));
  // An externalised SDK must resolve from node_modules, as it does from the runtime's in Lambda.
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(workDir, 'node_modules'), 'dir');
  const stopServers: (() => Promise<void>)[] = [];
  try {
    progress('building Lambda bundles with esbuild (both bundling choices)');
    const entries = lambdaEntries();
    const bytes = { bundled: {}, external: {} } as ColdStartResults['bytes'];
    const authorizerFiles = {} as Record<BundlingChoice, string>;
    for (const choice of Object.keys(BUNDLING_CHOICES) as BundlingChoice[]) {
      for (const [name, entry] of Object.entries(entries)) {
        const built = await bundleLambda(entry, join(workDir, choice, name), BUNDLING_CHOICES[choice]);
        bytes[choice][name] = { js: built.js, map: built.map, init_js: built.init_js };
        if (name === 'authorizer') authorizerFiles[choice] = built.file;
      }
    }
    const naiveEntry = join(workDir, 'naive-sdk.mjs');
    writeFileSync(naiveEntry, NAIVE_SDK_HANDLER);
    const naiveFile = (await bundleLambda(naiveEntry, join(workDir, 'naive'), BUNDLING_CHOICES[SHIPPED_CHOICE])).file;
    const jwtFloorEntry = join(workDir, 'jwt-floor.mjs');
    writeFileSync(jwtFloorEntry, JWT_FLOOR_HANDLER);
    const jwtFloorFile = (await bundleLambda(jwtFloorEntry, join(workDir, 'jwt-floor'), BUNDLING_CHOICES[SHIPPED_CHOICE])).file;
    const jwtFloorCodeEntry = join(workDir, 'jwt-floor-code.mjs');
    writeFileSync(jwtFloorCodeEntry, jwtFloorWithAuthorizerCode());
    const jwtFloorCodeFile = (await bundleLambda(jwtFloorCodeEntry, join(workDir, 'jwt-floor-code'), BUNDLING_CHOICES[SHIPPED_CHOICE]))
      .file;
    const demoConfig = routeConfigFile(workDir, DEMO_ROUTE_TABLE);
    const largeConfig = routeConfigFile(workDir, generatedRouteTable(300, 100));
    const tenRoutesConfig = routeConfigFile(workDir, largeAppRouteTable(10, { scopeCount: 100, functionCount: 10 }));
    const thousandRoutesConfig = routeConfigFile(workDir, largeAppRouteTable(1000, { scopeCount: 100, functionCount: 10 }));

    const signingKey = createSigningKey();
    const { key, record } = newKey();
    const stub = await startStubServer(jwksOf(signingKey), itemFromRecord(record));
    stopServers.push(() => new Promise((done) => stub.server.close(() => done())));
    const driver = join(workDir, 'driver.mjs');
    writeFileSync(driver, DRIVER);
    const keyEvent = JSON.stringify(authorizerEvent(key));
    const jwtEvent = JSON.stringify(authorizerEvent(signAccessToken(signingKey, { iss: stub.url })));

    const baseEnv: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      DUALGATE_KEY_TABLE: 'dualgate-bench-keys',
      DUALGATE_ISSUERS: JSON.stringify([{ issuer: stub.url, audience: ['dualgate-bench'], jwksUri: `${stub.url}/jwks` }]),
      DUALGATE_ALLOW_HTTP_ISSUERS: 'true',
      DUALGATE_DYNAMODB_ENDPOINT: stub.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      LOG_LEVEL: 'INFO',
    };
    interface Variant {
      name: string;
      file: string;
      nodeOptions: string;
      config?: string;
      /** The first (and only) decision's event: an API key unless said otherwise. */
      event?: string;
      env?: NodeJS.ProcessEnv;
      /** Stub requests per start: the JWKS fetch (a JWT's start, or a provisioned init), the GetItem (a key's). */
      requests: number;
    }
    const variants: Variant[] = [];
    for (const choice of Object.keys(BUNDLING_CHOICES) as BundlingChoice[]) {
      variants.push({ name: choice, file: authorizerFiles[choice], nodeOptions: '', config: demoConfig, requests: 1 });
      variants.push({
        name: `${choice}+source-maps`,
        file: authorizerFiles[choice],
        nodeOptions: LAMBDA_NODE_OPTIONS,
        config: demoConfig,
        requests: 1,
      });
    }
    variants.push({
      name: `${SHIPPED_CHOICE}+300-routes`,
      file: authorizerFiles[SHIPPED_CHOICE],
      nodeOptions: AUTHORIZER_NODE_OPTIONS,
      config: largeConfig,
      requests: 1,
    });
    variants.push({
      name: `${SHIPPED_CHOICE}+10-routes`,
      file: authorizerFiles[SHIPPED_CHOICE],
      nodeOptions: AUTHORIZER_NODE_OPTIONS,
      config: tenRoutesConfig,
      requests: 1,
    });
    variants.push({
      name: `${SHIPPED_CHOICE}+1000-routes`,
      file: authorizerFiles[SHIPPED_CHOICE],
      nodeOptions: AUTHORIZER_NODE_OPTIONS,
      config: thousandRoutesConfig,
      requests: 1,
    });
    variants.push({
      name: `${SHIPPED_CHOICE}+jwt`,
      file: authorizerFiles[SHIPPED_CHOICE],
      nodeOptions: AUTHORIZER_NODE_OPTIONS,
      config: demoConfig,
      event: jwtEvent,
      requests: 1,
    });
    variants.push({
      name: `${SHIPPED_CHOICE}+jwt+provisioned`,
      file: authorizerFiles[SHIPPED_CHOICE],
      nodeOptions: AUTHORIZER_NODE_OPTIONS,
      config: demoConfig,
      event: jwtEvent,
      env: { AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' },
      requests: 1,
    });
    variants.push({ name: 'naive-sdk', file: naiveFile, nodeOptions: '', requests: 1 });
    variants.push({ name: 'jwt-floor', file: jwtFloorFile, nodeOptions: '', event: jwtEvent, requests: 1 });
    variants.push({ name: 'jwt-floor+code', file: jwtFloorCodeFile, nodeOptions: '', event: jwtEvent, requests: 1 });
    const envOf = (variant: Variant): NodeJS.ProcessEnv => ({
      ...baseEnv,
      NODE_OPTIONS: variant.nodeOptions,
      BENCH_EVENT: variant.event ?? keyEvent,
      ...(variant.name === 'naive-sdk' ? {} : { BENCH_AUTH_METHOD: variant.event === jwtEvent ? 'jwt' : 'apiKey' }),
      ...(variant.config ? { [RUNTIME_CONFIG_FILE_VARIABLE]: variant.config } : {}),
      ...variant.env,
    });
    const bare: number[] = [];
    const timings = new Map(
      variants.map((variant) => [variant.name, { wall: [] as number[], imported: [] as number[], decided: [] as number[] }]),
    );
    progress(`cold starts: bare node and ${variants.length} authorizer variants × ${options.runs} runs, interleaved`);
    const requestsBefore = stub.requests();
    for (let run = 0; run < options.warmupRuns + options.runs; run++) {
      const measured = run >= options.warmupRuns;
      // Rotate the order each run, bare node included, so no variant always follows the same one.
      const order = ['bare', ...variants.map((variant) => variant.name)];
      const rotated = [...order.slice(run % order.length), ...order.slice(0, run % order.length)];
      for (const name of rotated) {
        if (name === 'bare') {
          const { wallMs } = await timeProcess(['-e', ''], { PATH: process.env['PATH'] });
          if (measured) bare.push(wallMs);
          continue;
        }
        const variant = variants.find((candidate) => candidate.name === name)!;
        const { wallMs, stdout } = await timeProcess([driver, pathToFileURL(variant.file).href], envOf(variant));
        const marker = /^@@bench (.+)$/m.exec(stdout);
        if (!marker) throw new Error(`driver printed no timings: ${stdout.slice(0, 500)}`);
        const inside = JSON.parse(marker[1]!) as { imported: number; decided: number };
        if (measured) {
          const figures = timings.get(name)!;
          figures.wall.push(wallMs);
          figures.imported.push(inside.imported);
          figures.decided.push(inside.decided - inside.imported);
        }
      }
    }
    if (options.profileDir) {
      progress(`writing --cpu-prof profiles of each variant to ${options.profileDir}`);
      for (const variant of variants) {
        const dir = join(options.profileDir, variant.name.replace(/[^a-z-]/g, '_'));
        await timeProcess(
          ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100', driver, pathToFileURL(variant.file).href],
          envOf(variant),
        );
      }
    }
    // Every JWT-first start fetched the JWKS, and every key-first start read the key once: the I/O was really exercised.
    const expectedRequests =
      variants.reduce((sum, variant) => sum + variant.requests, 0) * (options.warmupRuns + options.runs + (options.profileDir ? 1 : 0));
    if (stub.requests() - requestsBefore !== expectedRequests) {
      throw new Error(
        `stub saw ${stub.requests() - requestsBefore} requests, expected ${expectedRequests} (one JWKS fetch per JWT-first start, one GetItem per key-first and naive start)`,
      );
    }

    const bareMs = median(bare);
    const figures: ColdStartResults['variants'] = {};
    for (const [name, timing] of timings) {
      const initMs = median(timing.wall);
      figures[name] = {
        init_ms: round(initMs, 2),
        import_done_ms: round(median(timing.imported), 2),
        first_decision_ms: round(median(timing.decided), 2),
        ratio: round(initMs / bareMs, 3),
      };
    }
    const shippedName = AUTHORIZER_NODE_OPTIONS.includes('--enable-source-maps') ? `${SHIPPED_CHOICE}+source-maps` : SHIPPED_CHOICE;
    const shipped = figures[shippedName]!;
    return {
      bundle_bytes: Object.fromEntries(Object.entries(bytes[SHIPPED_CHOICE]).map(([name, size]) => [name, size.js])),
      init_bundle_bytes: Object.fromEntries(Object.entries(bytes[SHIPPED_CHOICE]).map(([name, size]) => [name, size.init_js])),
      init_ms: shipped.init_ms,
      key_first_ms: shipped.init_ms,
      jwt_first_ms: figures[`${SHIPPED_CHOICE}+jwt`]!.init_ms,
      init_ms_300_routes: figures[`${SHIPPED_CHOICE}+300-routes`]!.init_ms,
      init_ms_10_routes: figures[`${SHIPPED_CHOICE}+10-routes`]!.init_ms,
      init_ms_1000_routes: figures[`${SHIPPED_CHOICE}+1000-routes`]!.init_ms,
      naive_sdk_ms: figures['naive-sdk']!.init_ms,
      jwt_floor_ms: figures['jwt-floor']!.init_ms,
      jwt_floor_code_ms: figures['jwt-floor+code']!.init_ms,
      bare_node_ms: round(bareMs, 2),
      ratio: shipped.ratio,
      shipped: { bundling: SHIPPED_CHOICE, node_options: AUTHORIZER_NODE_OPTIONS },
      variants: figures,
      bytes,
    };
  } finally {
    for (const stop of stopServers) await stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}
