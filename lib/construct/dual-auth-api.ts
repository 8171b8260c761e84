/**
 * DualAuthApi: a REST API whose methods sit behind one Lambda REQUEST authorizer that accepts an API key or a
 * JWT, plus the key table, the (optional) Cognito issuer and the key management API. The app brings its own
 * routes and Lambdas (`routes`, `addRoute`); the route table reaches the authorizer and the key API as data in
 * their code assets, compiled and checked at synth.
 *
 * The parts live in their own files and are composed here: KeyTable (key-table.ts), CognitoIssuer
 * (cognito-issuer.ts), DualgateAuthorizer (authorizer.ts), KeyApi (key-api.ts), DualgatePlans (plans.ts) and
 * DualAuthApiMonitoring (monitoring.ts). This file keeps the props, the RestApi and the route table.
 */
import {
  Annotations,
  Aspects,
  AspectPriority,
  CfnOutput,
  CfnResource,
  Duration,
  Lazy,
  NestedStack,
  RemovalPolicy,
  Stack,
  type IAspect,
} from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, type IConstruct } from 'constructs';
import { compileRouteTable } from '../../lambdas/core/policy-compiler';
import type { IssuerConfig, OidcIssuer } from '../../lambdas/core/issuer-config';
import { LEAK_ACTIONS, LEAK_MARK_ATTRIBUTES, LEAK_REVOKE_ATTRIBUTES, type LeakAction } from '../../lambdas/leaks/leak-model';
import { DEFAULT_LEAK_SETTINGS, githubKeysUrlProblem } from '../../lambdas/leaks/leak-settings';
import { SETTING_NAMES } from '../../lambdas/core/settings';
import type { RuntimeRouteConfig } from '../../lambdas/core/route-config';
import {
  AUTHORIZER_CACHE_SCOPES,
  KEY_SCOPES,
  RouteTableError,
  scopeCatalog,
  SCOPE_PATTERN,
  type AuthorizerCacheScope,
  type RouteMethod,
  type RouteRule,
} from '../../lambdas/core/route-table';
import { assertRouteDeclaration } from '../../lambdas/core/route-validation';
import type { LambdaBundleName } from '../build/bundling';
import { CONFIG_KEYS, DualgateConfigError, resolveConfig, runtimeEnvironment, type DualgateConfig } from './config';
import { GATEWAY_RESPONSES, gatewayResponseHeaderValues, gatewayResponseTemplate } from './gateway-responses';
import { DualgatePlans, plansFromProps } from './plans';
import type { Plans } from '../../lambdas/core/plans';
import { consumersBasePath } from '../../lambdas/core/route-table';
import { PORTAL_CONFIG_VARIABLE, PORTAL_PATH } from '../../lambdas/portal/portal-config';
import { DualAuthApiMonitoring, monitoringOptions, type DualAuthApiMonitoringOptions } from './monitoring';
import { DualgateAuthorizer } from './authorizer';
import { CognitoIssuer, COGNITO_MAX_RESOURCE_SERVER_SCOPES, PORTAL_TOKEN_SCOPES, type PortalSignIn } from './cognito-issuer';
import { dualgateFunction, type DeferredAssetCode } from './dualgate-function';
import { KeyApi, keyApiBasePath } from './key-api';
import { KeyTable } from './key-table';
import {
  API_GATEWAY_RESOURCES_PER_API,
  AUTO_NEST_THRESHOLD,
  apiGatewayResourceCount,
  inlineSize,
  placeRoutes,
  type PlacedRoute,
  type RoutePlacement,
} from './route-stacks';

export { RESOURCE_SERVER_ID } from './cognito-issuer';

/** One method of the API, as the app declares it. */
export interface DualAuthRoute {
  /** `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`, `OPTIONS` or `ANY`. */
  readonly method: RouteMethod;
  /** Resource path: `{param}` is one segment, a final `{name+}` one or more (greedy). */
  readonly path: string;
  /** Every scope listed is required. Default `[]`: any authenticated caller. */
  readonly scopes?: readonly string[];
  /** The Lambda function serving the route (any function: its own role, runtime, VPC, environment)… */
  readonly handler?: lambda.IFunction;
  /** …or any API Gateway integration. Exactly one of `handler` and `integration`. */
  readonly integration?: apigateway.Integration;
  /** `false` for an open route: no credential, no authorizer. Default `true`. */
  readonly authorized?: boolean;
}

/** GitHub secret scanning (`leakDetection`): where reports arrive and what a reported live key comes to. */
export interface LeakDetectionOptions {
  /** Where GitHub posts reports (register `<ApiUrl><path>` with GitHub). Default `/leaks/github`. */
  readonly path?: string;
  /**
   * What a report of a live key does: `revoke` (default) revokes it at once, reason `leaked`, with the report's URL;
   * `notify` only records the leak on the key and publishes it (the key keeps working until someone acts).
   */
  readonly action?: LeakAction;
  /** Every acted-on leak is published here (JSON: key id, start, name, owner, URL, action). Default: none. */
  readonly topic?: sns.ITopic;
  /**
   * GitHub's key document. Default https://api.github.com/meta/public_keys/secret_scanning; GitHub Enterprise Server:
   * `https://<host>/api/v3/meta/public_keys/secret_scanning`. https only (local mode reads DUALGATE_GITHUB_KEYS_URL).
   */
  readonly githubKeysUrl?: string;
}

/**
 * What `DualAuthApi` takes. Every prop is optional; every value is checked at synth, and a bad one stops it with an
 * error naming the prop (`keyCacheTtlSeconds must be …`).
 */
