#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { TeamApiStack } from '../lib/team-api-stack.js';

const app = new App();
new TeamApiStack(app, 'TeamApi', { env: { account: process.env['CDK_DEFAULT_ACCOUNT'], region: process.env['CDK_DEFAULT_REGION'] } });
