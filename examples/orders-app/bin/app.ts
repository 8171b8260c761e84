#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { OrdersStack } from '../lib/orders-stack.js';

const app = new App();
new OrdersStack(app, 'OrdersApp', { env: { account: process.env['CDK_DEFAULT_ACCOUNT'], region: process.env['CDK_DEFAULT_REGION'] } });