export interface DualAuthApiProps extends Partial<Omit<DualgateConfig, 'issuers' | 'logLevel'>> {
  /** The app's routes; more can be added with `addRoute`. */
  readonly routes?: readonly DualAuthRoute[];
  /** Scopes keys and tokens may carry although no route requires them yet. */
  readonly extraScopes?: readonly string[];
  /** The key management API: on at `/keys` by default; `{ basePath }` moves it, `false` leaves it out. */
  readonly managementApi?:
    | boolean
    | {
        /** Where the key API is mounted. Default `/keys`. */
        readonly basePath?: string;
      };
  /**
   * The OIDC issuers whose access tokens the authorizer accepts, beside dualgate's API keys. Without them (and
   * unless `cognito: false`), the construct creates a Cognito user pool and trusts it. Each entry needs an
   * `audience` (or `clientIds`); see {@link OidcIssuer} for every field. Checked at synth: a bad entry stops it
   * with an error naming the field (`issuers[0].issuer must be an https URL`).
   *
   * @example
   * // Okta, Auth0, Entra ID, Keycloak: the issuer and your API's audience; the keys are found by OIDC discovery
   * issuers: [{ issuer: 'https://dev-123.okta.com/oauth2/default', audience: 'api://orders' }]
   *
   * @example
   * // A Cognito user pool you already have: its access tokens carry `client_id` and no `aud`,
   * // and scopes as `<resource-server-id>/<scope>`
   * issuers: [{
   *   issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
   *   clientIds: ['4h2k…'],
   *   scopePrefix: 'orders/',
   *   requireTokenUseClaim: true,
   * }],
   * cognito: false,
   *
   * @example
   * // Pin where the keys are (no discovery round trip at cold start) and demand RFC 9068 access tokens
   * issuers: [{
   *   issuer: 'https://auth.example.com/',
   *   audience: ['https://api.example.com'],
   *   jwksUri: 'https://auth.example.com/.well-known/jwks.json',
   *   requireAccessTokenType: true,
   * }]
   */
  readonly issuers?: readonly OidcIssuer[];
  /** dualgate's own Lambdas' log level (`WARN` keeps failures and stale-if-error allows only). Default `INFO`. */
  readonly logLevel?: DualgateConfig['logLevel'];
  /**
   * Per-consumer rate limits and quotas (API Gateway usage plans): `{ free: { rateLimitPerSecond, burstLimit,
   * quota?: { limit, period: 'DAY' | 'WEEK' | 'MONTH' } } }`. Leave out for none (nothing about plans is created).
   */
  readonly plans?: Plans;
  /** The plan of consumers without one of their own (they share one bucket). Without it: only the stage throttle. */
  readonly defaultPlan?: string;
  /**
   * Alarms, a dashboard and a saved Logs Insights query (lib/construct/monitoring.ts): on by default; pass
   * `{ alarmTopic }` or `{ alarmActions }` to be notified, or `false` to leave them out.
   */
  readonly monitoring?: boolean | DualAuthApiMonitoringOptions;
  /**
   * What one cached authorizer result covers, trading authorizer calls against what the decision rests on:
   * - `'route'` (default): one result per credential and route. The authorizer decides on the route API Gateway
   *   selected (the event's resource and method), so every table API Gateway accepts is authorized exactly; a
   *   credential used on N routes costs up to N authorizer calls per `authorizerCacheTtlSeconds`.
   * - `'credential'`: one result per credential for every route, an IAM policy whose wildcards must reproduce API
   *   Gateway's routing under every spelling of the method ARN. Fewer authorizer calls; tables it cannot make safe
   *   are refused at synth, naming the routes (SECURITY.md, "The credential cache scope").
   */
  readonly authorizerCacheScope?: AuthorizerCacheScope;
  /**
   * GitHub secret-scanning reports at `POST /leaks/github` (docs/leak-detection.md): on whenever the key management
   * API is on. `{ path, action, topic, githubKeysUrl }` moves or configures it, `false` leaves it out, and `true` (or
   * options) turns it on without the management API. The route is open in API Gateway (GitHub sends no dualgate
   * credential); the function checks GitHub's ECDSA signature before it reads the report.
   */
  readonly leakDetection?: boolean | LeakDetectionOptions;
  /**
   * Put dualgate on a REST API the app already has (docs/existing-api.md): a `RestApi` created in the same stack (it
   * publishes on its own deployment stage; leave `stageName` out), or one imported with
   * `RestApi.fromRestApiAttributes(scope, id, { restApiId, rootResourceId })`, which requires `stageName`: its
   * existing stage, which dualgate's deployment updates. A `SpecRestApi`, or a `RestApi` of another stack, is refused.
   * Default: dualgate creates one.
   */
  readonly restApi?: apigateway.IRestApi;
  /**
   * Methods of the API that dualgate does not manage and that are deliberately open (AuthorizationType NONE), as
   * `'GET /health'`. Any other method outside the route table must carry its own authorization (IAM, Cognito or
   * another authorizer), or the synth fails naming it.
   */
  readonly openMethods?: readonly string[];
  /**
   * Where the routes' API Gateway resources and methods go (docs/large-apis.md): `'auto'` (default) puts them into
   * nested stacks when keeping them in the API's stack would take it past 450 CloudFormation resources (everything
   * the stack holds counted), `true` always, `false` never (the API's own stack, which CloudFormation caps at 500
   * resources). An API already deployed cannot move its resources between the two in one deployment: pin `true`
   * early for an API that will grow.
   */
  readonly nestedStacks?: boolean | 'auto';
  /**
   * The self-serve developer portal at `GET /portal/` and consumer entitlements (docs/portal.md):
   * `{ defaultScopes: ['read:orders'] }` turns it on. Needs the key management API.
   */
  readonly portal?: PortalOptions;
}

/** The OIDC issuer and public client the portal signs in with, instead of the stack's Cognito user pool. */
export interface PortalOidcOptions {
  /** The issuer URL: one of `issuers` (the authorizer must trust the portal's tokens); its endpoints are found by discovery. */
  readonly issuer: string;
  /** The public client (no secret) registered for the portal, with the portal URL as redirect URI. */
  readonly clientId: string;
  /** What the portal asks for. Default: `openid` and the key API's scopes (`keys:read`, `keys:write`) with the issuer's `scopePrefix`. */
  readonly scopes?: readonly string[];
  /**
   * The issuer's authorization endpoint (https). Give it with `tokenEndpoint`, or neither: the portal function then
   * finds both by OIDC discovery at cold start and answers 503 with an error page while discovery fails.
   */
  readonly authorizationEndpoint?: string;
  /** The issuer's token endpoint (https); its origin is the one the page's CSP lets it fetch beside its own. */
  readonly tokenEndpoint?: string;
}

/** The self-serve developer portal and the entitlements it grants within (docs/portal.md). */
export interface PortalOptions {
  /** Scopes every signed-in consumer is entitled to put on its own keys. Each must be in the scope catalog. Default `[]`. */
  readonly defaultScopes?: readonly string[];
  /** Serve the page at `GET /portal/` (default `true`); `false` keeps entitlements without the page. */
  readonly page?: boolean;
  /**
   * Sign in against this OIDC issuer instead of the stack's Cognito user pool: one of `issuers`, its endpoints given
   * or found by discovery when the portal function starts, with a public client (no secret) whose redirect URI is the portal URL. `scopes` default: `openid` and the key
   * API's scopes, with the issuer's `scopePrefix`.
   */
  readonly oidc?: PortalOidcOptions;
  /** More sign-in callback URLs for the Cognito client (the portal behind a custom domain). */
  readonly callbackUrls?: readonly string[];
}

/** The access log line: one JSON object per request, with the caller's identity as the authorizer saw it. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  method: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  responseLatencyMs: '$context.responseLatency',
  sub: '$context.authorizer.sub',
  authMethod: '$context.authorizer.authMethod',
  keyId: '$context.authorizer.keyId',
  authorizerStatus: '$context.authorizer.status',
  authorizerLatencyMs: '$context.authorizer.latency',
  authorizerError: '$context.authorizer.error',
  errorType: '$context.error.responseType',
};

const ROUTE_FIELDS: readonly string[] = ['method', 'path', 'scopes', 'handler', 'integration', 'authorized'];
const CONSTRUCT_PROPS = [
  'routes',
  'extraScopes',
  'managementApi',
  'plans',
  'defaultPlan',
  'monitoring',
  'authorizerCacheScope',
  'leakDetection',
  'restApi',
  'openMethods',
  'nestedStacks',
  'portal',
] as const;
const PORTAL_FIELDS: readonly string[] = ['defaultScopes', 'page', 'oidc', 'callbackUrls'];
const LEAK_DETECTION_FIELDS: readonly string[] = ['path', 'action', 'topic', 'githubKeysUrl'];
const DEFAULT_LEAK_DETECTION_PATH = '/leaks/github';
/**
 * Under API Gateway's 29 s integration timeout. A 5,000-match report of live keys is 10,000 table calls at 16 in flight:
 * a few seconds on DynamoDB. Were one ever cut short, GitHub's retry finishes it (handled keys cost one read each).
 */
const LEAK_FUNCTION_TIMEOUT_SECONDS = 25;

/**
 * An API Gateway REST API whose routes accept a dualgate API key or a JWT in `Authorization: Bearer …`, through
 * one Lambda REQUEST authorizer, with the key table, the key management API (`/keys`), gateway responses, an access
 * log, and (by default) a Cognito user pool, alarms and a dashboard.
 *
 * Each route names the scopes it requires; the authorizer allows a request only on a route of this table whose
 * scopes the caller holds, and hands the backend the same context `{sub, scopes}` for either credential (read it
 * with `principalFrom` from `dualgate/context`). Every mistake in the table stops the synth with an error naming
 * the route.
 *
 * @example
 * import { DualAuthApi } from 'dualgate';
 *
 * const gate = new DualAuthApi(this, 'Gate', {
 *   routes: [
 *     { method: 'GET', path: '/orders', scopes: ['read:orders'], handler: listOrders },
 *     { method: 'GET', path: '/status', authorized: false, handler: status },
 *   ],
 * });
 * gate.addRoute({ method: 'POST', path: '/orders', scopes: ['write:orders'], handler: createOrder });
 */
