/**
 * Plans: which API Gateway usage key a principal's requests count against. A consumer with a plan of its own has
 * its own key (its consumer record); everyone else shares one key. The answer goes into the authorizer response
 * as `usageIdentifierKey`, and API Gateway caches it with the policy: a plan change reaches the gateway within
 * this cache's TTL plus the authorizer cache's TTL, the same bound as a revocation.
 */
import { BoundedCache } from '../core/bounded-cache';
import type { ConsumerLookup } from '../shared/consumer-store';
import type { ConsumerRecord } from '../core/plans';

export interface UsageIdentifierOptions {
  lookup: ConsumerLookup;
  /** The key shared by consumers without a plan of their own. */
  sharedUsageKey: string;
  /** As long as found keys are trusted (keyCacheTtlSeconds): the two caches give one documented bound. */
  cacheTtlSeconds: number;
  /** While the table fails, a consumer read within `cacheTtlSeconds + staleIfErrorSeconds` keeps its identifier. */
  staleIfErrorSeconds: number;
  maxCacheEntries: number;
  nowMs?: () => number;
}

interface CachedConsumer {
  identifier: string;
  fetchedAtMs: number;
}

export class UsageIdentifiers {
  private readonly cache: BoundedCache<string, CachedConsumer>;
  private readonly inFlight = new Map<string, Promise<ConsumerRecord | undefined>>();
  private readonly nowMs: () => number;
  /** Table reads made, for tests and benchmarks. */
  reads = 0;

  constructor(private readonly options: UsageIdentifierOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.cache = new BoundedCache(options.maxCacheEntries, this.nowMs);
  }

  /** Synchronous when cached; a promise when it reads the table. Rejects when the table fails and nothing usable is cached. */
  identifierFor(sub: string): string | Promise<string> {
    const nowMs = this.nowMs();
    const cached = this.cache.get(sub, nowMs);
    if (cached && nowMs - cached.fetchedAtMs < this.options.cacheTtlSeconds * 1000) return cached.identifier;
    return this.lookUp(sub, cached, nowMs);
  }

  private async lookUp(sub: string, cached: CachedConsumer | undefined, nowMs: number): Promise<string> {
    let record: ConsumerRecord | undefined;
    try {
      record = await this.read(sub);
    } catch (error) {
      // Stale-if-error, as for keys: a consumer seen recently keeps its bucket while the table is down.
      if (cached) return cached.identifier;
      throw error;
    }
    // A record without a plan is one whose deletion has begun (its key may be gone): the shared key.
    const identifier = record?.plan !== undefined ? record.apiKeyValue : this.options.sharedUsageKey;
    this.cache.set(sub, { identifier, fetchedAtMs: nowMs }, (this.options.cacheTtlSeconds + this.options.staleIfErrorSeconds) * 1000);
    return identifier;
  }

  /** One read per sub at a time: concurrent first requests of one consumer share it. */
  private read(sub: string): Promise<ConsumerRecord | undefined> {
    const pending = this.inFlight.get(sub);
    if (pending !== undefined) return pending;
    this.reads++;
    const read = this.options.lookup.getConsumer(sub).finally(() => this.inFlight.delete(sub));
    this.inFlight.set(sub, read);
    return read;
  }
}
