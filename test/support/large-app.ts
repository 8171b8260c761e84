/**
 * The large apps of issue 20 synthesized in-process: N routes from bench/fixtures' generator, served by 10 functions,
 * with plans and monitoring, on CDK's default resource limit. Each synth writes a real cloud assembly (asset and path
 * metadata on, as the CDK CLI and `dualgate dev` synthesize), so the template checks and local mode read files.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type * as cxapi from 'aws-cdk-lib/cx-api';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { largeAppRouteTable, type LargeAppRoute } from '../../bench/fixtures';
import { DualAuthApi, type DualAuthApiProps, type DualAuthRoute } from '../../lib/construct/dual-auth-api';

export interface LargeAppOptions {
  routeCount: number;
  scopeCount: number;
  functionCount?: number;
  /** Change the table before it is added (add, drop or alter routes). */
  edit?: (routes: LargeAppRoute[]) => LargeAppRoute[];
  props?: Partial<DualAuthApiProps>;
  /** Give each route an `apigateway.LambdaIntegration` instead of `handler`. */
  lambdaIntegration?: boolean;
}

export interface LargeApp {
  assembly: cxapi.CloudAssembly;
  stack: Stack;
  gate: DualAuthApi;
  routes: readonly LargeAppRoute[];
  functions: lambda.Function[];
}

export function synthLargeApp(options: LargeAppOptions): LargeApp {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'dualgate-large-')),
    context: { 'aws:cdk:enable-asset-metadata': true, 'aws:cdk:enable-path-metadata': true },
  });
  const stack = new Stack(app, 'AccBig', { env: { account: '123456789012', region: 'eu-west-1' } });
  const functionCount = options.functionCount ?? 10;
  const functions = Array.from(
    { length: functionCount },
    (_, index) =>
      new lambda.Function(stack, `Service${index}`, {
        code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
        handler: 'index.handler',
        runtime: lambda.Runtime.NODEJS_22_X,
      }),
  );
  let routes = largeAppRouteTable(options.routeCount, { scopeCount: options.scopeCount, functionCount });
  if (options.edit) routes = options.edit(routes);
  const toRoute = ({ functionIndex, ...route }: LargeAppRoute): DualAuthRoute =>
    options.lambdaIntegration
      ? { ...route, integration: new apigateway.LambdaIntegration(functions[functionIndex] as lambda.Function) }
      : { ...route, handler: functions[functionIndex] as lambda.Function };
  const gate = new DualAuthApi(stack, 'Gate', {
    plans: {
      free: { rateLimitPerSecond: 5, burstLimit: 10, quota: { limit: 1000, period: 'DAY' } },
      pro: { rateLimitPerSecond: 50, burstLimit: 100 },
    },
    defaultPlan: 'free',
    monitoring: true,
    routes: routes.map(toRoute),
    ...options.props,
  });
  return { assembly: app.synth(), stack, gate, routes, functions };
}