export class DualAuthApi extends Construct {
  /** The settings after validation and defaults (cache TTLs, key prefix, issuers, admin scope, stage…). */
  readonly config: DualgateConfig;
  /**
   * The REST API: dualgate's own, or the one passed as `restApi`. Add methods with `addRoute`, never on `api.root`
   * directly: the synth fails for such methods unless they carry their own authorization or are in `openMethods`.
   */
  readonly api: apigateway.IRestApi;
  /** The stage the API is published on (with `restApi`: the app's stage). */
  readonly stage: apigateway.IStage;
  /** The stage's invoke URL (`https://{id}.execute-api.{region}.amazonaws.com/{stage}/`). */
  readonly url: string;
  /** The key table: SHA-256 hashes of the keys, never the keys (and consumer records when `plans` is set). */
  readonly table: dynamodb.Table;
  /** The REQUEST authorizer every authorized route uses. */
  readonly authorizer: apigateway.RequestAuthorizer;
  /** The authorizer's function (API Gateway calls a published version of it). */
  readonly authorizerFunction: lambda.Function;
  /** The key management API's function, unless `managementApi: false`. */
  readonly managementFunction?: lambda.Function;
  /** Where the key API is mounted, or undefined when it is off. */
  readonly managementBasePath?: string;
  /** The Cognito user pool, unless external `issuers` replace it (or `cognito: false`). */
  readonly userPool?: cognito.UserPool;
  /** The user pool's client-credentials admin client (stack output `AdminClientId`). */
  readonly userPoolClient?: cognito.UserPoolClient;
  /** The user pool's token endpoint (stack output `TokenUrl`). */
  readonly tokenUrl?: string;
  /** The usage plans, when `plans` is set. */
  readonly plans?: DualgatePlans;
  /** Alarms, dashboard and saved query, unless `monitoring: false`. */
  readonly monitoring?: DualAuthApiMonitoring;
  /** What one cached authorizer result covers: `route` (default) or `credential` (see the prop). */
  readonly authorizerCacheScope: AuthorizerCacheScope;
  /** The GitHub leak report function, unless leak detection is off. */
  readonly leakFunction?: lambda.Function;
  /** Where GitHub posts leak reports (`/leaks/github` by default), or undefined when leak detection is off. */
  readonly leakDetectionPath?: string;
  /** The portal page's function, when `portal` is set (and its page is on). */
  readonly portalFunction?: lambda.Function;
  /** The public (no secret) Cognito app client the portal signs in with, when the portal uses the stack's user pool. */
  readonly portalClient?: cognito.UserPoolClient;
  /** `portal.defaultScopes`, checked against the catalog at synth. */
  readonly portalDefaultScopes: readonly string[];

  private readonly rules: RouteRule[] = [];
  /** Routes waiting for their methods: created at synth, once the table is whole and can be placed. */
  private readonly pendingRoutes: PendingRoute[] = [];
  private readonly ownMethods = new Set<apigateway.Method>();
  /** With an imported `restApi`: the deployment that publishes dualgate's methods on the app's stage. */
  private readonly ownDeployment?: apigateway.Deployment;
  private readonly openMethods: readonly string[];
  private readonly nestedStacksSetting: boolean | 'auto';
  /** The nested stacks holding routes, by name (`Routes010`), once synth has placed them. */
  readonly routeStacks = new Map<string, NestedStack>();
  private readonly permitted = new Set<lambda.IFunction>();
  private readonly extraScopes: readonly string[];
  private readonly deferredCode: DeferredAssetCode[] = [];
  private compiled?: RuntimeRouteConfig;
  private readonly planConfig?: { plans: Plans; defaultPlan?: string };

