/**
 * DualAuthApi: a REST API whose every method sits behind one Lambda REQUEST authorizer that accepts an
 * API key or a JWT, plus the key table, the (optional) Cognito issuer, the management API and the sample
 * backends, all built from the route table in lib/routes.ts.
 */
import * as path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { cognitoIssuer, type IssuerConfig } from '../lambdas/shared/issuer-config';
import { KEY_TABLE } from '../lambdas/shared/key-table';
import { PolicyCompiler } from '../lambdas/authorizer/policy-compiler';
import { resolveConfig, runtimeEnvironment, type DualgateConfig } from './config';
import { AUTHORIZER_NODE_OPTIONS, LAMBDA_ALIASES, LAMBDA_BUNDLING, LAMBDA_NODE_OPTIONS } from './bundling';
import { GATEWAY_RESPONSES, gatewayResponseTemplate } from './gateway-responses';
import { ROUTES, scopeCatalog, type HandlerName, type Route } from './routes';

export const LAMBDAS_DIR = path.join(import.meta.dirname, '..', 'lambdas');
/** Cognito's resource server id: its scopes reach the authorizer as `dualgate/<scope>`, and it strips the prefix. */
export const RESOURCE_SERVER_ID = 'dualgate';

export type DualAuthApiProps = Partial<DualgateConfig>;

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

export class DualAuthApi extends Construct {
  readonly config: DualgateConfig;
  readonly api: apigateway.RestApi;
  readonly table: dynamodb.Table;
  readonly authorizer: apigateway.RequestAuthorizer;
  readonly authorizerFunction: NodejsFunction;
  readonly functions = new Map<HandlerName, NodejsFunction>();
  readonly userPool?: cognito.UserPool;
  readonly userPoolClient?: cognito.UserPoolClient;
  readonly tokenUrl?: string;

