/**
 * The key table: SHA-256 hashes of the keys (never the keys), their metadata, and consumer records, keyed by
 * `keyHash`, with the `byId` and `byOwner` indexes the key API queries, and what each of dualgate's functions may do
 * to it (least privilege, one grant per kind of caller).
 *
 * The table is this construct's `Default` child: CDK leaves `Default` out of logical ids, so `new KeyTable(gate,
 * 'KeyTable')` keeps the logical id of the table DualAuthApi used to create as `new dynamodb.Table(gate, 'KeyTable')`,
 * and an upgrade never replaces a deployed key table. Its construct path gains a `/Default` segment.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { KEY_TABLE } from '../../lambdas/core/key-table-schema';

/** A function (or anything with a role) the grants add statements to: `lambda.Function` is one. */
interface RoleHolder {
  addToRolePolicy(statement: iam.PolicyStatement): void;
}

export class KeyTable extends Construct {
  /** The DynamoDB table (DualAuthApi's `table`). */
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Default', {
      partitionKey: { name: KEY_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: KEY_TABLE.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      // Losing the key table would lock out every key holder: keep it when the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'byId',
      partitionKey: { name: KEY_TABLE.indexes.byId.partitionKey, type: dynamodb.AttributeType.STRING },
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'byOwner',
      partitionKey: { name: KEY_TABLE.indexes.byOwner.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: KEY_TABLE.indexes.byOwner.sortKey, type: dynamodb.AttributeType.STRING },
    });
  }

  /** Read one key by hash, on the table itself: no index, no query or scan. */
  grantReadKeyByHash(grantee: RoleHolder): void {
    grantee.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [this.table.tableArn] }));
  }

  /**
   * UpdateItem of these attributes only (list the partition key too: every request names it), returning nothing:
   * the grantee can neither change any other attribute, nor create, delete or read through the write.
   */
  grantUpdateAttributes(grantee: RoleHolder, attributes: readonly string[]): void {
    grantee.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...attributes] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
        },
      }),
    );
  }

  /** The key API: item reads and writes on the table, and queries through the two named indexes, never a scan. */
  grantKeyManagement(grantee: RoleHolder): void {
    grantee.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [this.table.tableArn],
      }),
    );
    grantee.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: Object.keys(KEY_TABLE.indexes).map((indexName) => `${this.table.tableArn}/index/${indexName}`),
      }),
    );
  }
}
