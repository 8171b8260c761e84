/**
 * The API-key check: shape and checksum (no I/O) → SHA-256 → in-memory cache → one GetItem →
 * expiry, revocation and `enabled` checked on every decision, never trusting DynamoDB's lazy TTL.
 */
import { BoundedCache } from '../core/bounded-cache';
import { hashKey, parseKey } from '../core/key-format';
import { keyStatus, MalformedKeyItemError, type KeyRecord } from '../core/key-record';
import type { KeyLookup } from '../shared/key-store';
import type { LastUsedRecorder } from './last-used';
import { dependsOnEntitlements, effectiveScopes } from '../core/entitlements';
import type { EntitlementCache } from './entitlement-cache';
import { normaliseScopes, type Principal } from '../core/principal';
import { reject, type CredentialCheck, type CheckResult, type RejectReason } from './decision';

export interface ApiKeyCheckOptions {
  keyPrefix: string;
  store: KeyLookup;
  /** How long a found key is trusted without re-reading the table. Bounds revocation delay (with the API Gateway cache). */
  keyCacheTtlSeconds: number;
  /** How long an unknown hash is remembered, so a flood of one junk key costs one read. */
  negativeCacheTtlSeconds: number;
  /** While the table is failing, a key verified within the last `keyCacheTtlSeconds + staleIfErrorSeconds` still works. 0 disables it. */
  staleIfErrorSeconds: number;
  maxCacheEntries: number;
  nowMs?: () => number;
  /** Records `lastUsedAt` off the decision's path; absent = not recorded. */
  lastUsed?: LastUsedRecorder;
  /**
   * The owners' current entitlements, for keys holding entitled scopes. Absent: such a key fails closed
   * (`key_store_unavailable`), never keeps scopes it cannot check.
   */
  entitlements?: EntitlementCache;
}

interface CachedLookup {
  record: KeyRecord | undefined;
  fetchedAtMs: number;
}

const STATUS_REASON: Record<Exclude<ReturnType<typeof keyStatus>, 'active'>, RejectReason> = {
  expired: 'key_expired',
  revoked: 'key_revoked',
  disabled: 'key_disabled',
};

export class ApiKeyCheck implements CredentialCheck {
  private readonly cache: BoundedCache<string, CachedLookup>;
  private readonly inFlight = new Map<string, Promise<KeyRecord | undefined>>();
  /** Per stored record: its principal, and for entitled keys the entitlement snapshot it was computed from. */
  private readonly principals = new WeakMap<KeyRecord, { principal: Principal; entitled?: ReadonlySet<string> }>();
  private readonly nowMs: () => number;
  /** DynamoDB reads made, for tests and benchmarks. */
  reads = 0;

  constructor(private readonly options: ApiKeyCheckOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.cache = new BoundedCache(options.maxCacheEntries, this.nowMs);
  }

  evaluate(credential: string): CheckResult | Promise<CheckResult> {
    const parsed = parseKey(credential, this.options.keyPrefix);
    if (!parsed.ok)
      return reject(
        parsed.reason === 'wrong_prefix'
          ? 'key_wrong_prefix'
          : parsed.reason === 'bad_checksum'
            ? 'key_bad_checksum'
            : 'malformed_credential',
      );
    const keyHash = hashKey(credential);
    const nowMs = this.nowMs();
    const cached = this.cache.get(keyHash, nowMs);
    const freshForMs = (cached?.record ? this.options.keyCacheTtlSeconds : this.options.negativeCacheTtlSeconds) * 1000;
    if (cached && nowMs - cached.fetchedAtMs < freshForMs) return this.decide(cached.record, keyHash, nowMs, 'key_valid', true);
    return this.lookUp(keyHash, cached, nowMs);
  }

  private async lookUp(keyHash: string, cached: CachedLookup | undefined, nowMs: number): Promise<CheckResult> {
    let record: KeyRecord | undefined;
    try {
      record = await this.read(keyHash);
    } catch (error) {
      if (error instanceof MalformedKeyItemError) return reject('key_item_malformed');
      // Stale-if-error: only a key that was valid recently, and only within the configured window.
      if (cached?.record) return this.decide(cached.record, keyHash, nowMs, 'key_valid_stale', true);
      return { kind: 'fail', reason: 'key_store_unavailable', error };
    }
    const ttlMs = record
      ? (this.options.keyCacheTtlSeconds + this.options.staleIfErrorSeconds) * 1000
      : this.options.negativeCacheTtlSeconds * 1000;
    this.cache.set(keyHash, { record, fetchedAtMs: nowMs }, ttlMs);
    return this.decide(record, keyHash, nowMs, 'key_valid', false);
  }

  /** One read per hash at a time: concurrent requests for the same key share it. */
  private read(keyHash: string): Promise<KeyRecord | undefined> {
    const pending = this.inFlight.get(keyHash);
    if (pending !== undefined) return pending;
    this.reads++;
    const read = this.options.store.getByHash(keyHash).finally(() => this.inFlight.delete(keyHash));
    this.inFlight.set(keyHash, read);
    return read;
  }

  private decide(
    record: KeyRecord | undefined,
    keyHash: string,
    nowMs: number,
    reason: 'key_valid' | 'key_valid_stale',
    cached: boolean,
  ): CheckResult | Promise<CheckResult> {
    if (!record || record.keyHash !== keyHash) return reject('key_not_found');
    const status = keyStatus(record, Math.floor(nowMs / 1000));
    if (status !== 'active') return reject(STATUS_REASON[status]);
    // Fire-and-forget: never awaited here, and a failure is the recorder's to log.
    this.options.lastUsed?.noteUse(record, nowMs, !cached);
    if (!dependsOnEntitlements(record)) return this.principalResult(record, undefined, reason, cached);
    // The key holds scopes through its owner's entitlements: they count only while the owner still has them.
    const entitlements = this.options.entitlements;
    if (!entitlements) return { kind: 'fail', reason: 'key_store_unavailable', error: new Error('no entitlement lookup configured') };
    let entitled: ReadonlySet<string> | Promise<ReadonlySet<string>>;
    try {
      entitled = entitlements.entitlementsOf(record.owner);
    } catch (error) {
      return { kind: 'fail', reason: 'key_store_unavailable', error };
    }
    if (!(entitled instanceof Promise)) return this.principalResult(record, entitled, reason, cached);
    return entitled.then(
      (scopes) => this.principalResult(record, scopes, reason, false),
      // Fail closed: a key whose entitlements cannot be read keeps none of its authority (503, logged).
      (error: unknown): CheckResult => ({ kind: 'fail', reason: 'key_store_unavailable', error }),
    );
  }

  /** One frozen principal per stored record and entitlement snapshot: the authorizer keeps its answers beside that object. */
  private principalResult(
    record: KeyRecord,
    entitled: ReadonlySet<string> | undefined,
    reason: 'key_valid' | 'key_valid_stale',
    cached: boolean,
  ): CheckResult {
    let known = this.principals.get(record);
    if (!known || known.entitled !== entitled) {
      const scopes = entitled === undefined ? record.scopes : effectiveScopes(record, entitled);
      known = {
        principal: Object.freeze({
          sub: record.owner,
          scopes: Object.freeze(normaliseScopes(scopes)),
          authMethod: 'apiKey',
          keyId: record.keyId,
        }),
        ...(entitled ? { entitled } : {}),
      };
      this.principals.set(record, known);
    }
    return { kind: 'principal', principal: known.principal, reason, cached };
  }
}