  constructor(scope: Construct, id: string, props: DualAuthApiProps = {}) {
    super(scope, id);
    const unknown = Object.keys(props).filter((name) => !([...CONFIG_KEYS, ...CONSTRUCT_PROPS] as readonly string[]).includes(name));
    if (unknown.length > 0) throw new DualgateConfigError(`DualAuthApi: unknown prop(s) ${unknown.join(', ')}`);
    const adoptedStage = props.restApi === undefined ? undefined : adoptedStageName(this, props.restApi, props.stageName);
    const config = resolveConfig({
      ...Object.fromEntries(CONFIG_KEYS.filter((name) => props[name] !== undefined).map((name) => [name, props[name]])),
      ...(adoptedStage !== undefined ? { stageName: adoptedStage } : {}),
    });
    // The construct reads props only; `-c dualgate:<name>` is the demo app's convention. Say so rather than ignore it.
    for (const name of CONFIG_KEYS) {
      if (props[name] === undefined && this.node.tryGetContext(`dualgate:${name}`) !== undefined) {
        Annotations.of(this).addWarningV2(
          `dualgate:context-ignored:${name}`,
          `CDK context dualgate:${name} is set, but DualAuthApi reads props only: pass ${name} as a prop (the demo app in bin/dualgate.ts maps context to props)`,
        );
      }
    }
    this.config = config;
    const portal = portalOptions(props.portal);
    this.portalDefaultScopes = portal?.defaultScopes ?? [];
    const plans = plansFromProps(props.plans, props.defaultPlan);
    this.planConfig = plans;
    this.extraScopes = validExtraScopes(props.extraScopes);
    const monitoring = monitoringOptions(props.monitoring);
    const cacheScope = props.authorizerCacheScope ?? 'route';
    if (!AUTHORIZER_CACHE_SCOPES.includes(cacheScope)) {
      throw new DualgateConfigError(
        `authorizerCacheScope must be one of ${AUTHORIZER_CACHE_SCOPES.map((scope) => `'${scope}'`).join(', ')} (got ${JSON.stringify(cacheScope)})`,
      );
    }
    this.authorizerCacheScope = cacheScope;
    const stack = Stack.of(this);

    const keyTable = new KeyTable(this, 'KeyTable');
    this.table = keyTable.table;

    const issuers: IssuerConfig[] = [...config.issuers];
    let portalSignIn: PortalSignIn | undefined;
    if (portal?.oidc) {
      const trusted = config.issuers.find((candidate) => candidate.issuer === portal.oidc?.issuer);
      if (!trusted)
        throw new DualgateConfigError(
          `portal.oidc.issuer ${JSON.stringify(portal.oidc.issuer)} is not one of issuers: the authorizer must trust the tokens the portal signs in with`,
        );
      const prefix = trusted.scopePrefix ?? '';
      portalSignIn = {
        issuer: portal.oidc.issuer,
        clientId: portal.oidc.clientId,
        scopes: portal.oidc.scopes ? [...portal.oidc.scopes] : ['openid', ...PORTAL_TOKEN_SCOPES.map((scope) => `${prefix}${scope}`)],
        ...(portal.oidc.authorizationEndpoint
          ? { authorizationEndpoint: portal.oidc.authorizationEndpoint, tokenEndpoint: portal.oidc.tokenEndpoint }
          : {}),
        ...(prefix ? { scopePrefix: prefix } : {}),
      };
    } else if (portal?.page && !config.cognito) {
      throw new DualgateConfigError(
        'portal: without the Cognito user pool (issuers are set), say which issuer the portal signs in with: portal.oidc = { issuer, clientId }',
      );
    }
    if (config.cognito) {
      const issuer = new CognitoIssuer(this, 'UserPool', {
        scopeCatalog: () => this.routeConfig().catalog,
        adminScope: config.adminScope,
        domainPrefix: `dualgate-${this.node.addr.slice(0, 12)}`,
        // The portal's sign-in client, unless the portal signs in elsewhere. Its URL names the API, created later.
        ...(portal?.page && !portal.oidc
          ? {
              portal: {
                url: Lazy.string({ produce: () => this.portalUrl }),
                ...(portal.callbackUrls ? { callbackUrls: portal.callbackUrls } : {}),
              },
            }
          : {}),
      });
      issuers.push(issuer.issuer);
      this.userPool = issuer.userPool;
      this.userPoolClient = issuer.adminClient;
      this.tokenUrl = issuer.tokenUrl;
      if (issuer.portalClient) this.portalClient = issuer.portalClient;
      if (issuer.portalSignIn) portalSignIn = issuer.portalSignIn;
    }

    const environment = runtimeEnvironment(config, { tableName: this.table.tableName, issuersJson: stack.toJsonString(issuers) });
    const authorizer = new DualgateAuthorizer(this, {
      keyTable,
      environment,
      cacheScope,
      resultsCacheTtlSeconds: config.authorizerCacheTtlSeconds,
    });
    this.deferredCode.push(authorizer.code);
    this.authorizerFunction = authorizer.fn;
    this.authorizer = authorizer.authorizer;

    let accessLogs: logs.LogGroup | undefined;
    if (props.restApi === undefined) {
      accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN });
      const api = new apigateway.RestApi(this, 'Api', {
        description: 'dualgate: API key or JWT, one identity',
        cloudWatchRole: true,
        cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
        endpointTypes: [apigateway.EndpointType.REGIONAL],
        deployOptions: {
          stageName: config.stageName,
          accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
          accessLogFormat: apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
          loggingLevel: apigateway.MethodLoggingLevel.ERROR,
          // Data tracing would write request headers, the Authorization header included, to CloudWatch.
          dataTraceEnabled: false,
          metricsEnabled: true,
          throttlingRateLimit: 100,
          throttlingBurstLimit: 200,
        },
        defaultMethodOptions: { authorizer: this.authorizer, authorizationType: apigateway.AuthorizationType.CUSTOM },
      });
      this.api = api;
      this.stage = api.deploymentStage;
      this.url = api.url;
    } else {
      const adopted = adoptRestApi(this, props.restApi, config.stageName);
      this.api = props.restApi;
      this.stage = adopted.stage;
      this.url = adopted.url;
      this.ownDeployment = adopted.deployment;
    }
    (this.api.latestDeployment ?? this.ownDeployment)?.addToLogicalId(authorizer.deploymentSalt);
    this.openMethods = validOpenMethods(props.openMethods);
    const nestedStacks = props.nestedStacks ?? 'auto';
    if (nestedStacks !== 'auto' && typeof nestedStacks !== 'boolean')
      throw new DualgateConfigError(`nestedStacks must be 'auto', true or false (got ${JSON.stringify(nestedStacks)})`);
    this.nestedStacksSetting = nestedStacks;
    for (const spec of GATEWAY_RESPONSES) {
      const responseProps = {
        type: apigateway.ResponseType.of(spec.type),
        ...(spec.keepsAwsStatus ? {} : { statusCode: String(spec.statusCode) }),
        templates: { 'application/json': gatewayResponseTemplate(spec) },
        // nosniff, no framing, no script: API-wide, as gateway responses cannot differ by path (docs/portal.md).
        responseHeaders: gatewayResponseHeaderValues(),
      };
      if (this.api instanceof apigateway.RestApiBase) this.api.addGatewayResponse(`Response${spec.type}`, responseProps);
      else new apigateway.GatewayResponse(this, `Response${spec.type}`, { restApi: this.api, ...responseProps });
    }

    const management = props.managementApi ?? true;
    if (management !== false) {
      const keyApi = new KeyApi(this, { keyTable, environment, basePath: keyApiBasePath(management) });
      this.deferredCode.push(keyApi.code);
      this.managementBasePath = keyApi.basePath;
      this.managementFunction = keyApi.fn;
      // The key API's routes, and the consumers' (entitlements, and plans when there are some) beside them.
      for (const rule of keyApi.routes) this.addRoute({ ...rule, handler: keyApi.fn });
    } else if (portal) {
      throw new DualgateConfigError('portal needs the key management API (the page calls it): remove managementApi: false');
    }
    if (portal?.page && portalSignIn && this.managementBasePath) {
      const portalConfig = {
        ...portalSignIn,
        keysPath: this.managementBasePath,
        consumersPath: consumersBasePath(this.managementBasePath),
        adminScope: config.adminScope,
        plans: plans !== undefined,
      };
      const fn = this.dualgateFunction(
        'PortalHandler',
        'portal',
        { [PORTAL_CONFIG_VARIABLE]: stack.toJsonString(portalConfig), [SETTING_NAMES.logLevel]: config.logLevel },
        { memorySize: 128 },
        { routeTable: false },
      );
      this.portalFunction = fn;
      // Open routes: the page itself holds nothing secret; it signs in in the browser and calls the key API.
      this.addRoute({ method: 'GET', path: PORTAL_PATH, authorized: false, handler: fn });
      // Greedy: any path under /portal reaches the function, whose 404 carries the portal's CSP and headers.
      this.addRoute({ method: 'GET', path: `${PORTAL_PATH}/{asset+}`, authorized: false, handler: fn });
    }
    const leaks = leakDetectionOptions(props.leakDetection, management !== false);
    if (leaks) {
      const leakEnvironment: Record<string, string> = {
        [SETTING_NAMES.tableName]: this.table.tableName,
        [SETTING_NAMES.keyPrefix]: config.keyPrefix,
        [SETTING_NAMES.logLevel]: config.logLevel,
        [SETTING_NAMES.githubKeysUrl]: leaks.githubKeysUrl,
        [SETTING_NAMES.leakAction]: leaks.action,
        ...(leaks.topic ? { [SETTING_NAMES.leakTopicArn]: leaks.topic.topicArn } : {}),
      };
      const fn = this.dualgateFunction(
        'LeakHandler',
        'leaks',
        leakEnvironment,
        { timeout: Duration.seconds(LEAK_FUNCTION_TIMEOUT_SECONDS) },
        { routeTable: false },
      );
      // Least privilege: read one key by hash (on the table itself, no index, no query or scan)…
      keyTable.grantReadKeyByHash(fn);
      // …and one UpdateItem of the leak attributes (plus, for `revoke`, the revocation's), returning nothing: it can
      // neither change a key's scopes, owner or name, nor create, delete or read through a write.
      keyTable.grantUpdateAttributes(fn, leaks.action === 'revoke' ? LEAK_REVOKE_ATTRIBUTES : LEAK_MARK_ATTRIBUTES);
      leaks.topic?.grantPublish(fn);
      this.leakFunction = fn;
      this.leakDetectionPath = leaks.path;
      this.addRoute({ method: 'POST', path: leaks.path, authorized: false, handler: fn });
    }
    if (plans) {
      // Plans switch the API's key source to AUTHORIZER: dualgate sets it on a RestApi of this app, never on an import.
      if (!(this.api instanceof apigateway.RestApi)) {
        throw new DualgateConfigError(
          'plans need a RestApi created in this app (dualgate sets its API key source to AUTHORIZER): an imported restApi cannot take plans',
        );
      }
      const keySource = (this.api.node.defaultChild as apigateway.CfnRestApi).apiKeySourceType;
      if (keySource !== undefined && keySource !== 'AUTHORIZER') {
        throw new DualgateConfigError(
          `plans need the API key source AUTHORIZER, and restApi ${this.api.node.path} sets apiKeySourceType ${keySource}: remove it, or leave plans off`,
        );
      }
      this.plans = new DualgatePlans(this, 'Plans', plans, {
        api: this.api,
        authorizerFunction: this.authorizerFunction,
        ...(this.managementFunction ? { managementFunction: this.managementFunction } : {}),
      });
    }
    for (const route of props.routes ?? []) this.addRoute(route);

    if (monitoring) {
      // API Gateway's metrics are keyed by the API's name, which an import knows only if it is told.
      if (
        !(this.api instanceof apigateway.RestApi || this.api instanceof apigateway.SpecRestApi) &&
        this.api.restApiName === this.api.node.id
      ) {
        Annotations.of(this).addWarningV2(
          'dualgate:imported-api-name',
          `monitoring reads API Gateway's metrics by API name, and restApi ${this.api.node.path} was imported without one: pass restApiName to RestApi.fromRestApiAttributes, or the stage alarms watch no data`,
        );
      }
      this.monitoring = new DualAuthApiMonitoring(this, 'Monitoring', {
        ...monitoring,
        stage: this.stage,
        authorizerFunction: this.authorizerFunction,
        ...(this.managementFunction ? { managementFunction: this.managementFunction } : {}),
        ...(this.leakFunction ? { leakFunction: this.leakFunction } : {}),
        ...(accessLogs ? { accessLogs } : {}),
      });
    }

    // The route table is final once the app has added every route: compile it into the assets at synth.
    Aspects.of(this).add(new FinaliseRouteTable(this), { priority: AspectPriority.MUTATING });
    this.node.addValidation({ validate: () => this.validateMethods() });

    new CfnOutput(this, 'ApiUrl', { value: this.url });
    new CfnOutput(this, 'KeyTableName', { value: this.table.tableName });
    // The URL to register with GitHub's secret scanning partner programme (docs/leak-detection.md).
    if (this.leakDetectionPath)
      new CfnOutput(this, 'GithubLeakEndpoint', { value: `${this.url.replace(/\/$/, '')}${this.leakDetectionPath}` });
    if (this.portalFunction) new CfnOutput(this, 'PortalUrl', { value: this.portalUrl });
    if (this.userPool && this.userPoolClient && this.tokenUrl) {
      new CfnOutput(this, 'TokenUrl', { value: this.tokenUrl });
      new CfnOutput(this, 'AdminClientId', { value: this.userPoolClient.userPoolClientId });
      new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
    }
  }

  /**
   * Put one method behind the authorizer (or open, with `authorized: false`) and into the route table; its scopes
   * join the catalog keys and tokens may carry. The method itself is created at synth, once the whole table is known
   * and can be placed (docs/large-apis.md). Throws `RouteTableError` naming the route for an unknown method, a
   * malformed path, a duplicate, a greedy segment that is not last, or a route added after synth started.
   *
   * @example
   * gate.addRoute({ method: 'ANY', path: '/files/{proxy+}', scopes: ['files:rw'], handler: files });
   */
  addRoute(route: DualAuthRoute): void {
    if (this.compiled)
      throw new RouteTableError(`addRoute ${route.method} ${route.path}: the route table was already compiled (synth has started)`);
    const where = `route ${String(route.method)} ${String(route.path)}`;
    // A typo such as `scope:` would otherwise leave the route open to any authenticated caller.
    const unknownFields = Object.keys(route).filter((field) => !ROUTE_FIELDS.includes(field));
    if (unknownFields.length > 0)
      throw new RouteTableError(`${where}: unknown field(s) ${unknownFields.join(', ')} (a route takes ${ROUTE_FIELDS.join(', ')})`);
    assertRouteDeclaration(route, where);
    const scopes = route.scopes ?? [];
    if ((route.handler === undefined) === (route.integration === undefined))
      throw new RouteTableError(`${where}: give exactly one of handler and integration`);
    if (this.rules.some((rule) => rule.method === route.method && rule.path === route.path)) {
      const management =
        this.managementBasePath !== undefined &&
        (route.path === this.managementBasePath || route.path.startsWith(`${this.managementBasePath}/`));
      const leak = route.path === this.leakDetectionPath;
      throw new RouteTableError(
        management
          ? `${where} collides with the key management API at ${this.managementBasePath}: move it with managementApi: { basePath: '/admin/keys' }, or pick another path`
          : leak
            ? `${where} collides with leak detection at ${this.leakDetectionPath}: move it with leakDetection: { path: '/security/github-leaks' }, or pick another path`
            : `${where} is declared twice`,
      );
    }

    const integration = route.integration ?? this.lambdaIntegration(route.handler as lambda.IFunction);
    const options: apigateway.MethodOptions =
      route.authorized === false
        ? { authorizationType: apigateway.AuthorizationType.NONE }
        : {
            authorizer: this.authorizer,
            authorizationType: apigateway.AuthorizationType.CUSTOM,
            // Plans: the request counts against the usage key the authorizer names (usageIdentifierKey).
            ...(this.planConfig ? { apiKeyRequired: true } : {}),
          };
    // LambdaIntegration adds two permissions per method to the method's stack: count them when placing the route.
    // (In a nested stack, dualgate replaces those two by its one per function: see addMethod.)
    const lambdaHandler =
      integration instanceof apigateway.LambdaIntegration ? (integration as unknown as { handler?: lambda.IFunction }).handler : undefined;
    this.pendingRoutes.push({
      method: route.method,
      path: route.path,
      integration,
      options,
      extraResources: lambdaHandler ? 2 : 0,
      ...(lambdaHandler ? { lambdaHandler } : {}),
    });
    this.rules.push({
      method: route.method,
      path: route.path,
      scopes: [...scopes],
      ...(route.authorized === false ? { authorized: false } : {}),
    });
  }

  /**
   * Create every route's resource and method, in the API's stack or, for a large table, in nested stacks
   * (lib/construct/route-stacks.ts). Runs once, at synth. The stage's deployment depends on every method wherever it is (a
   * method's dependency on a nested stack's resource becomes a DependsOn on that nested stack), and its logical id
   * hashes every method's properties, so one `cdk deploy` publishes the whole table.
   */
  private createMethods(): void {
    // An API whose resources get CDK's CORS preflight gives every resource dualgate creates an OPTIONS method too.
    const perResource = this.api.root.defaultCorsPreflightOptions ? 1 : 0;
    const placement: RoutePlacement<PendingRoute> = this.nested(perResource)
      ? placeRoutes(
          // A LambdaIntegration's two permissions per method do not follow it into a nested stack (addMethod).
          this.pendingRoutes.map((route) => ({ ...route, extraResources: 0 })),
          undefined,
          perResource,
        )
      : { inline: this.pendingRoutes, inlineResources: [], stacks: new Map() };
    for (const path of placement.inlineResources) this.api.root.resourceForPath(path);
    for (const route of placement.inline) this.addMethod(this.api.root.resourceForPath(route.path), route);
    for (const [name, units] of placement.stacks) {
      // A fixed description: a list of the units' paths would pass CloudFormation's 1,024 bytes on a wide table.
      const nested = new NestedStack(this, name, {
        description: `dualgate: API Gateway resources and methods of ${units.length} path famil${units.length === 1 ? 'y' : 'ies'} of the route table (lib/construct/route-stacks.ts)`,
      });
      this.routeStacks.set(name, nested);
      for (const unit of units) for (const route of unit.routes) this.addMethod(this.resourceIn(nested, route.path), route);
    }
    this.pendingRoutes.length = 0;
  }

  /**
   * The resource at `path` for a route placed in `nested`: every resource that already exists on the way (the
   * API's own, one an earlier route created, or one the app created on an adopted API) is reused, never duplicated
   * (API Gateway refuses two resources with one path part under one parent). The first missing one is created in the
   * nested stack, under the path as its id; its children follow it there.
   */
  private resourceIn(nested: NestedStack, path: string): apigateway.IResource {
    let current: apigateway.IResource = this.api.root;
    let sofar = '';
    for (const segment of path.split('/').filter((part) => part.length > 0)) {
      sofar += `/${segment}`;
      const existing = current.getResource(segment);
      if (existing) current = existing;
      else if (Stack.of(current) === nested) current = current.addResource(segment);
      else current = new apigateway.Resource(nested, sofar, { parent: current, pathPart: segment });
    }
    return current;
  }

  private addMethod(resource: apigateway.IResource, route: PendingRoute): void {
    let integration = route.integration;
    // A LambdaIntegration adds two permissions per method, in the method's stack, whose SourceArn names the stage: in
    // a nested stack that is a cycle (the stage's deployment depends on the nested stack). dualgate's one permission
    // per function (in the function's stack, for this API) replaces them; the integration itself is unchanged.
    if (route.lambdaHandler && Stack.of(resource) !== Stack.of(this)) {
      this.permit(route.lambdaHandler);
      integration = new PermittedLambdaIntegration(route.integration as apigateway.LambdaIntegration);
    }
    const method = resource.addMethod(route.method, integration, { ...route.options, ...this.overridesOfInherited(resource, route) });
    this.ownMethods.add(method);
    // An imported API has no deployment of its own that its methods update: dualgate's deployment does it.
    if (this.ownDeployment) {
      this.ownDeployment.node.addDependency(method);
      const cfn = method.node.defaultChild as apigateway.CfnMethod;
      this.ownDeployment.addToLogicalId({
        method: {
          httpMethod: cfn.httpMethod,
          path: method.resource.path,
          authorizationType: cfn.authorizationType,
          apiKeyRequired: cfn.apiKeyRequired,
          integration: cfn.integration,
        },
      });
    }
  }

  /**
   * A method takes what its options leave out from the resource's `defaultMethodOptions` (an adopted API's, or a
   * resource's of its own): an inherited `apiKeyRequired: true` would refuse every dualgate caller (403), and inherited
   * required request parameters would bind dualgate's routes to the team's conventions. dualgate states both.
   */
  private overridesOfInherited(resource: apigateway.IResource, route: PendingRoute): apigateway.MethodOptions {
    const inherited = resource.defaultMethodOptions ?? {};
    return {
      ...(inherited.apiKeyRequired !== undefined && route.options.apiKeyRequired === undefined ? { apiKeyRequired: false } : {}),
      ...(inherited.requestParameters !== undefined ? { requestParameters: {} } : {}),
    };
  }

  /**
   * Whether the routes go into nested stacks: `nestedStacks`, or for `'auto'` whether keeping them in the API's stack
   * would take it past AUTO_NEST_THRESHOLD CloudFormation resources, counting everything the stack already holds (the
   * app's functions, dualgate's own resources, an adopted API's methods). An app that fits keeps its layout.
   */
  private nested(perResource: number): boolean {
    if (this.nestedStacksSetting !== 'auto') return this.nestedStacksSetting;
    const stack = Stack.of(this);
    const held = stack.node.findAll().filter((node) => CfnResource.isCfnResource(node) && Stack.of(node) === stack).length;
    const total = held + inlineSize(this.pendingRoutes, perResource);
    const pin =
      'pin the layout with nestedStacks: true (or false) to choose when this happens (docs/large-apis.md, "Moving an existing API")';
    if (total > AUTO_NEST_THRESHOLD) {
      Annotations.of(this).addWarningV2(
        'dualgate:nested-stacks-auto',
        `nestedStacks 'auto': the routes go into nested stacks, because with them the stack would hold ${total} CloudFormation resources (more than ${AUTO_NEST_THRESHOLD} of 500). ` +
          `An API deployed with its routes in the stack's own template cannot move them in one deployment; should the stack later shrink to ${AUTO_NEST_THRESHOLD} or fewer, 'auto' moves them back: ${pin}`,
      );
      return true;
    }
    if (total > AUTO_NEST_THRESHOLD - 100) {
      Annotations.of(this).addWarningV2(
        'dualgate:nested-stacks-auto',
        `nestedStacks 'auto': the stack holds ${total} CloudFormation resources, routes included; past ${AUTO_NEST_THRESHOLD}, 'auto' moves every route into nested stacks, ` +
          `which an API already deployed cannot do in one deployment: ${pin}`,
      );
    }
    return false;
  }

  /**
   * A Lambda proxy integration with one invoke permission per function for this API, not LambdaIntegration's two
   * per method: a large table would otherwise spend CloudFormation's 500 resources per stack on permissions.
   */
  private lambdaIntegration(handler: lambda.IFunction): apigateway.Integration {
    this.permit(handler);
    return new apigateway.AwsIntegration({
      proxy: true,
      service: 'lambda',
      path: `2015-03-31/functions/${handler.functionArn}/invocations`,
    });
  }

  /** dualgate's one invoke permission per function: every method and stage of this API, nothing else. */
  private permit(handler: lambda.IFunction): void {
    if (!this.permitted.has(handler)) {
      this.permitted.add(handler);
      handler.addPermission(`DualgateInvoke${this.node.addr.slice(0, 8)}`, {
        principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
        // Every method and stage of this API (the console's test-invoke included), and nothing else.
        sourceArn: this.api.arnForExecuteApi(),
      });
    }
  }

  /**
   * The portal's URL (`<ApiUrl>portal/`, with its slash: the page's relative links need it). Built from the API's id
   * and the stage name, not `api.url`: the Cognito client names it as callback, the authorizer names the client, and
   * the stage depends on the authorizer, so a reference to the stage would be a cycle.
   */
  get portalUrl(): string {
    const stack = Stack.of(this);
    return `https://${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${this.config.stageName}${PORTAL_PATH}/`;
  }

  /** The app's route table as declared so far: method, path, scopes, and `authorized: false` for open routes. */
  get routeTable(): readonly RouteRule[] {
    return this.rules;
  }

  /**
   * The compiled table, catalog and base path the Lambdas receive (computed once, when synth starts).
   * @internal
   */
  routeConfig(): RuntimeRouteConfig {
    if (this.compiled) return this.compiled;
    // API Gateway creates an authorizer only for an API whose methods use it.
    if (!this.rules.some((rule) => rule.authorized !== false)) {
      throw new RouteTableError(
        'DualAuthApi has no authorized route (managementApi is off and every route is open): add a route, or leave the key API on',
      );
    }
    const routeTable = compileRouteTable(this.rules, this.authorizerCacheScope);
    const catalog = scopeCatalog(this.rules, [this.config.adminScope, ...this.extraScopes]);
    this.assertAdminScopeIsNotOrdinary();
    const unknownDefaults = this.portalDefaultScopes.filter((scope) => !catalog.includes(scope));
    if (unknownDefaults.length > 0) {
      throw new DualgateConfigError(
        `portal.defaultScopes: ${unknownDefaults.map((scope) => JSON.stringify(scope)).join(', ')} ${unknownDefaults.length === 1 ? 'is' : 'are'} not in the scope catalog (${catalog.join(', ')}): require it on a route or add it to extraScopes`,
      );
    }
    if (this.portalDefaultScopes.includes(this.config.adminScope))
      throw new DualgateConfigError(
        `portal.defaultScopes: ${this.config.adminScope} is the admin scope; entitling every consumer to it would make everyone an admin`,
      );
    if (this.config.cognito && catalog.length > COGNITO_MAX_RESOURCE_SERVER_SCOPES) {
      throw new DualgateConfigError(
        `the scope catalog has ${catalog.length} scopes, and a Cognito resource server holds at most ${COGNITO_MAX_RESOURCE_SERVER_SCOPES}: ` +
          'use an external OIDC issuer (issuers, with cognito: false) or fewer scopes',
      );
    }
    this.compiled = {
      version: 2,
      routeTable,
      catalog,
      managementBasePath: this.managementBasePath ?? null,
      ...(this.planConfig ? { plans: this.planConfig } : {}),
      ...(this.portalDefaultScopes.length > 0 ? { entitlements: { defaultScopes: [...this.portalDefaultScopes] } } : {}),
    };
    return this.compiled;
  }

  /**
   * Called by the aspect: write the route table into each dualgate function's code asset.
   * @internal
   */
  finalise(): void {
    this.createMethods();
    this.warnAboutResourceQuota();
    const config = this.routeConfig();
    for (const code of this.deferredCode) code.materialise(config);
  }

  /** An admin scope that routes also require would make every holder of that route scope an admin. */
  private assertAdminScopeIsNotOrdinary(): void {
    const adminScope = this.config.adminScope;
    const route = this.rules.find((rule) => rule.scopes.includes(adminScope));
    const management = adminScope === KEY_SCOPES.read || adminScope === KEY_SCOPES.write;
    if (management || route) {
      const where = management || !route ? 'it is a key-management scope' : `route ${route.method} ${route.path} requires it`;
      throw new DualgateConfigError(
        `adminScope "${adminScope}" is also an ordinary scope (${where}): every holder would become an admin; give adminScope a scope of its own, such as keys:admin`,
      );
    }
  }

  /**
   * Every method of the API is dualgate's, or carries its own authorization, or is listed in `openMethods`. A method
   * added directly behind dualgate's authorizer sits outside the route table (403 for everyone); an open one would be
   * silently unprotected.
   */
  private validateMethods(): string[] {
    const problems: string[] = [];
    const strays: string[] = [];
    const open = new Set<string>();
    const name = (method: apigateway.Method) => `${method.httpMethod} ${method.resource.path}`;
    const methods = this.node.root.node
      .findAll()
      .filter((node): node is apigateway.Method => node instanceof apigateway.Method && node.api === this.api);
    for (const method of methods) {
      if (this.ownMethods.has(method) || isCorsPreflight(method)) continue;
      const cfn = method.node.defaultChild as apigateway.CfnMethod;
      const authorizationType = cfn.authorizationType ?? apigateway.AuthorizationType.NONE;
      if (authorizationType === apigateway.AuthorizationType.CUSTOM && cfn.authorizerId === this.authorizer.authorizerId)
        strays.push(name(method));
      else if (authorizationType === apigateway.AuthorizationType.NONE) {
        if (this.openMethods.includes(name(method))) open.add(name(method));
        else {
          problems.push(
            `method ${name(method)} of the RestApi is open (AuthorizationType NONE) and outside dualgate's route table: route it with gate.addRoute({ method, path, scopes, handler }), ` +
              `give it its own authorization (IAM, Cognito or another authorizer), or list it as deliberately open: openMethods: ['${name(method)}']`,
          );
        }
      }
      if (this.planConfig && cfn.apiKeyRequired === true && !strays.includes(name(method))) {
        problems.push(
          `method ${name(method)} requires an API key, but with plans the API's key source is dualgate's authorizer (AUTHORIZER): its x-api-key callers would be refused; route it through dualgate, or leave plans off`,
        );
      }
    }
    if (strays.length > 0) {
      problems.unshift(
        `method(s) ${strays.join(', ')} were added to the RestApi directly, outside dualgate's route table (every caller would get 403): use gate.addRoute({ method, path, scopes, handler })`,
      );
    }
    const stale = this.openMethods.filter((entry) => !open.has(entry));
    if (stale.length > 0)
      problems.push(
        `openMethods lists ${stale.join(', ')}, which is not an open method of the RestApi outside dualgate's route table: remove it, or route it with addRoute({ ..., authorized: false })`,
      );
    return problems;
  }

  /** API Gateway's default quota is 300 resources per API: a larger table deploys only once the quota is raised. */
  private warnAboutResourceQuota(): void {
    // The root is a resource too; an adopted API's own resources (those this app defines) count as well.
    const others = this.node.root.node
      .findAll()
      .filter((node): node is apigateway.Resource => node instanceof apigateway.Resource && node.api === this.api)
      .map((resource) => resource.path);
    const count = apiGatewayResourceCount([...this.rules.map((rule) => rule.path), ...others]) + 1;
    if (count <= API_GATEWAY_RESOURCES_PER_API) return;
    Annotations.of(this).addWarningV2(
      'dualgate:resources-per-api',
      `the API has ${count} API Gateway resources (paths, the root included), and API Gateway allows ${API_GATEWAY_RESOURCES_PER_API} per REST API by default: ` +
        `before deploying, raise the quota "Resources per API" (service apigateway) to at least ${count} in Service Quotas: the console, or ` +
        `aws service-quotas list-service-quotas --service-code apigateway --query "Quotas[?QuotaName=='Resources per API'].QuotaCode" for its code, then ` +
        `aws service-quotas request-service-quota-increase --service-code apigateway --quota-code <code> --desired-value ${count}`,
    );
  }

  /** One of dualgate's own functions (lib/construct/dualgate-function.ts); a route-table asset is materialised at synth. */
  private dualgateFunction(
    id: string,
    bundle: LambdaBundleName,
    environment: Record<string, string>,
    overrides: Partial<lambda.FunctionProps> = {},
    options: { routeTable?: boolean } = {},
  ): lambda.Function {
    const { fn, code } = dualgateFunction(this, id, bundle, environment, overrides, options);
    if (code) this.deferredCode.push(code);
    return fn;
  }
}

