/**
 * The owner's current entitlements, for keys that hold entitled scopes (lambdas/core/entitlements.ts). Read with
 * the GetItem the authorizer already has, cached per sub for `keyCacheTtlSeconds` (the same bound as a revoked
 * key: removing an entitlement reaches existing keys within authorizerCacheTtlSeconds + keyCacheTtlSeconds), with
 * the same stale-if-error window. Nothing cached and the table failing: the caller fails closed.
 */
import { BoundedCache } from '../core/bounded-cache';
import type { EntitlementLookup, EntitlementRecord } from '../shared/consumer-store';
import { currentEntitlements } from '../core/entitlements';

export interface EntitlementCacheOptions {
  lookup: EntitlementLookup;
  /** `portal.defaultScopes`: every consumer's entitlements. */
  defaultScopes: readonly string[];
  cacheTtlSeconds: number;
  staleIfErrorSeconds: number;
  maxCacheEntries: number;
  nowMs?: () => number;
}

interface CachedEntitlements {
  /** One Set per read: its identity tells the key check whether a memoised principal is still current. */
  scopes: ReadonlySet<string>;
  fetchedAtMs: number;
}

export class EntitlementCache {
  private readonly cache: BoundedCache<string, CachedEntitlements>;
  private readonly inFlight = new Map<string, Promise<EntitlementRecord | undefined>>();
  private readonly nowMs: () => number;
  /** Table reads made (tests). */
  reads = 0;

  constructor(private readonly options: EntitlementCacheOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.cache = new BoundedCache(options.maxCacheEntries, this.nowMs);
  }

  /** Synchronous when cached and fresh; a promise when it reads. Rejects when the table fails and nothing usable is cached. */
  entitlementsOf(sub: string): ReadonlySet<string> | Promise<ReadonlySet<string>> {
    const nowMs = this.nowMs();
    const cached = this.cache.get(sub, nowMs);
    if (cached && nowMs - cached.fetchedAtMs < this.options.cacheTtlSeconds * 1000) return cached.scopes;
    return this.lookUp(sub, cached, nowMs);
  }

  private async lookUp(sub: string, cached: CachedEntitlements | undefined, nowMs: number): Promise<ReadonlySet<string>> {
    let record: EntitlementRecord | undefined;
    try {
      record = await this.read(sub);
    } catch (error) {
      if (cached) return cached.scopes;
      throw error;
    }
    const scopes = currentEntitlements(this.options.defaultScopes, record?.scopes);
    this.cache.set(sub, { scopes, fetchedAtMs: nowMs }, (this.options.cacheTtlSeconds + this.options.staleIfErrorSeconds) * 1000);
    return scopes;
  }

  private read(sub: string): Promise<EntitlementRecord | undefined> {
    const pending = this.inFlight.get(sub);
    if (pending !== undefined) return pending;
    this.reads++;
    const read = this.options.lookup.getEntitlements(sub).finally(() => this.inFlight.delete(sub));
    this.inFlight.set(sub, read);
    return read;
  }
}
