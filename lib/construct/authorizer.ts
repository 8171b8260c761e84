/**
 * The authorizer: dualgate's REQUEST authorizer function (its log group and route-table code), what it may do to the
 * key table, and the API Gateway authorizer that calls a published version of it, keyed per credential and route.
 *
 * A builder, not a construct of its own: it creates its resources in the scope it is given, under the ids
 * DualAuthApi has always used (`Authorizer`, `AuthorizerLogs`, `AuthorizerCode`, `DualAuthorizer`). Those were
 * siblings with ids of their own, so a `Default` child of a new construct could keep only one of their logical ids;
 * building in the parent keeps every logical id and every construct path (`Gate/Authorizer` is still the function,
 * which local mode and its logs name by path) unchanged.
 */
import { type CfnResource, Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { AuthorizerCacheScope } from '../../lambdas/core/route-table';
import { KEY_TABLE } from '../../lambdas/core/key-table-schema';
import { dualgateFunction, type DeferredAssetCode } from './dualgate-function';
import type { KeyTable } from './key-table';

/**
 * The authorizer's identity sources: the credential, and in the `route` cache scope the resource and verb API
 * Gateway selected (`context.resourceId`, `context.httpMethod`), so that a cached result serves one route only.
 */
export function authorizerIdentitySources(cacheScope: AuthorizerCacheScope): string[] {
  const credential = apigateway.IdentitySource.header('Authorization');
  return cacheScope === 'route'
    ? [credential, apigateway.IdentitySource.context('resourceId'), apigateway.IdentitySource.context('httpMethod')]
    : [credential];
}

interface DualgateAuthorizerProps {
  /** The table the authorizer looks keys up in (and records lastUsedAt on). */
  readonly keyTable: KeyTable;
  /** The function's environment (lib/construct/config.ts, runtimeEnvironment). */
  readonly environment: Record<string, string>;
  /** What one cached result covers: `route` or `credential`. */
  readonly cacheScope: AuthorizerCacheScope;
  /** API Gateway's result cache TTL (0: no cache). */
  readonly resultsCacheTtlSeconds: number;
}

export class DualgateAuthorizer {
  /** The authorizer's function (API Gateway calls its current version). */
  readonly fn: lambda.Function;
  /** The function's code: materialise it with the compiled route table at synth. */
  readonly code: DeferredAssetCode;
  readonly authorizer: apigateway.RequestAuthorizer;
  readonly identitySources: readonly string[];
  /**
   * What the stage's deployment must hash (`addToLogicalId`), so that the stage is redeployed whenever the
   * authorizer's version, identity sources or TTL change.
   */
  readonly deploymentSalt: Record<string, unknown>;

  constructor(scope: Construct, props: DualgateAuthorizerProps) {
    const { fn, code } = dualgateFunction(scope, 'Authorizer', 'authorizer', props.environment, {
      memorySize: 512,
      timeout: Duration.seconds(5),
      // Each deploy's version is replaced by the next once the stage has moved to it (the deployment salt).
      currentVersionOptions: { removalPolicy: RemovalPolicy.DESTROY },
    });
    this.fn = fn;
    this.code = code as DeferredAssetCode;
    // Least privilege: the authorizer reads one item by hash, on the table itself (no index), and nothing else…
    props.keyTable.grantReadKeyByHash(fn);
    // …and records lastUsedAt: UpdateItem of that one attribute (plus the key, which every request names),
    // returning nothing, so the role can neither change a key's scopes or expiry nor read through the write.
    props.keyTable.grantUpdateAttributes(fn, [KEY_TABLE.partitionKey, KEY_TABLE.lastUsedAttribute]);

    // The stage must switch the authorizer's code and its identity sources together. API Gateway applies a change
    // of an authorizer to a stage only when the stage is redeployed, while an unqualified function would run new code
    // at once: a route-scoped answer cached under the old, credential-only key would then serve every route. So the
    // authorizer calls a published version, and the deployment changes whenever that version or the identity
    // sources do (deploymentSalt).
    const version = fn.currentVersion;
    const identitySources = authorizerIdentitySources(props.cacheScope);
    this.identitySources = identitySources;
    this.authorizer = new apigateway.RequestAuthorizer(scope, 'DualAuthorizer', {
      handler: version,
      // A request missing any identity source gets 401 without invoking the authorizer; the result cache is keyed
      // on all of them. A REQUEST authorizer takes `context.*` variables as identity sources ("Identity sources" in
      // https://docs.aws.amazon.com/apigateway/latest/developerguide/configure-api-gateway-lambda-authorization.html,
      // and `identitySource` in https://docs.aws.amazon.com/apigateway/latest/api/API_Authorizer.html): with the
      // resource and the verb in the key, API Gateway never reuses one route's result for another.
      identitySources,
      resultsCacheTtl: Duration.seconds(props.resultsCacheTtlSeconds),
    });
    const stack = Stack.of(scope);
    this.deploymentSalt = {
      authorizerIdentitySources: identitySources,
      authorizerResultTtlSeconds: props.resultsCacheTtlSeconds,
      authorizerVersion: Lazy.string({ produce: () => stack.resolve((version.node.defaultChild as CfnResource).logicalId) as string }),
    };
  }
}