interface PendingRoute extends PlacedRoute {
  readonly method: RouteMethod;
  readonly integration: apigateway.Integration;
  readonly options: apigateway.MethodOptions;
  /** The function of a route given an `apigateway.LambdaIntegration`. */
  readonly lambdaHandler?: lambda.IFunction;
}

/**
 * A LambdaIntegration, bound without the two per-method permissions LambdaIntegration.bind adds (dualgate adds its one
 * per function instead): the integration's request, URI and options are the app's, unchanged.
 */
class PermittedLambdaIntegration extends apigateway.Integration {
  constructor(private readonly inner: apigateway.LambdaIntegration) {
    // Only bind's result reaches the method; these satisfy Integration's own checks.
    super({ type: apigateway.IntegrationType.AWS_PROXY, integrationHttpMethod: 'POST' });
  }

  override bind(method: apigateway.Method): apigateway.IntegrationConfig {
    // AwsIntegration's bind is LambdaIntegration's without the permissions.
    return apigateway.AwsIntegration.prototype.bind.call(this.inner, method);
  }
}

/**
 * The stage dualgate publishes on when it adopts `restApi`, checked before anything is built: a `RestApi` of this
 * stack publishes on its own deployment stage (a `stageName` naming another is refused); an imported one must name
 * its existing stage (without it, dualgate would create a new public stage beside the team's, without its WAF or
 * logging). A `SpecRestApi`'s OpenAPI methods cannot be checked, and a `RestApi` of another stack would make a cycle.
 */
