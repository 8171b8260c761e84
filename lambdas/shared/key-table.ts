/**
 * The key table's shape, in one place: the CDK construct and local mode's dynalite table are both built
 * from it, so local and AWS cannot drift apart.
 */
export const KEY_TABLE = {
  partitionKey: 'keyHash',
  /** Epoch seconds. DynamoDB TTL deletes lazily (up to ~48 h late), so expiry is also checked on every read. */
  ttlAttribute: 'expiresAt',
  indexes: {
    /** Management by public id. */
    byId: { partitionKey: 'keyId' },
    /** Listing a principal's keys, newest last. */
    byOwner: { partitionKey: 'owner', sortKey: 'createdAt' },
  },
} as const;

export type KeyTableIndexName = keyof typeof KEY_TABLE.indexes;
