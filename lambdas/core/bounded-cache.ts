/**
 * A size-bounded map with per-entry expiry. Every in-process cache in dualgate is one of these, so that
 * spraying distinct credentials can never grow memory without bound. When full, the oldest insertion is
 * evicted (a JS Map keeps insertion order). Hits do not reorder: entries live seconds to minutes anyway,
 * and keeping `get` a plain lookup matters on the authorizer's hot path more than perfect LRU order.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAtMs: number }>();

  constructor(
    readonly maxEntries: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('maxEntries must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, if present and not expired. Expired entries are dropped. Pass `nowMs` if the caller already read the clock. */
  get(key: K, nowMs?: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= (nowMs ?? this.nowMs())) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: K, value: V, ttlMs: number): void {
    if (ttlMs <= 0) {
      this.entries.delete(key);
      return;
    }
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs: this.nowMs() + ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
