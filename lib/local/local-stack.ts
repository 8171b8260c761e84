/**
 * Boot the whole stack in one process: dynalite with the key table, the mock OIDC issuer, then the local
 * gateway in front of the real authorizer (buildAuthorizer) and the real handler modules.
 *
 * Handler modules read their settings from `process.env` when they are first imported (clients at module
 * scope, as in Lambda), so the environment is written before they load, and one process can host one
 * local stack: a second start would find the modules already bound to the first stack's table and issuer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileRouteTable } from '../../lambdas/authorizer/policy-compiler';
import { RUNTIME_CONFIG_FILE, RUNTIME_CONFIG_FILE_VARIABLE, type RuntimeRouteConfig } from '../../lambdas/shared/route-config';
import { consumerRoutes, DEFAULT_MANAGEMENT_BASE_PATH, managementRoutes, scopeCatalog } from '../../lambdas/shared/route-table';
import { SETTING_NAMES } from '../../lambdas/shared/settings';
import { startLocalUsagePlans, type LocalUsagePlans } from './usage-plans/local-usage-plans';
import { DEMO_ROUTES, DEMO_ROUTE_TABLE } from '../demo/demo-routes';
import type { IssuerConfig } from '../../lambdas/shared/issuer-config';
import { runtimeEnvironment, type DualgateConfig } from '../config';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import { createLogger, errorFields, setDefaultLogSink, type LogSink } from '../../lambdas/shared/logger';
import { readSettings } from '../../lambdas/shared/settings';
import { LOCAL_AWS, startLocalDynamo, type LocalDynamo } from './dynamo';
import { startGateway, type AccessLogSink, type ProxyHandler, type Route, type RunningGateway } from './gateway';
import { startLocalIssuer, type LocalIssuer } from './issuer';
import type { LocalConfig } from './local-config';
import { StdoutLines } from './stdout-lines';

/** In the --data directory, next to dynalite's files (which it leaves alone: LevelDB ignores names it did not write). */
export const ISSUER_SIGNING_KEY_FILE = 'issuer-signing-key.json';

type HandlerName = 'backends/health' | 'backends/me' | 'backends/users' | 'keys/handler';

/** Every handler module of the demo app, by name. */
const HANDLER_MODULES: Record<HandlerName, () => Promise<{ handler?: unknown }>> = {
  'backends/health': () => import('../../lambdas/backends/health'),
  'backends/me': () => import('../../lambdas/backends/me'),
  'backends/users': () => import('../../lambdas/backends/users'),
  'keys/handler': () => import('../../lambdas/keys/handler'),
};

export class LocalStackError extends Error {
  override readonly name: string = 'LocalStackError';
}

/** A port local mode needs is taken by another process. */
export class PortInUseError extends LocalStackError {
  override readonly name = 'PortInUseError';
  constructor(
    readonly component: 'gateway' | 'issuer',
    readonly port: number,
    readonly envVar: string,
  ) {
    super(`port ${port} is already in use (${component}); stop the other process or set ${envVar} to another port`);
  }
}

export interface LocalStackOptions {
  config: LocalConfig;
  /** Where the gateway's access-log lines go (default: stdout). */
  accessLog?: AccessLogSink;
  /** Where the authorizer's structured log lines go (default: stdout). */
  logSink?: LogSink;
}

export interface LocalStack {
  gatewayUrl: string;
  issuerUrl: string;
  tokenUrl: string;
  jwksUri: string;
  dynamoEndpoint: string;
  tableName: string;
  /** The configuration in force, with the issuer's real URL. */
  config: DualgateConfig;
  /** Issuers trusted beside the mock one (DUALGATE_ISSUERS). */
  externalIssuers: IssuerConfig[];
  /** Where keys and the issuer's signing key persist (--data); absent = in memory. */
  dataDir?: string;
  /** The emulated usage plans, when plans are configured. */
  usagePlans?: LocalUsagePlans;
  /** The plans in force (DUALGATE_LOCAL_PLANS). */
  plans?: NonNullable<LocalConfig['plans']>;
  audience: string;
  stop(): Promise<void>;
}

let startedInThisProcess = false;

function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

/** The demo app's routes, each with the module that serves it, and the key API at /keys. */
export const LOCAL_ROUTES: readonly Route[] = [
  ...DEMO_ROUTES.map((route) => ({ ...route, handler: `backends/${route.backend}` })),
  ...managementRoutes().map((route) => ({ ...route, handler: 'keys/handler' })),
];

/** With plans, the consumer routes beside the key API, as the construct adds them. */
export const LOCAL_ROUTES_WITH_PLANS: readonly Route[] = [...LOCAL_ROUTES, ...consumerRoutes().map((route) => ({ ...route, handler: 'keys/handler' }))];

