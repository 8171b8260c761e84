/**
 * dualgate's own Lambda functions (authorizer, key API, portal, leak reports): one shape for all of them (Node.js 24
 * on ARM, a log group of their own), and code whose asset carries the compiled route table once synth knows it.
 *
 * The function, its log group and its deferred code asset are created in the scope given, under `id`, `${id}Logs`
 * and `${id}Code`: the ids DualAuthApi has always given them, so their logical ids stay what deployed stacks hold.
 */
import { type CfnResource, Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { RUNTIME_CONFIG_FILE, type RuntimeRouteConfig } from '../../lambdas/core/route-config';
import { AUTHORIZER_NODE_OPTIONS, LAMBDA_BUNDLE_FILE, LAMBDA_ENTRIES, LAMBDA_NODE_OPTIONS, type LambdaBundleName } from '../build/bundling';
import { bundleDirectory, codeDirectoryWith } from './lambda-code';

/**
 * Lambda code whose asset is created at synth, once the route table is final: the function's S3 location is a
 * lazy value, and the asset (bundle + route-table file) is added when `materialise` runs. Like Code.fromAsset, it
 * records the asset path on the function's resource metadata, so tools that read the assembly find the code.
 */
export class DeferredAssetCode extends lambda.Code {
  readonly isInline = false;
  private asset?: s3assets.Asset;
  private readonly resources: CfnResource[] = [];

  constructor(
    private readonly scope: Construct,
    private readonly id: string,
    private readonly bundleDir: string,
  ) {
    super();
  }

  override bind(): lambda.CodeConfig {
    return {
      s3Location: {
        bucketName: Lazy.string({ produce: () => this.requireAsset().s3BucketName }),
        objectKey: Lazy.string({ produce: () => this.requireAsset().s3ObjectKey }),
      },
    };
  }

  override bindToResource(resource: CfnResource): void {
    this.resources.push(resource);
  }

  /** Create the asset: the bundle plus the route table the function reads at init. Once; later calls do nothing. */
  materialise(config: RuntimeRouteConfig): void {
    if (this.asset) return;
    const dir = codeDirectoryWith(this.bundleDir, { [RUNTIME_CONFIG_FILE]: JSON.stringify(config) });
    this.asset = new s3assets.Asset(this.scope, this.id, { path: dir, exclude: ['.complete'] });
    for (const resource of this.resources) this.asset.addResourceMetadata(resource, 'Code');
  }

  private requireAsset(): s3assets.Asset {
    if (!this.asset)
      throw new Error(
        'dualgate: the Lambda code asset was not created; the construct must be synthesized through an App (aspects run at synth)',
      );
    return this.asset;
  }
}

/** A dualgate function and, unless `routeTable: false`, the deferred code its caller must materialise at synth. */
interface DualgateFunction {
  readonly fn: lambda.Function;
  readonly code?: DeferredAssetCode;
}

/** One of dualgate's own functions; with `routeTable` (default) its asset carries the compiled route table. */
export function dualgateFunction(
  scope: Construct,
  id: string,
  bundle: LambdaBundleName,
  environment: Record<string, string>,
  overrides: Partial<lambda.FunctionProps> = {},
  options: { routeTable?: boolean } = {},
): DualgateFunction {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: logs.RetentionDays.THREE_MONTHS,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const directory = bundleDirectory(bundle, LAMBDA_ENTRIES[bundle]);
  const deferred = options.routeTable === false ? undefined : new DeferredAssetCode(scope, `${id}Code`, directory);
  const nodeOptions = bundle === 'authorizer' ? AUTHORIZER_NODE_OPTIONS : LAMBDA_NODE_OPTIONS;
  const fn = new lambda.Function(scope, id, {
    code: deferred ?? lambda.Code.fromAsset(directory),
    handler: `${LAMBDA_BUNDLE_FILE.replace(/\.mjs$/, '')}.handler`,
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    timeout: Duration.seconds(10),
    logGroup,
    environment: { ...environment, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    ...overrides,
  });
  return deferred ? { fn, code: deferred } : { fn };
}
