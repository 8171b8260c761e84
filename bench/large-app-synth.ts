/**
 * A large app, as `cdk synth` runs it: `LARGE_APP_ROUTES` routes from bench/fixtures' largeAppRouteTable (scopes:
 * 60 up to 300 routes, else 100 with an external issuer, as a Cognito resource server holds 100), ten functions,
 * plans and monitoring; synthesized into CDK_OUTDIR. Run by bench/large-apis.ts, and by `dualgate dev` through a
 * cdk.json that names it.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DualAuthApi } from '../lib/construct/dual-auth-api';
import { largeAppRouteTable } from './fixtures';

const routeCount = Number(process.env['LARGE_APP_ROUTES'] ?? '300');
const wide = routeCount > 300;
const app = new App();
const stack = new Stack(app, 'LargeApp');
const services = Array.from(
  { length: 10 },
  (_, index) =>
    new lambda.Function(stack, `Service${index}`, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(
        `exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ service: ${index}, resource: event.resource }) });`,
      ),
    }),
);
new DualAuthApi(stack, 'Gate', {
  routes: largeAppRouteTable(routeCount, { scopeCount: wide ? 100 : 60, functionCount: 10 }).map(({ functionIndex, ...route }) => ({
    ...route,
    handler: services[functionIndex] as lambda.Function,
  })),
  plans: { free: { rateLimitPerSecond: 100, burstLimit: 200 } },
  defaultPlan: 'free',
  monitoring: true,
  ...(wide ? { issuers: [{ issuer: 'https://login.example.com/', audience: 'api://large' }] } : {}),
});
app.synth();
