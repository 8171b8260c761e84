/**
 * The stacks whose CloudFormation logical ids must never change (an upgrade would replace the key table, the user
 * pool, the functions…): the demo app and the prop combinations the CDK tests use, each synthesized into its own
 * assembly, nested stacks included. test/cdk/logical-ids.test.ts compares them with test/fixtures/logical-ids.json;
 * `npx tsx test/support/logical-id-stacks.ts` prints the list that file holds.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';
import { configFromContext } from '../../lib/construct/config';
import { DualgateStack } from '../../examples/demo/stack';
import { demoRoutesServedBy } from './demo-app';
import { assemblyTemplates } from './template-checks';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

/**
 * Ids CloudFormation is meant to replace: a Lambda version and an API deployment carry a hash of what they publish
 * (the code asset, the methods), so they change with any code change, by design. Their hash is masked; the rest of
 * the id (the construct path) is compared.
 */
const REPLACED_BY_DESIGN = new Set(['AWS::Lambda::Version', 'AWS::ApiGateway::Deployment']);

export function logicalIdEntry(logicalId: string, type: string): string {
  const id = REPLACED_BY_DESIGN.has(type) ? logicalId.replace(/[0-9a-f]{32}$/, '<hash>') : logicalId;
  return `${id} ${type}`;
}

function newApp(): App {
  return new App({ outdir: mkdtempSync(join(tmpdir(), 'dualgate-logical-ids-')), context: CDK_JSON_CONTEXT });
}

function inlineFunction(stack: Stack, id: string): lambda.Function {
  return new lambda.Function(stack, id, {
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });
}

/** The demo app as bin/dualgate.ts builds it from cdk.json (`extra` as `-c dualgate:…`). */
function demo(extra: DualAuthApiProps = {}): App {
  const app = newApp();
  new DualgateStack(app, 'Dualgate', { env: ENV, dualgate: { ...configFromContext((key) => app.node.tryGetContext(key)), ...extra } });
  return app;
}

/** DualAuthApi with the demo's routes served by one function (test/cdk/dual-auth-api.test.ts and friends). */
function gate(props: DualAuthApiProps | ((stack: Stack) => DualAuthApiProps) = {}): App {
  const app = newApp();
  const stack = new Stack(app, 'TestStack', { env: ENV });
  const backend = inlineFunction(stack, 'Backend');
  new DualAuthApi(stack, 'DualAuth', { ...(typeof props === 'function' ? props(stack) : props), routes: demoRoutesServedBy(backend) });
  return app;
}

const EXTERNAL_ISSUER = { issuer: 'https://login.example.com/', audience: ['api://dualgate'] };

/** Each variant builds its own app; the key names it in the fixture. */
export const LOGICAL_ID_VARIANTS: Record<string, () => App> = {
  demo: () => demo(),
  'demo-plans': () => demo({ plans: { free: { rateLimitPerSecond: 5, burstLimit: 10 } } }),
  'plans-default-quota': () =>
    gate({
      plans: {
        free: { rateLimitPerSecond: 5, burstLimit: 10 },
        pro: { rateLimitPerSecond: 50, burstLimit: 100, quota: { limit: 1000, period: 'DAY' } },
      },
      defaultPlan: 'free',
    }),
  'credential-cache-scope': () => gate({ authorizerCacheScope: 'credential', adminScope: 'platform:admin' }),
  'external-issuer': () => gate({ issuers: [EXTERNAL_ISSUER], cognito: false, monitoring: false }),
  'no-management-api': () => gate({ managementApi: false, leakDetection: true }),
  'moved-management-api': () =>
    gate({ managementApi: { basePath: '/admin/keys' }, leakDetection: { path: '/security/github-leaks', action: 'notify' } }),
  'leak-topic': () => gate((stack) => ({ leakDetection: { topic: new sns.Topic(stack, 'Leaks') } })),
  'no-leaks-no-monitoring': () => gate({ leakDetection: false, monitoring: false }),
  portal: () => gate({ portal: { defaultScopes: ['read:users'], callbackUrls: ['https://developers.example.com/portal/'] } }),
  'portal-without-page': () => gate({ portal: { defaultScopes: ['read:users'], page: false } }),
  'portal-oidc': () =>
    gate({ issuers: [EXTERNAL_ISSUER], cognito: false, portal: { oidc: { issuer: EXTERNAL_ISSUER.issuer, clientId: 'portal-client' } } }),
  nested: () => gate({ nestedStacks: true }),
  'existing-rest-api': () => {
    const app = newApp();
    const stack = new Stack(app, 'Existing', { env: ENV });
    const api = new apigateway.RestApi(stack, 'TeamApi', { deployOptions: { stageName: 'live' }, cloudWatchRole: false });
    api.root.addResource('health').addMethod('GET', new apigateway.MockIntegration({ integrationResponses: [{ statusCode: '200' }] }), {
      methodResponses: [{ statusCode: '200' }],
    });
    new DualAuthApi(stack, 'Gate', {
      restApi: api,
      openMethods: ['GET /health'],
      routes: [{ method: 'GET', path: '/orders/{id}', scopes: ['read:orders'], handler: inlineFunction(stack, 'Orders') }],
    });
    return app;
  },
  'imported-rest-api': () => {
    const app = newApp();
    const stack = new Stack(app, 'Existing', { env: ENV });
    const api = apigateway.RestApi.fromRestApiAttributes(stack, 'Imported', {
      restApiId: 'a1b2c3d4e5',
      rootResourceId: 'rootres123',
      restApiName: 'team-api',
    });
    new DualAuthApi(stack, 'Gate', {
      restApi: api,
      stageName: 'live',
      nestedStacks: true,
      routes: [{ method: 'GET', path: '/orders/{id}', scopes: ['read:orders'], handler: inlineFunction(stack, 'Orders') }],
    });
    return app;
  },
};

/** Every template of the variant's assembly (nested ones included), by file name: its sorted `logicalId Type` entries. */
export function logicalIdsOf(build: () => App, options: { raw?: boolean } = {}): Record<string, string[]> {
  const assembly = build().synth();
  const result: Record<string, string[]> = {};
  for (const file of assemblyTemplates(assembly.directory)) {
    const template = JSON.parse(readFileSync(file, 'utf8')) as { Resources?: Record<string, { Type: string }> };
    result[basename(file)] = Object.entries(template.Resources ?? {})
      .map(([logicalId, resource]) => (options.raw ? `${logicalId} ${resource.Type}` : logicalIdEntry(logicalId, resource.Type)))
      .sort();
  }
  return result;
}

/** What `npx tsx test/support/logical-id-stacks.ts` prints: every variant's templates (`--raw`: hashes unmasked). */
export function allLogicalIds(options: { raw?: boolean } = {}): Record<string, Record<string, string[]>> {
  return Object.fromEntries(Object.entries(LOGICAL_ID_VARIANTS).map(([name, build]) => [name, logicalIdsOf(build, options)]));
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  process.stdout.write(`${JSON.stringify(allLogicalIds({ raw: process.argv.includes('--raw') }), null, 2)}\n`);
}
