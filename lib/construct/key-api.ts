/**
 * The key management API: its function (log group, route-table code), what it may do to the key table, where it is
 * mounted, and its routes (the key API's and the consumers' beside it). DualAuthApi adds those routes to its route
 * table with `addRoute`, like the app's own, so they are placed, authorized and compiled like every other route.
 *
 * A builder, not a construct of its own: it creates its resources in the scope it is given, under the ids
 * DualAuthApi has always used (`KeysHandler`, `KeysHandlerLogs`, `KeysHandlerCode`). The function and its log group
 * were siblings, so a `Default` child of a new construct could keep only one of their logical ids; building in the
 * parent keeps every logical id and construct path (`Gate/KeysHandler` is still the function) unchanged.
 */
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { consumerRoutes, DEFAULT_MANAGEMENT_BASE_PATH, managementRoutes, type RouteRule } from '../../lambdas/core/route-table';
import { DualgateConfigError } from './config';
import { dualgateFunction, type DeferredAssetCode } from './dualgate-function';
import type { KeyTable } from './key-table';

/** The `managementApi` prop's base path, checked: a path of literal segments. Throws DualgateConfigError naming the prop. */
export function keyApiBasePath(management: true | { readonly basePath?: string }): string {
  const basePath = management === true ? DEFAULT_MANAGEMENT_BASE_PATH : (management.basePath ?? DEFAULT_MANAGEMENT_BASE_PATH);
  if (typeof basePath !== 'string' || !/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath)) {
    throw new DualgateConfigError(
      `managementApi.basePath must be a path of literal segments such as /keys or /admin/keys (got ${JSON.stringify(basePath)})`,
    );
  }
  return basePath;
}

interface KeyApiProps {
  readonly keyTable: KeyTable;
  /** The function's environment (lib/construct/config.ts, runtimeEnvironment). */
  readonly environment: Record<string, string>;
  /** Where the key API is mounted, checked with keyApiBasePath. */
  readonly basePath: string;
}

export class KeyApi {
  readonly fn: lambda.Function;
  /** The function's code: materialise it with the compiled route table at synth. */
  readonly code: DeferredAssetCode;
  readonly basePath: string;
  /** The key API's routes, then the consumers' (entitlements, and plans when there are some): all served by `fn`. */
  readonly routes: readonly RouteRule[];

  constructor(scope: Construct, props: KeyApiProps) {
    const { fn, code } = dualgateFunction(scope, 'KeysHandler', 'keys', props.environment);
    this.fn = fn;
    this.code = code as DeferredAssetCode;
    props.keyTable.grantKeyManagement(fn);
    this.basePath = props.basePath;
    this.routes = [...managementRoutes(props.basePath), ...consumerRoutes(props.basePath)];
  }
}