function adoptedStageName(scope: Construct, api: apigateway.IRestApi, stageName: string | undefined): string {
  if (
    api === null ||
    typeof api !== 'object' ||
    typeof (api as { restApiId?: unknown }).restApiId !== 'string' ||
    !(api as { root?: unknown }).root
  ) {
    throw new DualgateConfigError(
      'restApi must be an API Gateway REST API (apigateway.RestApi, or RestApi.fromRestApiAttributes with restApiId and rootResourceId)',
    );
  }
  if (api instanceof apigateway.SpecRestApi) {
    throw new DualgateConfigError(
      `restApi ${api.node.path} is a SpecRestApi: dualgate cannot see the methods its OpenAPI definition declares, so it cannot check that none is open or outside the route table. ` +
        'Import the API with RestApi.fromRestApiAttributes (with stageName) in the app that owns the definition, and check its methods there',
    );
  }
  if (api instanceof apigateway.RestApi) {
    if (Stack.of(api) !== Stack.of(scope)) {
      throw new DualgateConfigError(
        `restApi ${api.node.path} belongs to stack ${Stack.of(api).node.path}, and DualAuthApi is in stack ${Stack.of(scope).node.path}: dualgate's methods and deployment would make the two stacks depend on each other. ` +
          'Create DualAuthApi in the same stack, or import the API here with RestApi.fromRestApiAttributes(this, id, { restApiId, rootResourceId, restApiName }) and name its stage in stageName',
      );
    }
    if (!api.latestDeployment) {
      throw new DualgateConfigError(
        `restApi ${api.node.path} has no deployment of its own (deploy: false): create it with deploy: true, or import it with RestApi.fromRestApiAttributes and name its stage in stageName`,
      );
    }
    // The stage's name as the app wrote it (Stage.stageName is a reference to the CloudFormation resource).
    const own = (api.deploymentStage.node.defaultChild as apigateway.CfnStage).stageName as string;
    if (stageName !== undefined && stageName !== own) {
      throw new DualgateConfigError(
        `stageName ${JSON.stringify(stageName)}: restApi ${api.node.path} publishes on its own deployment stage ${JSON.stringify(own)}; leave stageName out (it names the stage of an imported API only)`,
      );
    }
    return own;
  }
  if (stageName === undefined) {
    throw new DualgateConfigError(
      `restApi ${api.node.path} is imported: name its existing stage in stageName (dualgate's deployment updates that stage); without it dualgate would create a new public stage beside yours, without your stage's settings`,
    );
  }
  return stageName;
}

