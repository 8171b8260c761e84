/**
 * The demo app's stack: one DualAuthApi with the demo's own backends (`/health`, `/me`, `/users`), built on the
 * library exactly as a platform team's app would be. bin/dualgate.ts maps `dualgate:*` CDK context to its props.
 */
import { Duration, RemovalPolicy, Stack, Token, Validations, type CfnElement, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import { DEMO_LAMBDA_ENTRIES, LAMBDA_NODE_OPTIONS } from '../../lib/build/bundling';
import { DEMO_ROUTES, type DemoBackend } from './routes';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';
import { bundleDirectory } from '../../lib/construct/lambda-code';

export class DualgateStack extends Stack {
  readonly dualAuth: DualAuthApi;
  readonly backends = new Map<DemoBackend, lambda.Function>();

  constructor(scope: Construct, id: string, props: StackProps & { dualgate?: DualAuthApiProps } = {}) {
    super(scope, id, props);
    this.dualAuth = new DualAuthApi(this, 'DualAuth', props.dualgate);
    for (const { backend, ...route } of DEMO_ROUTES) this.dualAuth.addRoute({ ...route, handler: this.backend(backend) });
    acknowledgeNagFindings(this.dualAuth);
  }

  private backend(name: DemoBackend): lambda.Function {
    const existing = this.backends.get(name);
    if (existing) return existing;
    const id = `${name.charAt(0).toUpperCase()}${name.slice(1)}Backend`;
    const entry = DEMO_LAMBDA_ENTRIES[`backends/${name}`];
    const fn = new lambda.Function(this, id, {
      code: lambda.Code.fromAsset(bundleDirectory(`backends/${name}`, entry)),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(10),
      logGroup: new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY }),
      environment: { LOG_LEVEL: this.dualAuth.config.logLevel, NODE_OPTIONS: LAMBDA_NODE_OPTIONS },
    });
    this.backends.set(name, fn);
    return fn;
  }
}

/**
 * cdk-nag AwsSolutions findings the demo accepts, each with its reason. Anything not listed here fails
 * `cdk synth` and the test suite.
 */
function acknowledgeNagFindings(dualAuth: DualAuthApi): void {
  const stack = Stack.of(dualAuth);
  const findings: [IConstruct | undefined, string, string][] = [
    [
      stack,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWSLambdaBasicExecutionRole grants only CloudWatch Logs writes: the AWS-maintained minimum for a Lambda function to log.',
    ],
    [
      dualAuth.api,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'API Gateway needs this account-level role to write the stage access and execution logs; the AWS-maintained policy is scoped to exactly that.',
    ],
    [
      dualAuth.api,
      'AwsSolutions-APIG2',
      'Request validation happens in the management Lambda against one zod schema (field-named 400s); the sample backends validate their own bodies.',
    ],
    [
      dualAuth.api,
      'AwsSolutions-APIG3',
      'WAF is an account-level choice (cost, rule sets) left to the deploying team; stage throttling is on and junk credentials are rejected offline by checksum.',
    ],
    [
      dualAuth.api,
      'AwsSolutions-APIG4',
      'Every method except GET /health and POST /leaks/github uses the dualgate Lambda REQUEST authorizer; /health is a deliberate unauthenticated liveness probe that returns no data, and GitHub calls /leaks/github with no dualgate credential: its function verifies the ECDSA signature GitHub puts on every report before reading it.',
    ],
    [
      dualAuth.api,
      'AwsSolutions-COG4',
      'Methods use the dualgate Lambda authorizer, which verifies Cognito access tokens with aws-jwt-verify and also accepts API keys; a Cognito authorizer cannot do both.',
    ],
    [
      dualAuth.userPool,
      'AwsSolutions-COG2',
      'The pool serves machine-to-machine client-credentials tokens; self sign-up is off and it has no interactive users to enrol in MFA.',
    ],
    [
      dualAuth.userPool,
      'AwsSolutions-COG3',
      'Threat protection (advanced security) applies to user sign-ins; this pool issues client-credentials tokens only, and it needs the Plus feature plan.',
    ],
    [
      dualAuth.userPool,
      'AwsSolutions-COG8',
      'The Plus feature plan buys threat protection for user sign-ins; a pool that only issues client-credentials tokens gains nothing from it.',
    ],
  ];
  // Plans: removing a key from a usage plan is DELETE /usageplans/<id>/keys/<keyId> (reading its membership, GET on
  // the same path), and the key ids are made at run time; the wildcard is one path segment under this API's own
  // usage plans, never another API's.
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  for (const plan of Object.values(dualAuth.plans?.usagePlans ?? {})) {
    const logicalId = stack.getLogicalId(plan.node.defaultChild as CfnElement);
    findings.push([
      dualAuth.plans,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:${region}::/usageplans/<${logicalId}>/keys/*]`,
      "DeleteUsagePlanKey and GetUsagePlanKey name the consumer's API key, created at run time: the wildcard is the key id within this API's own usage plan.",
    ]);
  }
  if (dualAuth.plans) {
    findings.push(
      [
        dualAuth.plans,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:${region}::/apikeys/*]`,
        "DeleteApiKey of a consumer key made at run time: allowed only for keys tagged dualgate:owner with this API's value (aws:ResourceTag condition).",
      ],
      [
        dualAuth.plans,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:${region}::/tags/arn%3A<AWS::Partition>%3Aapigateway%3A${region}%3A%3A%2Fapikeys%2F*]`,
        "CreateApiKey with tags also needs apigateway:PUT on the new key's tags resource, whose id is unknown before it exists: API keys' tags resources only, allowed only to write the dualgate:owner tag with this API's value (aws:RequestTag and aws:TagKeys conditions), and denied on a key that already carries another owner's tag (aws:ResourceTag).",
      ],
    );
  }
  for (const [scope, id, reason] of findings) if (scope) Validations.of(scope).acknowledge({ id: `AwsSolutions::${id}`, reason });
}
