/**
 * `dualgate dev`'s engine: serve every DualAuthApi of a cloud assembly on this machine. dynalite holds the key
 * tables, the mock OIDC issuer signs tokens with the app's scope catalog, and a local gateway per API follows API
 * Gateway's rules in front of the real authorizer and key API bundles and the app's own Node.js functions, each
 * in its own worker (lib/local/function-host.ts). Nothing here is specific to the demo app.
 */
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createDynamoClient } from '../../lambdas/shared/key-store';
import type { IssuerConfig } from '../../lambdas/core/issuer-config';
import type { Plans } from '../../lambdas/core/plans';
import type { RouteRule } from '../../lambdas/core/route-table';
import { SETTING_NAMES } from '../../lambdas/core/settings';
import { PORTAL_CONFIG_VARIABLE, PORTAL_PATH, type PortalConfig } from '../../lambdas/portal/portal-config';
import { consumersBasePath, DEFAULT_MANAGEMENT_BASE_PATH } from '../../lambdas/core/route-table';
import { readCloudAssembly, type AssemblyFunction, type AssemblyIntegration } from './assembly';
import { createKeyTable, LOCAL_AWS, startLocalDynamo, type LocalDynamo } from './dynamo';
import { functionEnvironment, type EnvFile, type UnresolvedVariable } from './function-environment';
import { FunctionError, FunctionTimeoutError, HostedFunction, type FunctionOutputOrigin } from './function-host';
import {
  checkProxyResult,
  IntegrationTimeoutError,
  startGateway,
  type AccessLogSink,
  type GatewayAuthorizerOutcome,
  type ProxyHandler,
  type Route,
  type RunningGateway,
} from './gateway';
import { startLocalIssuer, type LocalIssuer } from './issuer';
import type { PortalClient } from './issuer-sign-in';
import { LOCAL_HOST } from './local-config';
import { startLocalUsagePlans, type LocalUsagePlans } from './usage-plans/local-usage-plans';

/** The public client local mode's portal signs in with (the local issuer accepts any client id). */
const LOCAL_PORTAL_CLIENT_ID = 'dualgate-portal';

/** In the --data directory, next to dynalite's files (which it leaves alone: LevelDB ignores names it did not write). */
export const ISSUER_SIGNING_KEY_FILE = 'issuer-signing-key.json';

export class DevServerError extends Error {
  override readonly name: string = 'DevServerError';
}

/** A port local mode needs is taken by another process. */
class PortInUseError extends DevServerError {
  override readonly name = 'PortInUseError';
  constructor(
    readonly component: 'gateway' | 'issuer',
    readonly port: number,
    readonly envVar: string,
  ) {
    super(`port ${port} is already in use (${component}); stop the other process or set ${envVar} to another port`);
  }
}

export interface DevServerOptions {
  assemblyDir: string;
  stack?: string;
  gatewayPort: number;
  /** The ports of an earlier server's gateways, in order (a reload keeps every URL). */
  gatewayPorts?: readonly number[];
  issuerPort: number;
  dataDir?: string;
  audience: string;
  /** Issuers trusted beside the mock one (DUALGATE_ISSUERS). */
  externalIssuers?: IssuerConfig[];
  envFile?: EnvFile;
  /** dualgate settings the user set in local mode's environment: they win over the assembly's. */
  settingOverrides?: Record<string, string>;
  authorizerCacheTtlSeconds?: number;
  stageName?: string;
  maxBodyBytes?: number;
  /** Where functions' own output (log lines) goes, with the function and request it came from; default: stdout. */
  functionOutput?: (line: string, origin: FunctionOutputOrigin) => void;
  /** Told when a function throws, times out, returns a malformed result or cannot be loaded (the client gets 502/503/504). */
  onFunctionFailure?: (failure: FunctionFailure) => void;
  /**
   * Where each function's code came from, by the code directory the assembly names (a `Code.fromAsset` directory
   * in the app, when `dualgate dev` saw the synth copy it): stack traces then name the app's files.
   */
  codeSources?: ReadonlyMap<string, string>;
  accessLog?: AccessLogSink;
  /**
   * Names besides localhost, 127.0.0.1 and [::1] that every listener answers in `Host` (`--allow-host`,
   * DUALGATE_ALLOWED_HOSTS; normalizeAllowedHost's form). Everything else is refused (lib/local/loopback-guard.ts).
   */
  allowedHosts?: readonly string[];
  /** Usernames the local issuer gives the admin scope at portal sign-in (DUALGATE_LOCAL_PORTAL_ADMINS). */
  portalAdmins?: readonly string[];
  /** Keep the key tables and issuer of an earlier server (`--watch` reloads). */
  reuse?: { dynamo: LocalDynamo; issuer: LocalIssuer };
  /** Where the leak endpoint fetches GitHub's signing keys (DUALGATE_GITHUB_KEYS_URL): a loopback key server in tests. */
  githubKeysUrl?: string;
}