/**
 * An app's REST API, as dualgate publishes on it. A `RestApi` the app created keeps its deployment, which its
 * methods (dualgate's included) update, and its stage. An imported one (`fromRestApiAttributes`) has neither in this
 * app: dualgate adds a deployment that updates the app's existing stage (`stageName`). Each deployment is a snapshot
 * of every method of the API, whoever created it, so the stage's owner deploying later publishes dualgate's too.
 */
function adoptRestApi(
  scope: Construct,
  api: apigateway.IRestApi,
  stageName: string,
): { stage: apigateway.IStage; url: string; deployment?: apigateway.Deployment } {
  // adoptedStageName has checked the API.
  if (api instanceof apigateway.RestApi) return { stage: api.deploymentStage, url: api.url };
  const stack = Stack.of(scope);
  // Without stageName, CloudFormation would create a deployment that no stage serves; with it, API Gateway points the
  // existing stage at the new deployment (CreateDeployment's stageName), keeping the stage's settings.
  const deployment = new apigateway.Deployment(scope, 'Deployment', {
    api,
    stageName,
    description: "dualgate: the routes of the route table, on the app's stage",
  });
  return {
    stage: apigateway.Stage.fromStageAttributes(scope, 'Stage', { restApi: api, stageName }),
    url: `https://${api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${stageName}/`,
    deployment,
  };
}

/**
 * CDK's CORS preflight (`defaultCorsPreflightOptions`, `addCorsPreflight`): an open `OPTIONS` with a mock integration on
 * a resource with CORS options. It answers the browser's preflight with headers and calls nothing: known open.
 */
function isCorsPreflight(method: apigateway.Method): boolean {
  const cfn = method.node.defaultChild as apigateway.CfnMethod;
  const integration = cfn.integration as apigateway.CfnMethod.IntegrationProperty | undefined;
  return (
    method.httpMethod === 'OPTIONS' &&
    method.resource.defaultCorsPreflightOptions !== undefined &&
    (cfn.authorizationType ?? 'NONE') === 'NONE' &&
    integration?.type === 'MOCK'
  );
}

