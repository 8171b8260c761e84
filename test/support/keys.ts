/** Build stored key records for tests, the way the management API will. */
import { generateKey, hashKey } from '../../lambdas/core/key-format';
import type { KeyRecord } from '../../lambdas/core/key-record';
import type { KeyLookup } from '../../lambdas/shared/key-store';

export function makeKey(overrides: Partial<KeyRecord> = {}, prefix = 'dg'): { key: string; record: KeyRecord } {
  const { key, start } = generateKey(prefix);
  const record: KeyRecord = {
    keyHash: hashKey(key),
    keyId: `key_${Math.random().toString(36).slice(2, 12).toUpperCase()}`,
    owner: 'user-123',
    name: 'test key',
    scopes: ['read:users'],
    createdAt: new Date().toISOString(),
    createdBy: 'user-123',
    enabled: true,
    start,
    version: 1,
    ...overrides,
  };
  return { key, record };
}

/** An in-memory KeyLookup that counts reads and can be told to fail. */
export class FakeKeyLookup implements KeyLookup {
  reads = 0;
  failWith: Error | undefined;
  readonly records = new Map<string, KeyRecord>();
  constructor(...records: KeyRecord[]) {
    for (const record of records) this.records.set(record.keyHash, record);
  }
  async getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    this.reads++;
    if (this.failWith) throw this.failWith;
    return this.records.get(keyHash);
  }
}
