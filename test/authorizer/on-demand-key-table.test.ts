/** The key table loaded on first use: one load for concurrent callers, failures that fail closed and are retried. */
import { describe, expect, it } from 'vitest';
import { OnDemandKeyTable, type KeyTableStores } from '../../lambdas/authorizer/on-demand-key-table';
import { KeyStoreUnavailableError } from '../../lambdas/shared/key-store';
import type { ConsumerRecord } from '../../lambdas/core/plans';
import { FakeKeyLookup, makeKey } from '../support/keys';

const consumer: ConsumerRecord = {
  sub: 'alice',
  plan: 'pro',
  keyPlan: 'pro',
  apiKeyId: 'k1',
  apiKeyValue: 'alice-usage-key',
  updatedAt: 't',
  updatedBy: 'admin',
};

function fakeStores(...records: ReturnType<typeof makeKey>['record'][]) {
  const keyLookup = new FakeKeyLookup(...records);
  const writes: string[] = [];
  const stores: KeyTableStores = {
    keyLookup,
    usageWriter: { recordUse: async (keyHash) => (writes.push(keyHash), true) },
    consumerLookup: { getConsumer: async (sub) => (sub === consumer.sub ? consumer : undefined) },
  };
  return { stores, keyLookup, writes };
}

/** A loader that resolves only when the test says so, counting its calls. */
function gatedLoader(stores: KeyTableStores) {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const loader = { calls: 0, load: async () => (loader.calls++, await gate, stores), open: () => open() };
  return loader;
}

describe('OnDemandKeyTable', () => {
  it('calls its loader only when a lookup, a lastUsedAt write or a consumer read needs the table', async () => {
    const { record } = makeKey();
    const { stores } = fakeStores(record);
    let calls = 0;
    const table = new OnDemandKeyTable(async () => (calls++, stores));
    expect(calls).toBe(0);
    expect(table.loaded).toBe(false);
    expect(await table.getByHash(record.keyHash)).toEqual(record);
    expect(calls).toBe(1);
    expect(table.loaded).toBe(true);
  });

  it('shares one load among concurrent first callers of every kind, and never loads again', async () => {
    const { record } = makeKey();
    const { stores, writes } = fakeStores(record);
    const loader = gatedLoader(stores);
    const table = new OnDemandKeyTable(loader.load);
    const pending = [
      table.getByHash(record.keyHash),
      table.getByHash('unknown'),
      table.recordUse(record.keyHash, 'now', 'before'),
      table.getConsumer('alice'),
    ];
    loader.open();
    expect(await Promise.all(pending)).toEqual([record, undefined, true, consumer]);
    expect(loader.calls).toBe(1);
    expect(table.loads).toBe(1);
    expect(writes).toEqual([record.keyHash]);
    await table.getByHash(record.keyHash);
    await table.load();
    expect(loader.calls).toBe(1);
  });

  it('rejects every waiting caller with KeyStoreUnavailableError when the load fails, keeping the cause', async () => {
    const cause = new Error("Cannot find module './chunk-SDK.mjs'");
    const table = new OnDemandKeyTable(async () => {
      throw cause;
    });
    const results = await Promise.allSettled([table.getByHash('a'), table.recordUse('a', 'now', 'before'), table.getConsumer('alice')]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as KeyStoreUnavailableError;
      expect(error).toBeInstanceOf(KeyStoreUnavailableError);
      expect(error.cause).toBe(cause);
    }
    expect(table.loads).toBe(1);
    expect(table.loaded).toBe(false);
  });

  it('treats a loader that throws synchronously like one that rejects', async () => {
    const table = new OnDemandKeyTable(() => {
      throw new Error('SDK module evaluation failed');
    });
    await expect(table.getByHash('a')).rejects.toBeInstanceOf(KeyStoreUnavailableError);
  });

  it('does not remember a failed load: the next call loads again, and succeeds once the loader does', async () => {
    const { record } = makeKey();
    const { stores } = fakeStores(record);
    let failing = true;
    const table = new OnDemandKeyTable(async () => {
      if (failing) throw new Error('EMFILE: too many open files');
      return stores;
    });
    await expect(table.getByHash(record.keyHash)).rejects.toBeInstanceOf(KeyStoreUnavailableError);
    failing = false;
    expect(await table.getByHash(record.keyHash)).toEqual(record);
    expect(table.loads).toBe(2);
  });

  it("passes the stores' own failures through unchanged once loaded", async () => {
    const { record } = makeKey();
    const { stores, keyLookup } = fakeStores(record);
    const table = new OnDemandKeyTable(async () => stores);
    await table.load();
    const throttled = new KeyStoreUnavailableError('key table read failed', { cause: new Error('ThrottlingException') });
    keyLookup.failWith = throttled;
    await expect(table.getByHash(record.keyHash)).rejects.toBe(throttled);
  });
});
