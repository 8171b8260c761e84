/**
 * Plans on AWS: one API Gateway usage plan per dualgate plan, API key source AUTHORIZER, `apiKeyRequired` on
 * every authorized method, the shared usage key for consumers without a plan of their own, and what the
 * authorizer and the key API need to know (DUALGATE_PLANS) and may call (least-privilege IAM). Without `plans`
 * none of this exists: no `DualgatePlans` is created.
 *
 * API Gateway's rules this follows:
 * - With the key source AUTHORIZER, the authorizer's `usageIdentifierKey` is the API key VALUE, and a method with
 *   `apiKeyRequired` answers 403 when the authorizer returns none, or one in no usage plan of the stage. So every
 *   allowed principal gets an identifier: its own key, or the shared one.
 * - A key belongs to at most one usage plan per API stage.
 * - 10,000 API keys per account and Region (not adjustable), 300 usage plans; throttling and quotas are
 *   best-effort, not a billing-grade count.
 */
import { Fn, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PlanConfigError, USAGE_KEY_OWNER_TAG, validatePlans, type Plans, type RuntimePlans } from '../../lambdas/core/plans';
import { SETTING_NAMES } from '../../lambdas/core/settings';
import { DualgateConfigError } from './config';
import { PLAN_GATEWAY_RESPONSES, gatewayResponseHeaderValues, gatewayResponseTemplate } from './gateway-responses';

export type { PlanLimits, PlanQuota, Plans, QuotaPeriod } from '../../lambdas/core/plans';

/** The props' plans, checked; undefined when the app has none. Throws DualgateConfigError naming the setting. */
export function plansFromProps(plans: unknown, defaultPlan: unknown): { plans: Plans; defaultPlan?: string } | undefined {
  if (plans === undefined) {
    if (defaultPlan !== undefined) throw new DualgateConfigError('defaultPlan needs plans: name the plans first');
    return undefined;
  }
  try {
    return validatePlans(plans, defaultPlan);
  } catch (error) {
    if (error instanceof PlanConfigError) throw new DualgateConfigError(error.message);
    throw error;
  }
}

interface PlansWiring {
  api: apigateway.RestApi;
  /** Both get DUALGATE_PLANS; the key API also gets the API Gateway permissions. */
  authorizerFunction: lambda.Function;
  managementFunction?: lambda.Function;
}

/** The usage plans and the shared key, and what the Lambdas need. Returns the usage plans by dualgate plan name. */
export class DualgatePlans extends Construct {
  /** The API Gateway usage plan of each dualgate plan, by plan name. */
  readonly usagePlans: Readonly<Record<string, apigateway.UsagePlan>>;
  /** The usage plan consumers without a plan of their own share: `defaultPlan`'s, or one without limits. */
  readonly sharedUsagePlan: apigateway.UsagePlan;