export async function loadHandler(name: string): Promise<ProxyHandler> {
  const load = HANDLER_MODULES[name as HandlerName];
  if (!load) throw new LocalStackError(`no handler module ${name}`);
  const module = await load();
  if (typeof module.handler !== 'function') throw new LocalStackError(`lambdas/${name}.ts does not export a handler function`);
  return module.handler as ProxyHandler;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  if (startedInThisProcess) throw new LocalStackError('local mode can start once per process: handler modules keep the settings they were imported with');
  startedInThisProcess = true;
  const { config: local } = options;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const dynamo: LocalDynamo = await startLocalDynamo({ host: local.host, tableName: local.tableName, ...(local.dataDir ? { dataDir: local.dataDir } : {}) });
    stops.push(dynamo.stop);

    let issuer: LocalIssuer;
    try {
      issuer = await startLocalIssuer({
        host: local.host,
        port: local.issuerPort,
        audience: local.audience,
        scopeCatalog: scopeCatalogFor(local.dualgate),
        // Beside the key table, so a token saved before a restart with the same --data still verifies.
        ...(local.dataDir ? { signingKeyFile: join(local.dataDir, ISSUER_SIGNING_KEY_FILE) } : {}),
      });
    } catch (error) {
      throw isAddressInUse(error) ? new PortInUseError('issuer', local.issuerPort, 'ISSUER_PORT') : error;
    }
    stops.push(issuer.stop);

    // The mock issuer's real URL (its port may have been 0), then the issuers the user trusts (DUALGATE_ISSUERS).
    const config: DualgateConfig = { ...local.dualgate, issuers: [{ issuer: issuer.url, audience: [local.audience], jwksUri: issuer.jwksUri }, ...local.externalIssuers] };
    // What the construct writes into the Lambda assets at synth: the route table, compiled, and the catalog.
    const routeConfig: RuntimeRouteConfig = {
      version: 1,
      routeTable: compileRouteTable(local.plans ? [...DEMO_ROUTE_TABLE, ...consumerRoutes()] : DEMO_ROUTE_TABLE),
      catalog: scopeCatalogFor(config),
      managementBasePath: DEFAULT_MANAGEMENT_BASE_PATH,
    };
    // Plans: the usage-plan emulator and its control plane, before the handlers read their environment.
    let usagePlans: LocalUsagePlans | undefined;
    if (local.plans) {
      usagePlans = await startLocalUsagePlans({ ...local.plans, host: local.host, ...(local.dataDir ? { dataDir: local.dataDir } : {}) });
      stops.push(usagePlans.stop);
    }
    const configDir = mkdtempSync(join(tmpdir(), 'dualgate-local-'));
    stops.push(async () => rmSync(configDir, { recursive: true, force: true }));
    writeFileSync(join(configDir, RUNTIME_CONFIG_FILE), JSON.stringify(routeConfig));
    const env = {
      [RUNTIME_CONFIG_FILE_VARIABLE]: join(configDir, RUNTIME_CONFIG_FILE),
      ...runtimeEnvironment(config, { tableName: dynamo.tableName, issuersJson: JSON.stringify(config.issuers), dynamoEndpoint: dynamo.endpoint, allowHttpIssuers: true }),
      ...(usagePlans ? { [SETTING_NAMES.plans]: JSON.stringify(usagePlans.runtimePlans), [SETTING_NAMES.apiGatewayEndpoint]: usagePlans.endpoint } : {}),
      // Only ever dynalite: never let a developer's real AWS credentials or region near local mode.
      AWS_REGION: LOCAL_AWS.region,
      AWS_ACCESS_KEY_ID: LOCAL_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS.secretAccessKey,
    };
    delete process.env['AWS_SESSION_TOKEN'];
    delete process.env['AWS_PROFILE'];
    Object.assign(process.env, env);

    const stdoutLines = new StdoutLines();
    stops.push(async () => stdoutLines.flush());
    const logSink = options.logSink ?? stdoutLines.push;
    // The handler modules build their loggers without a sink (as in Lambda, stdout): send their lines (the
    // management API's audit lines) where the authorizer's go, so a test that captures logs gets them all.
    setDefaultLogSink(logSink);
    stops.push(async () => setDefaultLogSink(undefined));
    const logger = createLogger({ service: 'dualgate-authorizer', level: config.logLevel, sink: logSink });
    const { authorize, jwtPolicy } = buildAuthorizer(readSettings(env), routeConfig.routeTable, { logger });
    if (jwtPolicy) {
      try {
        await jwtPolicy.hydrate();
      } catch (error) {
        // As in Lambda: not fatal, each JWT retries the fetch.
        logger.error('JWKS hydrate failed at start', { reason: 'jwks_unavailable', ...errorFields(error) });
      }
    }
    // Import every handler now, so a broken module fails the start instead of the first request.
    const handlers = new Map<string, ProxyHandler>();
    for (const name of Object.keys(HANDLER_MODULES) as HandlerName[]) handlers.set(name, await loadHandler(name));

    let gateway: RunningGateway;
    try {
      gateway = await startGateway({
        host: local.host,
        port: local.gatewayPort,
        routes: usagePlans ? LOCAL_ROUTES_WITH_PLANS : LOCAL_ROUTES,
        ...(usagePlans ? { usagePlans: usagePlans.emulator } : {}),
        authorize,
        loadHandler: async (name) => handlers.get(name) ?? loadHandler(name),
        stageName: config.stageName,
        authorizerCacheTtlSeconds: config.authorizerCacheTtlSeconds,
        maxBodyBytes: local.maxBodyBytes,
        accessLog: options.accessLog ?? ((entry) => stdoutLines.push(JSON.stringify(entry))),
      });
    } catch (error) {
      throw isAddressInUse(error) ? new PortInUseError('gateway', local.gatewayPort, 'PORT') : error;
    }
    stops.push(gateway.close);

    return {
      gatewayUrl: gateway.url,
      issuerUrl: issuer.url,
      tokenUrl: issuer.tokenUrl,
      jwksUri: issuer.jwksUri,
      dynamoEndpoint: dynamo.endpoint,
      tableName: dynamo.tableName,
      config,
      externalIssuers: local.externalIssuers,
      ...(local.dataDir ? { dataDir: local.dataDir } : {}),
      ...(usagePlans ? { usagePlans } : {}),
      ...(local.plans ? { plans: local.plans } : {}),
      audience: local.audience,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The scopes keys and the mock issuer may grant: the route table's scopes plus the management scopes, admin included. */
function scopeCatalogFor(config: DualgateConfig): string[] {
  return scopeCatalog(DEMO_ROUTE_TABLE, [config.adminScope]);
}