/**
 * Local mode refetches GitHub's key document for an unknown identifier at most once a second (AWS: once a minute,
 * GitHub's rate limit): a developer or a test swapping keys on a loopback key server sees the change at once.
 */
const LOCAL_GITHUB_KEYS_REFETCH_INTERVAL_SECONDS = 1;

/** A function failure as the developer needs to see it (lib/local/dev-log.ts prints it). */
export interface FunctionFailure {
  /** The function's construct path (without `/Resource`), or its logical id when the assembly has no path. */
  function: string;
  logicalId: string;
  /** Whether it ran as the API's authorizer (→ 503) or as a route's integration (→ 502/504). */
  role: 'authorizer' | 'integration';
  /** The route of the request that invoked it (`POST /orders`), or what it was doing when no request did. */
  route: string;
  /** Empty when no request invoked it (a --watch reload loading new code). */
  requestId: string;
  /** threw: the handler threw or rejected; init: the module could not be loaded or its init threw. */
  kind: 'threw' | 'init' | 'timeout' | 'malformed';
  errorName: string;
  message: string;
  stack?: string;
}

/** A method the gateway serves, and what answers it. */
export interface ServedRoute {
  method: string;
  path: string;
  authorized: boolean;
  /** The scopes the route table requires (empty: any authenticated caller). */
  scopes: readonly string[];
  /** The function (construct path or logical id) or integration behind it. */
  target: string;
  /** The function's logical id, for a Lambda integration. */
  functionId?: string;
  /** A method outside dualgate's table with its own authorization (`AWS_IAM`, `COGNITO_USER_POOLS`, another authorizer). */
  foreignAuthorization?: string;
}

export interface ServedApi {
  stackName: string;
  logicalId: string;
  url: string;
  stageName: string;
  tableName: string;
  keyPrefix: string;
  authorizerCacheTtlSeconds: number;
  keyCacheTtlSeconds: number;
  /** The plans the gateway emulates, when the app has them, and their emulator. */
  plans?: { plans: Plans; defaultPlan?: string };
  usagePlans?: LocalUsagePlans;
  /** The authorized routes, as the authorizer received them. */
  routeTable: readonly RouteRule[];
  /** Every method served, with its scopes and what answers it. */
  routes: ServedRoute[];
  /** Methods answered with 501, with why. */
  notServed: { method: string; path: string; why: string }[];
  /** The developer portal's URL, when the app has one (`portal` on DualAuthApi). */
  portalUrl?: string;
  /** POST <path> takes GitHub secret-scanning reports, when the app has leak detection on. */
  leakDetection?: { path: string; githubKeysUrl: string; action: string };
  catalog: readonly string[];
}

