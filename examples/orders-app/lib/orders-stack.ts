/**
 * The orders team's API: its own table and Lambdas, its own routes and scopes, behind dualgate's authorizer.
 * Keys and tokens carry `read:orders`, `write:orders` and `files:rw`; the key API is at /keys, the developer portal
 * at /portal/ (consumers may grant themselves read:orders).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { DualAuthApi } from 'dualgate';

/** The app's directory (its package.json): the same from lib/ under tsx and from build/lib/ after tsc. */
function appRoot(from: string): string {
  return existsSync(path.join(from, 'package.json')) ? from : appRoot(path.dirname(from));
}
const root = appRoot(__dirname);

export class OrdersStack extends Stack {
  readonly gate: DualAuthApi;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const table = new dynamodb.Table(this, 'Orders', {
      partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // A plain lambda.Function from a directory: ESM (.mjs), with its own environment.
    const reader = new lambda.Function(this, 'OrdersReader', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      code: lambda.Code.fromAsset(path.join(root, 'lambdas', 'orders')),
      handler: 'orders.handler',
      memorySize: 256,
      environment: { ORDERS_TABLE: table.tableName, FUNCTION_ROLE: 'reader' },
    });
    table.grantReadData(reader);

    // A NodejsFunction the app bundles itself.
    const writer = new NodejsFunction(this, 'OrdersWriter', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      entry: path.join(root, 'src', 'writer.ts'),
      timeout: Duration.seconds(3),
      environment: { ORDERS_TABLE: table.tableName, FUNCTION_ROLE: 'writer' },
    });
    table.grantWriteData(writer);

    // CommonJS (.cjs) in a nested folder, for the open route.
    const status = new lambda.Function(this, 'Status', {
      runtime: lambda.Runtime.NODEJS_22_X,
      code: lambda.Code.fromAsset(path.join(root, 'lambdas')),
      handler: 'status/index.handler',
    });

    // Inline code with a short timeout: local mode answers 504 past it, as API Gateway does.
    const slow = new lambda.Function(this, 'SlowReport', {
      runtime: lambda.Runtime.NODEJS_22_X,
      code: lambda.Code.fromInline(
        'exports.handler = async () => { await new Promise((r) => setTimeout(r, 3000)); return { statusCode: 200, body: "{}" }; };',
      ),
      handler: 'index.handler',
      timeout: Duration.seconds(1),
    });

    this.gate = new DualAuthApi(this, 'Gate', {
      keyPrefix: 'ord',
      // The developer portal at /portal/: every signed-in consumer may put read:orders on its own keys.
      portal: { defaultScopes: ['read:orders'] },
      routes: [
        { method: 'GET', path: '/orders', scopes: ['read:orders'], handler: reader },
        { method: 'GET', path: '/orders/{orderId}', scopes: ['read:orders'], handler: reader },
      ],
    });
    this.gate.addRoute({ method: 'POST', path: '/orders', scopes: ['write:orders'], handler: writer });
    // Greedy and ANY: every verb on every path under /files, proxied to the team's file service.
    this.gate.addRoute({
      method: 'ANY',
      path: '/files/{proxy+}',
      scopes: ['files:rw'],
      integration: new apigateway.HttpIntegration('https://files.example.com/{proxy}', {
        proxy: true,
        httpMethod: 'ANY',
        options: { requestParameters: { 'integration.request.path.proxy': 'method.request.path.proxy' } },
      }),
    });
    this.gate.addRoute({ method: 'GET', path: '/status', authorized: false, handler: status });
    // Greedy and ANY on a Lambda: any verb, any depth under /reports, with read:orders.
    this.gate.addRoute({ method: 'ANY', path: '/reports/{proxy+}', scopes: ['read:orders'], handler: reader });
    this.gate.addRoute({ method: 'GET', path: '/slow', scopes: ['read:orders'], handler: slow });
  }
}