  constructor(scope: Construct, id: string, props: DualAuthApiProps = {}) {
    super(scope, id);
    const config = resolveConfig(props);
    this.config = config;
    // The authorizer compiles its IAM policies from the route table: refuse at synth a table that IAM
    // wildcards cannot express exactly, rather than ship an authorizer that fails every request.
    new PolicyCompiler(ROUTES);
    const stack = Stack.of(this);

    this.table = new dynamodb.Table(this, 'KeyTable', {
      partitionKey: { name: KEY_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: KEY_TABLE.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      // Losing the key table would lock out every key holder: keep it when the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'byId',
      partitionKey: { name: KEY_TABLE.indexes.byId.partitionKey, type: dynamodb.AttributeType.STRING },
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'byOwner',
      partitionKey: { name: KEY_TABLE.indexes.byOwner.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: KEY_TABLE.indexes.byOwner.sortKey, type: dynamodb.AttributeType.STRING },
    });

    const issuers: IssuerConfig[] = [...config.issuers];
    // Every scope a token may need: the route table's, the management scopes, and a custom admin scope.
    const catalog = [...new Set([...scopeCatalog(ROUTES), config.adminScope])].sort();
    if (config.cognito) {
      const pool = new cognito.UserPool(this, 'UserPool', {
        selfSignUpEnabled: false,
        signInAliases: { email: true },
        passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
        accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
        removalPolicy: RemovalPolicy.RETAIN,
        deletionProtection: true,
      });
      const resourceServer = pool.addResourceServer('ResourceServer', {
        identifier: RESOURCE_SERVER_ID,
        scopes: catalog.map((scopeName) => new cognito.ResourceServerScope({ scopeName, scopeDescription: `dualgate ${scopeName}` })),
      });
      const domain = pool.addDomain('Domain', { cognitoDomain: { domainPrefix: `dualgate-${this.node.addr.slice(0, 12)}` } });
      // The machine-to-machine client: client-credentials grant, every catalog scope (it is the first admin).
      const client = pool.addClient('AdminClient', {
        generateSecret: true,
        authFlows: {},
        oAuth: {
          flows: { clientCredentials: true },
          scopes: catalog.map((scopeName) => cognito.OAuthScope.resourceServer(resourceServer, new cognito.ResourceServerScope({ scopeName, scopeDescription: scopeName }))),
        },
        accessTokenValidity: Duration.hours(1),
        preventUserExistenceErrors: true,
      });
      issuers.push({
        issuer: cognitoIssuer(stack.region, pool.userPoolId),
        clientIds: [client.userPoolClientId],
        scopePrefix: `${RESOURCE_SERVER_ID}/`,
        requireTokenUseClaim: true,
      });
      this.userPool = pool;
      this.userPoolClient = client;
      this.tokenUrl = `${domain.baseUrl()}/oauth2/token`;
    }

    const environment = runtimeEnvironment(config, { tableName: this.table.tableName, issuersJson: stack.toJsonString(issuers) });
    this.authorizerFunction = this.lambdaFunction('Authorizer', 'authorizer/handler', environment, { memorySize: 512, timeout: Duration.seconds(5) });
    // Least privilege: the authorizer reads one item by hash, on the table itself (no index), and nothing else.
    this.authorizerFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [this.table.tableArn] }));

    this.authorizer = new apigateway.RequestAuthorizer(this, 'DualAuthorizer', {
      handler: this.authorizerFunction,
      // A request without this header gets 401 without invoking the authorizer; the cache is keyed on it.
      identitySources: [apigateway.IdentitySource.header('Authorization')],
      resultsCacheTtl: Duration.seconds(config.authorizerCacheTtlSeconds),
    });

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN });
    this.api = new apigateway.RestApi(this, 'Api', {
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
    for (const spec of GATEWAY_RESPONSES) {
      this.api.addGatewayResponse(`Response${spec.type}`, {
        type: apigateway.ResponseType.of(spec.type),
        ...(spec.keepsAwsStatus ? {} : { statusCode: String(spec.statusCode) }),
        templates: { 'application/json': gatewayResponseTemplate(spec) },
        responseHeaders: { 'Content-Type': "'application/json'" },
      });
    }

    for (const route of ROUTES) this.addRoute(route, environment);

    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    new CfnOutput(this, 'KeyTableName', { value: this.table.tableName });
    if (this.userPool && this.userPoolClient && this.tokenUrl) {
      new CfnOutput(this, 'TokenUrl', { value: this.tokenUrl });
      new CfnOutput(this, 'AdminClientId', { value: this.userPoolClient.userPoolClientId });
      new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
    }
  }

  private addRoute(route: Route, environment: Record<string, string>): void {
    const resource = this.api.root.resourceForPath(route.path);
    const integration = new apigateway.LambdaIntegration(this.backendFunction(route.handler, environment));
    if (route.authorized === false) {
      resource.addMethod(route.method, integration, { authorizationType: apigateway.AuthorizationType.NONE });
    } else {
      resource.addMethod(route.method, integration);
    }
  }

  private backendFunction(handler: HandlerName, environment: Record<string, string>): NodejsFunction {
    const existing = this.functions.get(handler);
    if (existing) return existing;
    const id = handler.split('/').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('').replace(/[^A-Za-z0-9]/g, '');
    const fn = this.lambdaFunction(id, handler, handler.startsWith('keys/') ? environment : { LOG_LEVEL: this.config.logLevel });
    if (handler.startsWith('keys/')) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], resources: [this.table.tableArn] }),
      );
      // Queries only through the two named indexes, never a table scan.
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: Object.keys(KEY_TABLE.indexes).map((indexName) => `${this.table.tableArn}/index/${indexName}`),
        }),
      );
    }
    this.functions.set(handler, fn);
    return fn;
  }

  private lambdaFunction(id: string, entry: string, environment: Record<string, string>, overrides: Partial<lambda.FunctionProps> = {}): NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    return new NodejsFunction(this, id, {
      entry: path.join(LAMBDAS_DIR, `${entry}.ts`),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(10),
      logGroup,
      environment: { ...environment, ...nodeOptionsFor(entry) },
      // One definition (lib/bundling.ts), shared with the cold-start benchmark.
      bundling: {
        ...LAMBDA_BUNDLING,
        format: OutputFormat.ESM,
        mainFields: [...LAMBDA_BUNDLING.mainFields],
        externalModules: [...LAMBDA_BUNDLING.externalModules],
        esbuildArgs: Object.fromEntries(Object.entries(LAMBDA_ALIASES).map(([module, replacement]) => [`--alias:${module}`, replacement])),
        forceDockerBundling: false,
      },
      ...overrides,
    });
  }
}

function nodeOptionsFor(entry: string): Record<string, string> {
  const options = entry === 'authorizer/handler' ? AUTHORIZER_NODE_OPTIONS : LAMBDA_NODE_OPTIONS;
  return options ? { NODE_OPTIONS: options } : {};
}
