/**
 * The key table, loaded on first use. Importing the AWS SDK and building its client is most of the authorizer's
 * cold start (docs/performance.md), and a JWT decision never reads the table unless plans need the caller's
 * consumer record. So the SDK is imported by the first call that needs it (a key lookup, a `lastUsedAt` write,
 * a consumer read), and never by a container that only ever sees JWTs. Concurrent first calls share one import
 * and one client.
 */
import type { ConsumerLookup, EntitlementLookup, EntitlementRecord } from '../shared/consumer-store';
import type { KeyRecord } from '../core/key-record';
import type { KeyLookup, KeyUsageWriter } from '../shared/key-store';
import { KeyStoreUnavailableError } from '../core/key-store-errors';
import type { ConsumerRecord } from '../core/plans';

/** What the authorizer reads and writes in the key table, once the SDK is loaded. */
export interface KeyTableStores {
  keyLookup: KeyLookup;
  usageWriter: KeyUsageWriter;
  consumerLookup: ConsumerLookup;
  /** Absent only in tests that never hold entitled scopes. */
  entitlementLookup?: EntitlementLookup;
}

/** Imports the SDK and builds the client and the stores (lambdas/authorizer/key-table-client.ts). */
export type KeyTableLoader = () => Promise<KeyTableStores>;

export class OnDemandKeyTable implements KeyLookup, KeyUsageWriter, ConsumerLookup, EntitlementLookup {
  private stores: KeyTableStores | undefined;
  private loading: Promise<KeyTableStores> | undefined;
  /** Loader calls so far (tests and benchmarks). */
  loads = 0;

  constructor(private readonly loader: KeyTableLoader) {}

  get loaded(): boolean {
    return this.stores !== undefined;
  }

  /**
   * The stores, loading them first if needed; calls made while a load is under way share it. A failed load
   * rejects with `KeyStoreUnavailableError`, so a decision fails closed with `key_store_unavailable` exactly as for
   * an unreachable table (stale-if-error included), and it is not remembered: the next call tries again.
   */
  load(): Promise<KeyTableStores> {
    if (this.stores) return Promise.resolve(this.stores);
    if (!this.loading) {
      this.loads++;
      // Started from a resolved promise: a loader that throws synchronously rejects like one that rejects.
      this.loading = Promise.resolve()
        .then(() => this.loader())
        .then(
          (stores) => {
            this.stores = stores;
            this.loading = undefined;
            return stores;
          },
          (error: unknown) => {
            this.loading = undefined;
            throw new KeyStoreUnavailableError('key table client failed to load', { cause: error });
          },
        );
    }
    return this.loading;
  }

  getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    return this.stores ? this.stores.keyLookup.getByHash(keyHash) : this.load().then((stores) => stores.keyLookup.getByHash(keyHash));
  }

  recordUse(keyHash: string, usedAt: string, notAfter: string): Promise<boolean> {
    return this.stores
      ? this.stores.usageWriter.recordUse(keyHash, usedAt, notAfter)
      : this.load().then((stores) => stores.usageWriter.recordUse(keyHash, usedAt, notAfter));
  }

  getConsumer(sub: string): Promise<ConsumerRecord | undefined> {
    return this.stores ? this.stores.consumerLookup.getConsumer(sub) : this.load().then((stores) => stores.consumerLookup.getConsumer(sub));
  }

  getEntitlements(sub: string): Promise<EntitlementRecord | undefined> {
    const read = (stores: KeyTableStores): Promise<EntitlementRecord | undefined> =>
      stores.entitlementLookup
        ? stores.entitlementLookup.getEntitlements(sub)
        : Promise.reject(new KeyStoreUnavailableError('no entitlement lookup'));
    return this.stores ? read(this.stores) : this.load().then(read);
  }
}
