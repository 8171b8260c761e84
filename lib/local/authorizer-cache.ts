/**
 * API Gateway's authorizer result cache, as the local gateway applies it: keyed on the identity source
 * (the whole `Authorization` value), kept for `authorizerCacheTtlSeconds`, and reused for every route,
 * which is why the authorizer's policy covers all routes. Only successful authorizer responses are kept:
 * a thrown error (`Unauthorized` or a failure) is never cached, so an outage cannot stick.
 * Bounded, so spraying distinct credentials cannot grow memory.
 */
import { BoundedCache } from '../../lambdas/core/bounded-cache';

const MAX_AUTHORIZER_CACHE_ENTRIES = 10_000;

export class AuthorizerResultCache<Response> {
  private readonly entries: BoundedCache<string, Response>;

  constructor(
    private readonly ttlSeconds: number,
    nowMs: () => number = Date.now,
    maxEntries: number = MAX_AUTHORIZER_CACHE_ENTRIES,
  ) {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0) throw new RangeError('ttlSeconds must be a non-negative integer');
    this.entries = new BoundedCache(maxEntries, nowMs);
  }

  /** 0 turns API Gateway's cache off: every request calls the authorizer. */
  get enabled(): boolean {
    return this.ttlSeconds > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get(identitySource: string): Response | undefined {
    return this.enabled ? this.entries.get(identitySource) : undefined;
  }

  set(identitySource: string, response: Response): void {
    if (this.enabled) this.entries.set(identitySource, response, this.ttlSeconds * 1000);
  }
}
