/**
 * A team's REST API that has been running for years, before dualgate: its own stage (`live`, with tracing and its
 * throttle), internal reports behind IAM, a staff page behind a Cognito user pool authorizer, and an open health
 * check. dualgate is put on that API for the partner routes: it adds its authorizer, the key API, its gateway
 * responses and the routes, and publishes them on the team's stage. The methods it does not manage keep their own
 * authorization; the one deliberately open method is listed in `openMethods`, so no method is open by accident.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { DualAuthApi } from 'dualgate';

/** The app's directory (its package.json): the same from lib/ under tsx and from build/lib/ after tsc. */
function appRoot(from: string): string {
  return existsSync(path.join(from, 'package.json')) ? from : appRoot(path.dirname(from));
}
const root = appRoot(__dirname);

export class TeamApiStack extends Stack {
  readonly api: apigateway.RestApi;
  readonly gate: DualAuthApi;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const teamFunction = (name: string, role: string) =>
      new lambda.Function(this, name, {
        runtime: lambda.Runtime.NODEJS_22_X,
        code: lambda.Code.fromAsset(path.join(root, 'lambdas', 'team')),
        handler: 'index.handler',
        environment: { FUNCTION_ROLE: role },
      });

    // The API as it already is.
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: 'team-api',
      deployOptions: { stageName: 'live', tracingEnabled: true, throttlingRateLimit: 50, throttlingBurstLimit: 100 },
    });
    this.api.root.addResource('reports').addMethod('GET', new apigateway.LambdaIntegration(teamFunction('Reports', 'reports')), {
      authorizationType: apigateway.AuthorizationType.IAM,
    });
    const staffPool = new cognito.UserPool(this, 'StaffPool', { selfSignUpEnabled: false });
    this.api.root.addResource('staff').addMethod('GET', new apigateway.LambdaIntegration(teamFunction('StaffPage', 'staff')), {
      authorizer: new apigateway.CognitoUserPoolsAuthorizer(this, 'StaffAuthorizer', { cognitoUserPools: [staffPool] }),
      authorizationType: apigateway.AuthorizationType.COGNITO,
    });
    this.api.root.addResource('health').addMethod(
      'GET',
      new apigateway.MockIntegration({
        integrationResponses: [{ statusCode: '200', responseTemplates: { 'application/json': '{"status":"ok"}' } }],
        requestTemplates: { 'application/json': '{"statusCode": 200}' },
      }),
      { methodResponses: [{ statusCode: '200' }] },
    );

    // dualgate on that API: partners call /partner/... with an API key or a token.
    const partners = teamFunction('Partners', 'partners');
    this.gate = new DualAuthApi(this, 'Gate', {
      restApi: this.api,
      keyPrefix: 'team',
      openMethods: ['GET /health'],
      routes: [
        { method: 'GET', path: '/partner/orders', scopes: ['partner:read'], handler: partners },
        { method: 'GET', path: '/partner/orders/{orderId}', scopes: ['partner:read'], handler: partners },
        { method: 'POST', path: '/partner/orders', scopes: ['partner:write'], handler: partners },
      ],
    });
  }
}