  /** @internal `DualAuthApi` creates it (`plans` prop); reach it as `gate.plans`. */
  constructor(scope: Construct, id: string, config: { plans: Plans; defaultPlan?: string }, wiring: PlansWiring) {
    super(scope, id);
    const { api } = wiring;
    const stack = Stack.of(this);
    // The authorizer, not the client's x-api-key header, says which key a request counts against.
    (api.node.defaultChild as apigateway.CfnRestApi).apiKeySourceType = 'AUTHORIZER';
    const apiStages = [{ api, stage: api.deploymentStage }];
    const usagePlans: Record<string, apigateway.UsagePlan> = {};
    // Stable per construct and unique in the account and Region: the usage plans' names start with it (the key API
    // finds them by name: their ids would make a dependency cycle, see RuntimePlans), and consumer keys carry it as
    // their dualgate:owner tag.
    const owner = `${stack.stackName}-${this.node.addr.slice(0, 8)}`;
    const usagePlanName = (plan: string) => `${owner}-${plan}`;
    for (const [name, limits] of Object.entries(config.plans)) {
      usagePlans[name] = api.addUsagePlan(`UsagePlan-${name}`, {
        name: usagePlanName(name),
        description: `dualgate plan ${name}`,
        apiStages,
        throttle: { rateLimit: limits.rateLimitPerSecond, burstLimit: limits.burstLimit },
        ...(limits.quota ? { quota: { limit: limits.quota.limit, period: apigateway.Period[limits.quota.period] } } : {}),
      });
    }
    this.usagePlans = usagePlans;
    // Without a defaultPlan, unassigned consumers still need an identifier (or apiKeyRequired gives them 403):
    // a usage plan without limits, so only the stage's throttle applies to them.
    this.sharedUsagePlan =
      config.defaultPlan !== undefined
        ? (usagePlans[config.defaultPlan] as apigateway.UsagePlan)
        : api.addUsagePlan('UsagePlan-shared', {
            name: `${owner}-unassigned`,
            description: 'dualgate: consumers without a plan (stage throttle only)',
            apiStages,
          });
    // A usage identifier, not a credential: with key source AUTHORIZER, API Gateway ignores a client's x-api-key.
    // Stable per stack (the stack id's UUID), unique per account, and known at deploy time without a custom resource.
    const sharedValue = Fn.join('', ['dualgate-shared-', Fn.select(2, Fn.split('/', stack.stackId))]);
    const sharedKey = new apigateway.ApiKey(this, 'SharedUsageKey', {
      value: sharedValue,
      enabled: true,
      description: 'dualgate: usage identifier shared by consumers without a plan; not a credential',
    });
    this.sharedUsagePlan.addApiKey(sharedKey);

    const runtime: RuntimePlans = {
      usagePlanNames: Object.fromEntries(Object.keys(usagePlans).map((name) => [name, usagePlanName(name)])),
      sharedUsageKey: sharedValue,
      usageKeyOwner: owner,
      ...(config.defaultPlan !== undefined ? { defaultPlan: config.defaultPlan } : {}),
    };
    const plansJson = stack.toJsonString(runtime);
    wiring.authorizerFunction.addEnvironment(SETTING_NAMES.plans, plansJson);
    for (const spec of PLAN_GATEWAY_RESPONSES) {
      api.addGatewayResponse(`Response${spec.type}`, {
        type: apigateway.ResponseType.of(spec.type),
        statusCode: String(spec.statusCode),
        templates: { 'application/json': gatewayResponseTemplate(spec) },
        responseHeaders: gatewayResponseHeaderValues(),
      });
    }

    const fn = wiring.managementFunction;
    if (!fn) return;
    fn.addEnvironment(SETTING_NAMES.plans, plansJson);
    const arn = (path: string) => `arn:${stack.partition}:apigateway:${stack.region}::${path}`;
    const planPaths = Object.values(usagePlans).map((plan) => `/usageplans/${plan.usagePlanId}`);
    // Least privilege: create keys only tagged as this API's, delete only keys tagged so, list usage plans (to find
    // this API's by name), move keys in and out of this API's usage plans and read their usage and membership; never
    // another API's plans or keys. Per the Service Authorization Reference for API Gateway Management
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigatewaymanagement.html):
    // - CreateApiKey is apigateway:POST on ApiKeys (`::/apikeys`), plus apigateway:PUT on Tags
    //   (`::/tags/${UrlEncodedResourceARN}`) when it carries tags; both take aws:RequestTag and aws:TagKeys. The new
    //   key has no id yet, so its tags resource is the API-key one with a wildcard id (API Gateway names the
    //   URL-encoded ARN with `*` for the id in its AccessDenied messages for a tagged create: `%2Frestapis%2F*`).
    //   That resource also matches TagResource on any existing key, so a Deny refuses it on a key that carries
    //   another owner's tag (see apiKeyTags below).
    // - DeleteApiKey is apigateway:DELETE on ApiKey (`::/apikeys/${ApiKeyId}`), which takes aws:ResourceTag
    //   (see also https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-iam-policy.html).
    // - Usage-plan keys (`::/usageplans/${UsagePlanId}/keys[/${Id}]`) are named by the usage plan's id: no tag needed.
    // A policy of its own, not the role's default policy: the function depends on that one, and these statements
    // name the usage plans, which depend on the function (through the stage, the deployment and the methods).
    const ownTag = {
      StringEquals: { [`aws:RequestTag/${USAGE_KEY_OWNER_TAG}`]: owner },
      'ForAllValues:StringEquals': { 'aws:TagKeys': [USAGE_KEY_OWNER_TAG] },
    };
    // The tags resource of API keys only (`::/apikeys/${id}`, URL-encoded as API Gateway spells it: `:` %3A, `/` %2F),
    // never of REST APIs, stages or usage plans: a key re-tagged with our owner would pass DeleteOwnUsageKeys.
    // Remaining risk, which IAM cannot close here: a key that has no dualgate:owner tag at all (another stack's
    // untagged key) can still be given ours, then deleted. At authorization a key being created has no resource tags
    // (it does not exist yet), exactly like an untagged existing key, so no aws:ResourceTag condition tells the two
    // apart; allowing only the create-time resource (a literal `*` id, `${*}` in IAM) would, but API Gateway does not
    // document that spelling for API keys, and a wrong guess breaks every PUT /consumers. SECURITY.md lists it.
    const apiKeyTags = arn(`/tags/arn%3A${stack.partition}%3Aapigateway%3A${stack.region}%3A%3A%2Fapikeys%2F*`);
    new iam.Policy(this, 'UsagePlanAccess', {
      roles: [fn.role as iam.IRole],
      statements: [
        new iam.PolicyStatement({
          sid: 'CreateOwnUsageKeys',
          actions: ['apigateway:POST'],
          resources: [arn('/apikeys')],
          conditions: ownTag,
        }),
        new iam.PolicyStatement({
          sid: 'TagOwnUsageKeysOnCreate',
          actions: ['apigateway:PUT'],
          resources: [apiKeyTags],
          conditions: ownTag,
        }),
        // Never re-tag a key that carries another owner's tag. Both conditions must hold: a key being created has no
        // resource tag (were it filled from the request tags, it would be ours), and a negated operator, like
        // StringNotEqualsIfExists, is true for a missing key: alone, it would deny every creation.
        new iam.PolicyStatement({
          sid: 'DenyRetaggingOtherOwnersKeys',
          effect: iam.Effect.DENY,
          actions: ['apigateway:PUT'],
          resources: [apiKeyTags],
          conditions: {
            Null: { [`aws:ResourceTag/${USAGE_KEY_OWNER_TAG}`]: 'false' },
            StringNotEquals: { [`aws:ResourceTag/${USAGE_KEY_OWNER_TAG}`]: owner },
          },
        }),
        new iam.PolicyStatement({
          sid: 'DeleteOwnUsageKeys',
          actions: ['apigateway:DELETE'],
          resources: [arn('/apikeys/*')],
          conditions: { StringEquals: { [`aws:ResourceTag/${USAGE_KEY_OWNER_TAG}`]: owner } },
        }),
        new iam.PolicyStatement({
          sid: 'AddKeysToOwnUsagePlans',
          actions: ['apigateway:POST'],
          resources: planPaths.map((path) => arn(`${path}/keys`)),
        }),
        new iam.PolicyStatement({
          sid: 'RemoveKeysFromOwnUsagePlans',
          actions: ['apigateway:DELETE'],
          resources: planPaths.map((path) => arn(`${path}/keys/*`)),
        }),
        // GetUsagePlanKey (`/keys/${keyId}`): is a key already in the plan, when CreateUsagePlanKey answers a conflict?
        new iam.PolicyStatement({
          sid: 'ReadOwnUsagePlans',
          actions: ['apigateway:GET'],
          resources: [arn('/usageplans'), ...planPaths.flatMap((path) => [arn(`${path}/usage`), arn(`${path}/keys/*`)])],
        }),
      ],
    });
  }
}