const METHOD_NAME = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) (\/|(\/[^/\s]+)+)$/;

function validOpenMethods(input: unknown): string[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw new DualgateConfigError("openMethods must be a list of methods such as 'GET /health'");
  const bad = input.filter((entry) => typeof entry !== 'string' || !METHOD_NAME.test(entry));
  if (bad.length > 0)
    throw new DualgateConfigError(
      `openMethods: ${bad.map((entry) => JSON.stringify(entry)).join(', ')} must be a verb and a resource path, such as 'GET /health' or 'ANY /public/{proxy+}'`,
    );
  return [...input] as string[];
}

/** The `leakDetection` prop, checked and completed; undefined when leak detection is off. */
function leakDetectionOptions(
  input: DualAuthApiProps['leakDetection'],
  managementApiOn: boolean,
): { path: string; action: LeakAction; topic?: sns.ITopic; githubKeysUrl: string } | undefined {
  if (input === false || (input === undefined && !managementApiOn)) return undefined;
  if (input !== undefined && input !== true && (input === null || typeof input !== 'object' || Array.isArray(input))) {
    throw new DualgateConfigError('leakDetection must be true, false or { path, action, topic, githubKeysUrl }');
  }
  const options: LeakDetectionOptions = typeof input === 'object' ? input : {};
  const unknown = Object.keys(options).filter((field) => !LEAK_DETECTION_FIELDS.includes(field));
  if (unknown.length > 0)
    throw new DualgateConfigError(`leakDetection: unknown field(s) ${unknown.join(', ')} (it takes ${LEAK_DETECTION_FIELDS.join(', ')})`);
  const path = options.path ?? DEFAULT_LEAK_DETECTION_PATH;
  if (typeof path !== 'string' || !/^(\/[A-Za-z0-9._~-]+)+$/.test(path)) {
    throw new DualgateConfigError(
      `leakDetection.path must be a path of literal segments such as /leaks/github (got ${JSON.stringify(path)})`,
    );
  }
  const action = options.action ?? DEFAULT_LEAK_SETTINGS.action;
  if (!LEAK_ACTIONS.includes(action))
    throw new DualgateConfigError(
      `leakDetection.action must be one of ${LEAK_ACTIONS.map((name) => `'${name}'`).join(', ')} (got ${JSON.stringify(action)})`,
    );
  const githubKeysUrl = options.githubKeysUrl ?? DEFAULT_LEAK_SETTINGS.githubKeysUrl;
  const problem = githubKeysUrlProblem(githubKeysUrl, { allowHttpLoopback: false });
  if (problem) throw new DualgateConfigError(`leakDetection.githubKeysUrl ${problem}`);
  if (options.topic !== undefined && typeof (options.topic as { topicArn?: unknown }).topicArn !== 'string') {
    throw new DualgateConfigError('leakDetection.topic must be an SNS topic (sns.Topic or sns.Topic.fromTopicArn)');
  }
  return { path, action, githubKeysUrl, ...(options.topic ? { topic: options.topic } : {}) };
}

/** The `portal` prop, checked; undefined when it is not set. Catalog membership is checked at synth (routeConfig). */
function portalOptions(input: unknown):
  | {
      defaultScopes: string[];
      page: boolean;
      oidc?: { issuer: string; clientId: string; scopes?: string[]; authorizationEndpoint?: string; tokenEndpoint?: string };
      callbackUrls?: string[];
    }
  | undefined {
  if (input === undefined) return undefined;
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new DualgateConfigError('portal must be { defaultScopes, page, oidc, callbackUrls }');
  const options = input as Record<string, unknown>;
  const unknown = Object.keys(options).filter((field) => !PORTAL_FIELDS.includes(field));
  if (unknown.length > 0)
    throw new DualgateConfigError(`portal: unknown field(s) ${unknown.join(', ')} (it takes ${PORTAL_FIELDS.join(', ')})`);
  const defaults = options['defaultScopes'] ?? [];
  if (!Array.isArray(defaults)) throw new DualgateConfigError('portal.defaultScopes must be a list of scope names');
  const bad = defaults.filter((scope) => typeof scope !== 'string' || !SCOPE_PATTERN.test(scope));
  if (bad.length > 0)
    throw new DualgateConfigError(
      `portal.defaultScopes: ${bad.map((scope) => JSON.stringify(scope)).join(', ')} must match ${SCOPE_PATTERN}`,
    );
  const page = options['page'] ?? true;
  if (typeof page !== 'boolean') throw new DualgateConfigError('portal.page must be true or false');
  const result: {
    defaultScopes: string[];
    page: boolean;
    oidc?: { issuer: string; clientId: string; scopes?: string[]; authorizationEndpoint?: string; tokenEndpoint?: string };
    callbackUrls?: string[];
  } = { defaultScopes: [...new Set(defaults as string[])].sort(), page };
  const oidc = options['oidc'];
  if (oidc !== undefined) {
    const value = oidc as Record<string, unknown> | null;
    if (
      value === null ||
      typeof value !== 'object' ||
      typeof value['issuer'] !== 'string' ||
      typeof value['clientId'] !== 'string' ||
      value['clientId'].length === 0
    ) {
      throw new DualgateConfigError('portal.oidc must be { issuer, clientId, scopes?, authorizationEndpoint?, tokenEndpoint? }');
    }
    const scopes = value['scopes'];
    if (
      scopes !== undefined &&
      (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string' && /^[\x21-\x7e]+$/.test(scope)))
    )
      throw new DualgateConfigError('portal.oidc.scopes must be a list of scope names');
    const unknownOidc = Object.keys(value).filter(
      (field) => !['issuer', 'clientId', 'scopes', 'authorizationEndpoint', 'tokenEndpoint'].includes(field),
    );
    if (unknownOidc.length > 0)
      throw new DualgateConfigError(
        `portal.oidc: unknown field(s) ${unknownOidc.join(', ')} (it takes issuer, clientId, scopes, authorizationEndpoint, tokenEndpoint)`,
      );
    const { authorizationEndpoint, tokenEndpoint } = value;
    if ((authorizationEndpoint === undefined) !== (tokenEndpoint === undefined))
      throw new DualgateConfigError('portal.oidc: give authorizationEndpoint and tokenEndpoint together, or neither (discovery)');
    for (const [field, url] of [
      ['authorizationEndpoint', authorizationEndpoint],
      ['tokenEndpoint', tokenEndpoint],
    ] as const) {
      if (url !== undefined && (typeof url !== 'string' || !/^https:\/\/[^\s/]+(\/[^\s]*)?$/.test(url)))
        throw new DualgateConfigError(`portal.oidc.${field} must be an https URL`);
    }
    result.oidc = {
      issuer: value['issuer'],
      clientId: value['clientId'],
      ...(scopes ? { scopes: scopes as string[] } : {}),
      ...(typeof authorizationEndpoint === 'string' && typeof tokenEndpoint === 'string' ? { authorizationEndpoint, tokenEndpoint } : {}),
    };
  }
  const callbackUrls = options['callbackUrls'];
  if (callbackUrls !== undefined) {
    if (!Array.isArray(callbackUrls) || !callbackUrls.every((url) => typeof url === 'string' && /^https:\/\/[^\s]+$/.test(url)))
      throw new DualgateConfigError('portal.callbackUrls must be a list of https URLs');
    result.callbackUrls = [...(callbackUrls as string[])];
  }
  return result;
}

function validExtraScopes(extra: unknown): string[] {
  if (extra === undefined) return [];
  if (!Array.isArray(extra)) throw new DualgateConfigError('extraScopes must be a list of scope names');
  const bad = extra.filter((scope) => typeof scope !== 'string' || !SCOPE_PATTERN.test(scope));
  if (bad.length > 0)
    throw new DualgateConfigError(`extraScopes: ${bad.map((scope) => JSON.stringify(scope)).join(', ')} must match ${SCOPE_PATTERN}`);
  return [...extra] as string[];
}

class FinaliseRouteTable implements IAspect {
  private done = false;
  constructor(private readonly gate: DualAuthApi) {}
  visit(node: IConstruct): void {
    if (this.done || node !== this.gate) return;
    this.done = true;
    this.gate.finalise();
  }
}
