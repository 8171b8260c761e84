#!/usr/bin/env node
/** CDK app entry point: the demo stack, checked by cdk-nag's AwsSolutions pack. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext } from '../lib/config';
import { DualgateStack } from '../lib/dualgate-stack';

const app = new App();
const config = configFromContext((key) => app.node.tryGetContext(key));
new DualgateStack(app, app.node.tryGetContext('dualgate:stackName') ?? 'Dualgate', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  dualgate: config,
});
// `dualgate dev` sets dualgate:dev: the checks are for deploys, and they cost seconds of every local start.
if (app.node.tryGetContext('dualgate:dev') !== true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
