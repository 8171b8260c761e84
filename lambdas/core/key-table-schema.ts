/**
 * The key table's shape, in one place: the CDK construct (lib/construct/key-table.ts) and local mode's dynalite
 * table (lib/local/dynamo.ts, createKeyTable) are both built from it, so local and AWS cannot drift apart.
 */
export const KEY_TABLE = {
  partitionKey: 'keyHash',
  /** Epoch seconds. DynamoDB TTL deletes lazily (up to ~48 h late), so expiry is also checked on every read. */
  ttlAttribute: 'expiresAt',
  /** Written by the authorizer alone (UpdateItem of this attribute only, see lib/construct/authorizer.ts and KeyTable.grantUpdateAttributes in lib/construct/key-table.ts). */
  lastUsedAttribute: 'lastUsedAt',
  indexes: {
    /** Management by public id. */
    byId: { partitionKey: 'keyId' },
    /** Listing a principal's keys, newest last. */
    byOwner: { partitionKey: 'owner', sortKey: 'createdAt' },
  },
} as const;