export interface DevServer {
  apis: ServedApi[];
  issuer: LocalIssuer;
  dynamo: LocalDynamo;
  unresolved: UnresolvedVariable[];
  /** APIs in the assembly that are not DualAuthApis (served by nothing). */
  skippedApis: string[];
  /**
   * Serve new code for one function (a `--watch` reload of its code alone): every API that uses it starts fresh
   * environments from `codeDir`; `sourceDir` is where that code came from (see `codeSources`). Returns the
   * function's display name, or undefined when no served function has that logical id.
   */
  replaceFunctionCode(logicalId: string, codeDir: string, sourceDir?: string): Promise<string | undefined>;
  /** Stop the gateways and functions; `keepData` leaves dynalite and the issuer running (for a reload). */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** How logs name a function: its construct path without the `/Resource` CloudFormation adds, else its logical id. */
export function functionLabel(fn: Pick<AssemblyFunction, 'logicalId' | 'path'>): string {
  return fn.path?.replace(/\/Resource$/, '') ?? fn.logicalId;
}

function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

/** The environment every local function gets, as Lambda sets it, with local stand-ins. */
function lambdaRuntimeEnv(fn: AssemblyFunction): Record<string, string> {
  return {
    AWS_REGION: LOCAL_AWS.region,
    AWS_DEFAULT_REGION: LOCAL_AWS.region,
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TZ: 'UTC',
  };
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const assembly = readCloudAssembly(options.assemblyDir, options.stack ? { stack: options.stack } : {});
  const dualApis = assembly.apis.filter((api) => api.authorizer && assembly.functions.get(api.authorizer.functionId)?.dualgateConfig);
  const skippedApis = assembly.apis.filter((api) => !dualApis.includes(api)).map((api) => `${api.stackName}/${api.logicalId}`);
  if (dualApis.length === 0)
    throw new DevServerError(
      `no DualAuthApi in ${options.assemblyDir}${options.stack ? ` (stack ${options.stack})` : ''}: nothing to serve`,
    );

  // What serving needs (gateways, function workers), and what holds data (dynalite, the issuer's key).
  const stops: (() => Promise<void>)[] = [];
  const dataStops: (() => Promise<void>)[] = [];
  const run = async (list: (() => Promise<void>)[]) => {
    for (const stop of list.splice(0).reverse()) await stop().catch(() => undefined);
  };
  const stopAll = async () => {
    await run(stops);
    await run(dataStops);
  };
  const allowedHosts = options.allowedHosts ? { allowedHosts: options.allowedHosts } : {};
  try {
    const tableNames = dualApis.map((_, index) => (index === 0 ? 'dualgate-keys' : `dualgate-keys-${index + 1}`));
    let dynamo = options.reuse?.dynamo;
    if (!dynamo) {
      dynamo = await startLocalDynamo({
        host: LOCAL_HOST,
        tableName: tableNames[0] as string,
        ...allowedHosts,
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      });
      const started = dynamo;
      dataStops.push(() => started.stop());
      const client = createDynamoClient({ endpoint: dynamo.endpoint });
      for (const tableName of tableNames.slice(1))
        await createKeyTable(client, tableName).catch((error: Error) =>
          error.name === 'ResourceInUseException' ? undefined : Promise.reject(error),
        );
    }
    const catalog = [
      ...new Set(dualApis.flatMap((api) => assembly.functions.get(api.authorizer!.functionId)!.dualgateConfig!.catalog)),
    ].sort();
    let issuer = options.reuse?.issuer;
    if (!issuer) {
      try {
        issuer = await startLocalIssuer({
          host: LOCAL_HOST,
          port: options.issuerPort,
          audience: options.audience,
          scopeCatalog: catalog,
          ...allowedHosts,
          // Beside the key table, so a token saved before a restart with the same --data still verifies.
          ...(options.dataDir ? { signingKeyFile: join(options.dataDir, ISSUER_SIGNING_KEY_FILE) } : {}),
        });
      } catch (error) {
        throw isAddressInUse(error) ? new PortInUseError('issuer', options.issuerPort, 'ISSUER_PORT') : error;
      }
      const started = issuer;
      dataStops.push(() => started.stop());
    } else issuer.setScopeCatalog(catalog);
    const issuers: IssuerConfig[] = [
      { issuer: issuer.url, audience: [options.audience], jwksUri: issuer.jwksUri },
      ...(options.externalIssuers ?? []),
    ];

    const unresolved: UnresolvedVariable[] = [];
    const apis: ServedApi[] = [];
    /** The local issuer's interactive clients: each served portal, with what its page asks for. */
    const portalClients: PortalClient[] = [];
    const hosts: HostedFunction[] = [];
    const hostsById = new Map<string, HostedFunction[]>();
    const report = options.onFunctionFailure ?? (() => undefined);
    const usagePlans = new Map<number, LocalUsagePlans>();
    stops.push(async () => {
      await Promise.all(hosts.map((host) => host.stop()));
    });
    for (const [index, api] of dualApis.entries()) {
      const tableName = tableNames[index] as string;
      // dualgate's own settings are never left unresolved: the local table, the local issuer, dynalite.
      const dualgateOverrides: Record<string, string> = {
        [SETTING_NAMES.tableName]: tableName,
        [SETTING_NAMES.issuers]: JSON.stringify(issuers),
        [SETTING_NAMES.dynamoEndpoint]: dynamo.endpoint,
        [SETTING_NAMES.allowHttpIssuers]: 'true',
        AWS_ACCESS_KEY_ID: LOCAL_AWS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS.secretAccessKey,
        ...(options.settingOverrides ?? {}),
      };
      // The leak endpoint: the key document local mode was pointed at, a short refetch interval, and no SNS (a topic
      // exists only in AWS; the audit line in the output says what would have been published).
      const leakOverrides: Record<string, string> = {
        ...dualgateOverrides,
        [SETTING_NAMES.githubKeysRefetchIntervalSeconds]: String(LOCAL_GITHUB_KEYS_REFETCH_INTERVAL_SECONDS),
        [SETTING_NAMES.leakTopicArn]: '',
        ...(options.githubKeysUrl ? { [SETTING_NAMES.githubKeysUrl]: options.githubKeysUrl } : {}),
        ...(options.settingOverrides ?? {}),
      };
      // Usage plans, when the app configured them: the emulator the gateway checks, and the control plane the key
      // API's API Gateway client talks to (as dynalite stands in for DynamoDB).
      const planConfig = assembly.functions.get(api.authorizer!.functionId)!.dualgateConfig!.plans;
      if (planConfig) {
        const usage = await startLocalUsagePlans({
          ...planConfig,
          host: LOCAL_HOST,
          ...allowedHosts,
          ...(options.dataDir ? { dataDir: join(options.dataDir, index === 0 ? '.' : `api-${index + 1}`) } : {}),
        });
        stops.push(usage.stop);
        usagePlans.set(index, usage);
        dualgateOverrides[SETTING_NAMES.plans] = JSON.stringify(usage.runtimePlans);
        dualgateOverrides[SETTING_NAMES.apiGatewayEndpoint] = usage.endpoint;
      }
      // The portal signs in against the local issuer, whatever the app configured for AWS (Cognito or an OIDC issuer).
      const authorizerConfig = assembly.functions.get(api.authorizer!.functionId)!;
      const keysPath = authorizerConfig.dualgateConfig!.managementBasePath ?? DEFAULT_MANAGEMENT_BASE_PATH;
      const localAdminScope =
        typeof authorizerConfig.environment[SETTING_NAMES.adminScope] === 'string'
          ? (authorizerConfig.environment[SETTING_NAMES.adminScope] as string)
          : 'keys:admin';
      const localPortal: PortalConfig = {
        issuer: issuer.url,
        clientId: LOCAL_PORTAL_CLIENT_ID,
        // Given, so the portal function needs no discovery (and the CSP names the issuer's origin for /token).
        authorizationEndpoint: `${issuer.url}/authorize`,
        tokenEndpoint: `${issuer.url}/token`,
        // The admin scope too when some usernames are to get it (the issuer grants it to those alone).
        scopes: ['openid', 'keys:read', 'keys:write', ...(options.portalAdmins?.length ? [localAdminScope] : [])],
        keysPath,
        consumersPath: consumersBasePath(keysPath),
        adminScope: localAdminScope,
        plans: planConfig !== undefined,
      };
      const portalOverrides: Record<string, string> = { [PORTAL_CONFIG_VARIABLE]: JSON.stringify(localPortal) };
      const hostFor = new Map<string, HostedFunction>();
      const host = (functionId: string): HostedFunction => {
        const existing = hostFor.get(functionId);
        if (existing) return existing;
        const fn = assembly.functions.get(functionId) as AssemblyFunction;
        const overrides =
          fn.dualgateRole === 'leaks'
            ? leakOverrides
            : fn.dualgateRole === 'portal'
              ? portalOverrides
              : fn.dualgateRole
                ? dualgateOverrides
                : {};
        const { env, unresolved: missing } = functionEnvironment(fn, assembly, options.envFile, overrides);
        unresolved.push(...missing);
        const sourceDir = fn.codeDir ? options.codeSources?.get(fn.codeDir) : undefined;
        const hosted = new HostedFunction({
          name: fn.logicalId,
          label: functionLabel(fn),
          ...(fn.dualgateRole ? { dualgate: true } : {}),
          ...(fn.codeDir ? { codeDir: fn.codeDir } : { inlineCode: fn.inlineCode ?? '' }),
          ...(sourceDir ? { sourceDir } : {}),
          handler: fn.handler,
          timeoutSeconds: fn.timeoutSeconds,
          memoryMb: fn.memoryMb,
          env: { ...lambdaRuntimeEnv(fn), ...env },
          ...(options.functionOutput ? { output: options.functionOutput } : {}),
        });
        hostFor.set(functionId, hosted);
        hosts.push(hosted);
        hostsById.set(functionId, [...(hostsById.get(functionId) ?? []), hosted]);
        return hosted;
      };
      const authorizerFn = assembly.functions.get(api.authorizer!.functionId)!;
      const authorizerHost = host(authorizerFn.logicalId);
      const routes: Route[] = api.methods.map((method) => ({
        method: method.method,
        path: method.path,
        scopes: [],
        authorized: method.authorized,
        handler: method.logicalId,
      }));
      const handlers = new Map<string, ProxyHandler>();
      const notServed: ServedApi['notServed'] = [];
      const servedRoutes: ServedRoute[] = [];
      const routeTable = authorizerFn.dualgateConfig!.routeTable.routes;
      for (const method of api.methods) {
        if (method.integration.kind === 'lambda') host(method.integration.functionId);
        if (method.integration.kind === 'unsupported')
          notServed.push({ method: method.method, path: method.path, why: method.integration.description });
        handlers.set(method.logicalId, proxyHandlerFor(method.method, method.path, method.integration, host, report));
        const rule = routeTable.find((candidate) => candidate.method === method.method && candidate.path === method.path);
        servedRoutes.push({
          method: method.method,
          path: method.path,
          authorized: method.authorized,
          scopes: rule?.scopes ?? [],
          target: describeIntegration(method.integration, assembly.functions),
          ...(method.integration.kind === 'lambda' ? { functionId: method.integration.functionId } : {}),
          ...(method.foreignAuthorization ? { foreignAuthorization: method.foreignAuthorization } : {}),
        });
      }
      const authorizerTtl = options.authorizerCacheTtlSeconds ?? api.authorizer!.ttlSeconds;
      const stageName = options.stageName ?? api.stageName;
      const port = options.gatewayPorts?.[index] ?? (options.gatewayPort === 0 ? 0 : options.gatewayPort + index);
      let gateway: RunningGateway;
      try {
        gateway = await startGateway({
          host: LOCAL_HOST,
          port,
          ...allowedHosts,
          routes,
          authorize: (event) => authorizeWith(authorizerHost, event, report),
          loadHandler: async (name) =>
            handlers.get(name) ?? (() => ({ statusCode: 501, body: JSON.stringify({ message: `${name} is not served locally` }) })),
          stageName,
          authorizerCacheTtlSeconds: authorizerTtl,
          // The cache key API Gateway would use: every identity source the template names, context.* included.
          identitySources: api
            .authorizer!.identitySource.split(',')
            .map((source) => source.trim())
            .filter((source) => source.length > 0),
          ...(usagePlans.has(index) ? { usagePlans: usagePlans.get(index)!.emulator } : {}),
          ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
          ...(options.accessLog ? { accessLog: options.accessLog } : {}),
        });
      } catch (error) {
        throw isAddressInUse(error) ? new PortInUseError('gateway', port, 'PORT') : error;
      }
      stops.push(gateway.close);
      const settings = {
        ...Object.fromEntries(
          Object.entries(authorizerFn.environment).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
        ),
        ...dualgateOverrides,
      };
      const portalMethod = api.methods.find(
        (method) =>
          method.path === PORTAL_PATH &&
          method.integration.kind === 'lambda' &&
          assembly.functions.get(method.integration.functionId)?.dualgateRole === 'portal',
      );
      const leakMethod = api.methods.find(
        (method) => method.integration.kind === 'lambda' && assembly.functions.get(method.integration.functionId)?.dualgateRole === 'leaks',
      );
      const leakFn = leakMethod?.integration.kind === 'lambda' ? assembly.functions.get(leakMethod.integration.functionId) : undefined;
      const leakSetting = (name: string) =>
        leakOverrides[name] ?? (typeof leakFn?.environment[name] === 'string' ? (leakFn.environment[name] as string) : undefined);
      if (portalMethod) {
        portalClients.push({
          clientId: LOCAL_PORTAL_CLIENT_ID,
          redirectUris: portalUrls(`${gateway.url}${PORTAL_PATH}/`),
          scopes: localPortal.scopes,
          adminScope: localAdminScope,
          admins: [...(options.portalAdmins ?? [])],
        });
      }
      apis.push({
        stackName: api.stackName,
        logicalId: api.logicalId,
        url: gateway.url,
        stageName,
        tableName,
        keyPrefix: settings[SETTING_NAMES.keyPrefix] ?? 'dg',
        authorizerCacheTtlSeconds: authorizerTtl,
        keyCacheTtlSeconds: Number(settings[SETTING_NAMES.keyCacheTtlSeconds] ?? 30),
        routes: servedRoutes,
        notServed,
        ...(portalMethod ? { portalUrl: `${gateway.url}${PORTAL_PATH}/` } : {}),
        ...(leakMethod
          ? {
              leakDetection: {
                path: leakMethod.path,
                githubKeysUrl: leakSetting(SETTING_NAMES.githubKeysUrl) ?? 'GitHub',
                action: leakSetting(SETTING_NAMES.leakAction) ?? 'revoke',
              },
            }
          : {}),
        catalog: authorizerFn.dualgateConfig!.catalog,
        ...(planConfig ? { plans: planConfig } : {}),
        ...(usagePlans.has(index) ? { usagePlans: usagePlans.get(index)! } : {}),
        routeTable: authorizerFn.dualgateConfig!.routeTable.routes,
      });
      // Run its init now (route table, settings, verifier), so the first request is not a cold start. As in an
      // on-demand Lambda, the JWKS still waits for the first JWT, and the SDK for the first key.
      await authorizerHost.warm().catch(() => undefined);
    }
    // Sign-in may come back to, and be completed from, each portal's origin (as the browser may spell it).
    issuer.setPortals(portalClients.filter((client) => client.redirectUris.length > 0));
    const servedDynamo = dynamo;
    const servedIssuer = issuer;
    return {
      apis,
      issuer: servedIssuer,
      dynamo: servedDynamo,
      unresolved,
      skippedApis,
      replaceFunctionCode: async (logicalId, codeDir, sourceDir) => {
        const replaced = hostsById.get(logicalId) ?? [];
        for (const hosted of replaced) hosted.replaceCode(codeDir, sourceDir);
        // A cold start now, not on the next request: a module that no longer loads is reported straight away.
        const failures = await Promise.all(
          replaced.map((hosted) =>
            hosted.warm().then(
              () => undefined,
              (error: unknown) => failureOf(error, hosted, 'integration', 'loading its new code', ''),
            ),
          ),
        );
        const failure = failures.find((candidate) => candidate !== undefined);
        if (failure) report(failure);
        return replaced[0]?.label;
      },
      // With keepData, gateways and functions only: the key tables and the issuer (every key and token) stay.
      stop: async ({ keepData } = {}) => (keepData ? run(stops) : stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** A portal's URL under each loopback name a browser may use for it. */
function portalUrls(portalUrl: string): string[] {
  const url = new URL(portalUrl);
  return ['127.0.0.1', 'localhost', '[::1]'].map((host) => `http://${host}:${url.port}${url.pathname}`);
}

/** The authorizer Lambda's answer in the gateway's terms: a response, `Unauthorized` (401), or a failure (503). */
async function authorizeWith(
  host: HostedFunction,
  event: APIGatewayRequestAuthorizerEvent,
  report: (failure: FunctionFailure) => void,
): Promise<GatewayAuthorizerOutcome> {
  // The gateway's request id: the authorizer's log lines are shown under the request they decided.
  const requestId = event.requestContext?.requestId;
  try {
    const response = (await host.invoke(event, requestId)) as { principalId?: unknown; policyDocument?: unknown; context?: unknown } | null;
    return { effect: 'allow', response: response ?? {} };
  } catch (error) {
    if (error instanceof FunctionError && error.message === 'Unauthorized') return { effect: 'unauthorized' };
    report(failureOf(error, host, 'authorizer', `${event.httpMethod} ${event.resource}`, requestId ?? ''));
    return { effect: 'fail' };
  }
}

function failureOf(error: unknown, host: HostedFunction, role: FunctionFailure['role'], route: string, requestId: string): FunctionFailure {
  const about = { function: host.label, logicalId: host.spec.name, role, route, requestId };
  if (error instanceof FunctionTimeoutError)
    return {
      ...about,
      kind: 'timeout',
      errorName: 'Sandbox.Timedout',
      message: `Task timed out after ${error.timeoutSeconds.toFixed(2)} seconds`,
    };
  if (error instanceof FunctionError)
    return {
      ...about,
      kind: error.phase === 'init' ? 'init' : 'threw',
      errorName: error.errorName,
      message: error.message,
      ...(error.errorStack ? { stack: error.errorStack } : {}),
    };
  const unexpected = error instanceof Error ? error : new Error(String(error));
  return {
    ...about,
    kind: 'threw',
    errorName: unexpected.name,
    message: unexpected.message,
    ...(unexpected.stack ? { stack: unexpected.stack } : {}),
  };
}

/** What answers a method, for the banner: the function's name, or the integration. */
function describeIntegration(integration: AssemblyIntegration, functions: ReadonlyMap<string, AssemblyFunction>): string {
  switch (integration.kind) {
    case 'lambda': {
      const fn = functions.get(integration.functionId);
      const label = fn ? functionLabel(fn) : integration.functionId;
      return fn?.dualgateRole === 'keys'
        ? `${label} (dualgate key API)`
        : fn?.dualgateRole === 'portal'
          ? `${label} (dualgate developer portal)`
          : label;
    }
    case 'http':
      return `HTTP proxy ${integration.httpMethod} ${integration.uri}`;
    case 'mock':
      return `MOCK ${integration.statusCode}`;
    case 'unsupported':
      return `not served locally (501): ${integration.description}`;
  }
}

function proxyHandlerFor(
  method: string,
  path: string,
  integration: AssemblyIntegration,
  host: (functionId: string) => HostedFunction,
  report: (failure: FunctionFailure) => void,
): ProxyHandler {
  switch (integration.kind) {
    case 'lambda': {
      const hosted = host(integration.functionId);
      const route = `${method} ${path}`;
      return async (event) => {
        const requestId = event.requestContext.requestId;
        let result: unknown;
        try {
          result = await hosted.invoke(event, requestId);
        } catch (error) {
          report(failureOf(error, hosted, 'integration', route, requestId));
          // Past the function's own timeout: the gateway answers 504, as for its integration timeout.
          if (error instanceof FunctionTimeoutError) throw new IntegrationTimeoutError();
          throw error;
        }
        // The gateway answers a malformed result with 502; the developer is told why.
        const checked = checkProxyResult(result);
        if (!checked.ok)
          report({
            function: hosted.label,
            logicalId: hosted.spec.name,
            role: 'integration',
            route,
            requestId,
            kind: 'malformed',
            errorName: 'MalformedProxyResult',
            message: `${checked.problem}; it returned ${preview(result)}`,
          });
        return result;
      };
    }
    case 'http':
      return (event) => forwardHttp(integration.uri, integration.httpMethod, event);
    case 'mock':
      return () => ({
        statusCode: integration.statusCode,
        headers: { 'content-type': 'application/json', ...integration.headers },
        body: integration.body,
      });
    case 'unsupported':
      return () => ({
        statusCode: 501,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: `${method} ${path} is not served locally: ${integration.description}` }),
      });
  }
}

/** A returned value in a line or so. */
function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Whether `{name}` is the resource's greedy `{name+}` parameter (its value may hold `/`). */
function isGreedyParameter(resource: string, name: string): boolean {
  return resource.includes(`{${name}+}`);
}

/** An HTTP proxy integration: the request, path parameters substituted into the URI, forwarded as is. */
async function forwardHttp(uri: string, httpMethod: string, event: APIGatewayProxyEvent): Promise<unknown> {
  // A parameter must stay inside the path the integration URI names: a `.` or `..` segment would climb out of it
  // (URL parsers resolve them, `%2E%2E` included), so such a request is refused; other segments are encoded.
  const values = Object.values(event.pathParameters ?? {}).flatMap((value) => (value ?? '').split('/'));
  if (values.some((segment) => segment === '.' || segment === '..')) {
    return {
      statusCode: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'a path parameter holds a "." or ".." segment' }),
    };
  }
  const substituted = uri.replace(/\{([^}+]+)(\+?)\}/g, (_, name: string, greedy: string) => {
    const value = event.pathParameters?.[name] ?? '';
    return greedy || isGreedyParameter(event.resource, name)
      ? value.split('/').map(encodeURIComponent).join('/')
      : encodeURIComponent(value);
  });
  const target = new URL(substituted);
  if (target.origin !== new URL(uri.replace(/\{[^}]+\}/g, 'x')).origin)
    throw new Error(`the HTTP integration's host cannot come from a path parameter (${uri})`);
  for (const [name, values] of Object.entries(event.multiValueQueryStringParameters ?? {}))
    for (const value of values ?? []) target.searchParams.append(name, value);
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {}))
    if (value !== undefined && !/^(host|connection|content-length)$/i.test(name)) headers.set(name, value);
  const method = httpMethod === 'ANY' ? event.httpMethod : httpMethod;
  const response = await fetch(target, {
    method,
    headers,
    ...(event.body !== null && !['GET', 'HEAD'].includes(method) ? { body: event.body } : {}),
    redirect: 'manual',
    signal: AbortSignal.timeout(29_000),
  });
  const body = Buffer.from(await response.arrayBuffer());
  const responseHeaders: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!/^(content-length|transfer-encoding|connection|content-encoding)$/i.test(name)) responseHeaders[name] = value;
  });
  return { statusCode: response.status, headers: responseHeaders, body: body.toString('utf8') };
}
