/** Local mode's assembly reader on nested stacks: an API whose parts live in several templates, two levels deep. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { App, NestedStack, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { readCloudAssembly } from '../../lib/local/assembly';
import { DualAuthApi } from '../../lib/construct/dual-auth-api';
import { checkAssemblyTemplates } from '../support/template-checks';

/** A platform stack that keeps dualgate in a nested stack of its own, its functions in the parent, its routes nested once more. */
function synthNestedGate(context: Record<string, unknown>) {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'dualgate-nested-')), context });
  const stack = new Stack(app, 'Platform', { env: { account: '123456789012', region: 'eu-west-1' } });
  const orders = new lambda.Function(stack, 'Orders', {
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });
  const apiLayer = new NestedStack(stack, 'ApiLayer');
  const gate = new DualAuthApi(apiLayer, 'Gate', {
    nestedStacks: true,
    monitoring: false,
    routes: [
      { method: 'GET', path: '/orders', scopes: ['read:orders'], handler: orders },
      { method: 'GET', path: '/orders/{id}', scopes: ['read:orders'], handler: orders },
      { method: 'ANY', path: '/files/{proxy+}', scopes: ['files:rw'], handler: orders },
    ],
  });
  // A parent function reads a value out of the nested stack: CloudFormation passes it as the nested stack's output.
  const queue = new sqs.Queue(apiLayer, 'Events');
  const consumer = new lambda.Function(stack, 'Consumer', {
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
    environment: { EVENTS_QUEUE: queue.queueUrl },
  });
  return { assembly: app.synth(), gate, consumerId: stack.getLogicalId(consumer.node.defaultChild as lambda.CfnFunction) };
}

describe('readCloudAssembly with nested stacks', () => {
  for (const [label, context] of [
    ['with asset metadata (the CDK CLI, dualgate dev)', { 'aws:cdk:enable-asset-metadata': true }],
    ['without asset metadata (template URLs through the asset manifest)', {}],
  ] as const) {
    it(`serves one API from routes two nested levels below the functions, ${label}`, () => {
      const { assembly, consumerId } = synthNestedGate(context);
      expect(checkAssemblyTemplates(assembly.directory).problems).toEqual([]);
      const local = readCloudAssembly(assembly.directory);
      expect(local.apis).toHaveLength(1);
      const [api] = local.apis;
      expect(api!.stageName).toBe('v1');
      expect(api!.methods.map((method) => `${method.method} ${method.path}`).sort()).toEqual(
        expect.arrayContaining(['ANY /files/{proxy+}', 'GET /orders', 'GET /orders/{id}', 'POST /keys', 'POST /leaks/github']),
      );
      // A nested resource's id carries its stacks' ids; its function resolves through the parameters to the parent's.
      const getOrder = api!.methods.find((method) => method.method === 'GET' && method.path === '/orders/{id}')!;
      expect(getOrder.logicalId.split('.')).toHaveLength(3);
      expect(getOrder).toMatchObject({ authorized: true, integration: { kind: 'lambda' } });
      const functionId = (getOrder.integration as { functionId: string }).functionId;
      expect(local.functions.get(functionId)?.inlineCode).toContain('statusCode: 200');
      // dualgate's authorizer, one nested level down, with its route table.
      expect(local.functions.get(api!.authorizer!.functionId)?.dualgateConfig?.routeTable.routes.length).toBeGreaterThan(3);
      // The nested stack's output, read by a parent resource, becomes what it names: the queue in the nested stack.
      const queueRef = local.functions.get(consumerId)?.environment['EVENTS_QUEUE'] as { Ref?: string };
      expect(queueRef.Ref).toMatch(/^ApiLayer.*NestedStackResource[0-9A-F]{8}\.Events[0-9A-F]{8}$/);
      expect(local.resources.get(queueRef.Ref!)?.type).toBe('AWS::SQS::Queue');
    });
  }
});
