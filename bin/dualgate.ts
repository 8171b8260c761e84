#!/usr/bin/env node
/** CDK app entry point: the demo stack, checked by cdk-nag's AwsSolutions pack. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext, DualgateConfigError } from '../lib/construct/config';
import { DualgateStack } from '../examples/demo/stack';

const app = new App();
const config = configFromContext((key) => app.node.tryGetContext(key));
/** `-c 'dualgate:plans={"free":{"rateLimitPerSecond":5,"burstLimit":10}}'`: JSON on the command line, an object in cdk.json. */
function jsonContext(key: string): unknown {
  const value: unknown = app.node.tryGetContext(key);
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new DualgateConfigError(`${key} must be JSON, e.g. {"free":{"rateLimitPerSecond":5,"burstLimit":10}}`);
  }
}
const plans = jsonContext('dualgate:plans');
const defaultPlan: unknown = app.node.tryGetContext('dualgate:defaultPlan');
const authorizerCacheScope: unknown = app.node.tryGetContext('dualgate:authorizerCacheScope');
new DualgateStack(app, app.node.tryGetContext('dualgate:stackName') ?? 'Dualgate', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  dualgate: {
    ...config,
    ...(plans !== undefined ? { plans: plans as never } : {}),
    ...(defaultPlan !== undefined ? { defaultPlan: defaultPlan as never } : {}),
    ...(authorizerCacheScope !== undefined ? { authorizerCacheScope: authorizerCacheScope as never } : {}),
  },
});
// `dualgate dev` sets dualgate:dev: the checks are for deploys, and they cost seconds of every local start.
if (app.node.tryGetContext('dualgate:dev') !== true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
