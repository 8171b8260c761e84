/**
 * API Gateway usage plans, emulated for local mode: usage plans with a throttle and a quota, API keys, the keys
 * of each plan, and per key a token bucket and a quota counter. The local gateway asks `admit()` about every
 * request to a method that requires an API key; the control-plane server (control-plane.ts) answers the key
 * API's CreateApiKey, CreateUsagePlanKey, GetUsagePlanKey, DeleteUsagePlanKey, DeleteApiKey and GetUsage calls
 * from the same state. Definitions are what a template holds (AWS::ApiGateway::UsagePlan, ApiKey,
 * UsagePlanKey), so `dualgate dev` can build them from a cloud assembly.
 */
import { randomBytes } from 'node:crypto';
import type { PlanQuota } from '../../../lambdas/core/plans';
import { currentCount, periodStartMs, takeQuota, type QuotaCounter } from './quota';
import { takeToken, type BucketLimits, type BucketState } from './token-bucket';

export interface UsagePlanDefinition {
  readonly id: string;
  readonly name: string;
  /** Absent: no per-key throttle (only the stage's). */
  readonly throttle?: BucketLimits;
  readonly quota?: PlanQuota;
}

interface ApiKeyDefinition {
  readonly id: string;
  readonly value: string;
  readonly name: string;
  readonly enabled: boolean;
  /** As CreateApiKey's `tags` (the key API tags its keys `dualgate:owner`). */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Why a request is refused: `forbidden` → 403 (no such key or no plan), the others → 429. */
type AdmitResult = 'ok' | 'forbidden' | 'throttled' | 'quota_exceeded';

export class UsagePlanError extends Error {
  constructor(
    /** API Gateway's error type, sent as `x-amzn-errortype`. */
    readonly type: 'NotFoundException' | 'ConflictException' | 'BadRequestException' | 'LimitExceededException',
    message: string,
  ) {
    super(message);
  }
}

/** What `--data` keeps: keys, plan membership and counts (token buckets refill in seconds, so they are not kept). */
export interface UsagePlanSnapshot {
  version: 1;
  apiKeys: ApiKeyDefinition[];
  planKeys: { usagePlanId: string; keyId: string }[];
  quotas: { usagePlanId: string; keyId: string; periodStartMs: number; used: number }[];
  daily: { usagePlanId: string; keyId: string; date: string; used: number }[];
}

/** API Gateway's limit: 10,000 API keys per account and Region, not adjustable. */
const MAX_API_KEYS = 10_000;

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class UsagePlanEmulator {
  private readonly plans = new Map<string, UsagePlanDefinition>();
  private readonly keysById = new Map<string, ApiKeyDefinition>();
  private readonly keysByValue = new Map<string, ApiKeyDefinition>();
  /** keyId → usagePlanId: one plan per key on this API's stage. */
  private readonly planOfKey = new Map<string, string>();
  private readonly buckets = new Map<string, BucketState>();
  private readonly quotas = new Map<string, QuotaCounter>();
  private readonly daily = new Map<string, number>();
  private readonly nowMs: () => number;
  private readonly maxApiKeys: number;

  constructor(options: { plans: readonly UsagePlanDefinition[]; nowMs?: () => number; maxApiKeys?: number; onChange?: () => void }) {
    for (const plan of options.plans) this.plans.set(plan.id, plan);
    this.nowMs = options.nowMs ?? Date.now;
    this.maxApiKeys = options.maxApiKeys ?? MAX_API_KEYS;
    this.onChange = options.onChange ?? (() => undefined);
  }

  private readonly onChange: () => void;

  usagePlans(): UsagePlanDefinition[] {
    return [...this.plans.values()];
  }

  /** The gateway's check, after the authorizer allowed the request. */
  admit(identifierKey: string | undefined): AdmitResult {
    const key = identifierKey === undefined ? undefined : this.keysByValue.get(identifierKey);
    if (!key?.enabled) return 'forbidden';
    const planId = this.planOfKey.get(key.id);
    const plan = planId === undefined ? undefined : this.plans.get(planId);
    if (!plan) return 'forbidden';
    const nowMs = this.nowMs();
    const slot = `${plan.id}|${key.id}`;
    if (plan.quota && currentCount(this.quotas.get(slot), plan.quota.period, nowMs).used >= plan.quota.limit) return 'quota_exceeded';
    if (plan.throttle) {
      const taken = takeToken(this.buckets.get(slot), plan.throttle, nowMs);
      this.buckets.set(slot, taken.state);
      if (!taken.allowed) return 'throttled';
    }
    if (plan.quota) this.quotas.set(slot, takeQuota(this.quotas.get(slot), plan.quota, nowMs).counter);
    const day = `${slot}|${isoDate(nowMs)}`;
    this.daily.set(day, (this.daily.get(day) ?? 0) + 1);
    this.onChange();
    return 'ok';
  }

  createApiKey(input: { name: string; value?: string; enabled?: boolean; id?: string; tags?: Record<string, string> }): ApiKeyDefinition {
    if (this.keysById.size >= this.maxApiKeys)
      throw new UsagePlanError(
        'LimitExceededException',
        `API key limit exceeded: at most ${this.maxApiKeys} API keys per account and Region`,
      );
    const value = input.value ?? randomBytes(30).toString('base64url');
    if (value.length < 20) throw new UsagePlanError('BadRequestException', 'API key value must be at least 20 characters');
    if (this.keysByValue.has(value)) throw new UsagePlanError('ConflictException', 'API key with this value already exists');
    const key: ApiKeyDefinition = {
      id: input.id ?? randomBytes(5).toString('hex'),
      value,
      name: input.name,
      enabled: input.enabled ?? false,
      ...(input.tags && Object.keys(input.tags).length > 0 ? { tags: { ...input.tags } } : {}),
    };
    this.keysById.set(key.id, key);
    this.keysByValue.set(key.value, key);
    this.onChange();
    return key;
  }

  /** DeleteApiKey: the key, its usage-plan membership and its counters go; an unknown id is NotFoundException. */
  deleteApiKey(keyId: string): void {
    const key = this.keysById.get(keyId);
    if (!key) throw new UsagePlanError('NotFoundException', 'Invalid API Key identifier specified');
    this.keysById.delete(keyId);
    this.keysByValue.delete(key.value);
    this.planOfKey.delete(keyId);
    for (const counters of [this.buckets, this.quotas, this.daily] as Map<string, unknown>[]) {
      for (const slot of counters.keys()) if (slot.split('|')[1] === keyId) counters.delete(slot);
    }
    this.onChange();
  }

  /** The API keys (GetApiKeys), values included. */
  apiKeys(): ApiKeyDefinition[] {
    return [...this.keysById.values()];
  }

  createUsagePlanKey(usagePlanId: string, keyId: string): ApiKeyDefinition {
    if (!this.plans.has(usagePlanId)) throw new UsagePlanError('NotFoundException', 'Invalid Usage Plan ID specified');
    const key = this.keysById.get(keyId);
    if (!key) throw new UsagePlanError('NotFoundException', 'Invalid API Key identifier specified');
    const current = this.planOfKey.get(keyId);
    if (current === usagePlanId) throw new UsagePlanError('ConflictException', 'Usage Plan Key already exists');
    // API Gateway refuses a key in two plans that cover the same API stage: every plan here covers the one stage.
    if (current !== undefined)
      throw new UsagePlanError('ConflictException', 'API Key is already associated with a usage plan for this API stage');
    this.planOfKey.set(keyId, usagePlanId);
    this.onChange();
    return key;
  }

  /** GetUsagePlanKey: the key, if it is in that plan (NotFoundException otherwise, as API Gateway answers). */
  getUsagePlanKey(usagePlanId: string, keyId: string): ApiKeyDefinition {
    if (!this.plans.has(usagePlanId)) throw new UsagePlanError('NotFoundException', 'Invalid Usage Plan ID specified');
    const key = this.keysById.get(keyId);
    if (!key || this.planOfKey.get(keyId) !== usagePlanId)
      throw new UsagePlanError('NotFoundException', 'Invalid Usage Plan Key specified');
    return key;
  }

  deleteUsagePlanKey(usagePlanId: string, keyId: string): void {
    if (this.planOfKey.get(keyId) !== usagePlanId) throw new UsagePlanError('NotFoundException', 'Invalid Usage Plan Key specified');
    this.planOfKey.delete(keyId);
    this.onChange();
  }

  /** GetUsage: per day from `startDate` to `endDate` (YYYY-MM-DD), `[used, remaining]`, remaining only when the plan has a quota. */
  getUsage(usagePlanId: string, keyId: string | undefined, startDate: string, endDate: string): Record<string, number[][]> {
    const plan = this.plans.get(usagePlanId);
    if (!plan) throw new UsagePlanError('NotFoundException', 'Invalid Usage Plan ID specified');
    const start = Date.parse(`${startDate}T00:00:00Z`);
    const end = Date.parse(`${endDate}T00:00:00Z`);
    if (!Number.isFinite(start) || !Number.isFinite(end) || end < start || end - start > 90 * 86_400_000)
      throw new UsagePlanError('BadRequestException', 'Invalid startDate or endDate');
    const items: Record<string, number[][]> = {};
    const keyIds = keyId !== undefined ? [keyId] : [...this.planOfKey].filter(([, planId]) => planId === usagePlanId).map(([id]) => id);
    for (const id of keyIds) {
      const days: number[][] = [];
      for (let dayMs = start; dayMs <= end; dayMs += 86_400_000) {
        const used = this.daily.get(`${usagePlanId}|${id}|${isoDate(dayMs)}`) ?? 0;
        if (!plan.quota) {
          days.push([used]);
          continue;
        }
        // Remaining in the quota period that day belongs to, as of the end of that day (or now, for today).
        const atMs = Math.min(this.nowMs(), dayMs + 86_400_000 - 1);
        const counter = this.quotas.get(`${usagePlanId}|${id}`);
        const usedInPeriod = counter && counter.periodStartMs === periodStartMs(plan.quota.period, atMs) ? counter.used : 0;
        days.push([used, Math.max(0, plan.quota.limit - usedInPeriod)]);
      }
      items[id] = days;
    }
    return items;
  }

  snapshot(): UsagePlanSnapshot {
    const split = (slot: string) => {
      const [usagePlanId = '', keyId = '', date = ''] = slot.split('|');
      return { usagePlanId, keyId, date };
    };
    return {
      version: 1,
      apiKeys: [...this.keysById.values()],
      planKeys: [...this.planOfKey].map(([keyId, usagePlanId]) => ({ usagePlanId, keyId })),
      quotas: [...this.quotas].map(([slot, counter]) => {
        const { usagePlanId, keyId } = split(slot);
        return { usagePlanId, keyId, ...counter };
      }),
      daily: [...this.daily].map(([slot, used]) => ({ ...split(slot), used })),
    };
  }

  /** Load a snapshot (from `--data`). Keys of plans that no longer exist lose their plan, as a deleted usage plan's keys do. */
  restore(snapshot: UsagePlanSnapshot): void {
    for (const key of snapshot.apiKeys) {
      this.keysById.set(key.id, key);
      this.keysByValue.set(key.value, key);
    }
    for (const { usagePlanId, keyId } of snapshot.planKeys)
      if (this.plans.has(usagePlanId) && this.keysById.has(keyId)) this.planOfKey.set(keyId, usagePlanId);
    for (const { usagePlanId, keyId, periodStartMs: start, used } of snapshot.quotas)
      this.quotas.set(`${usagePlanId}|${keyId}`, { periodStartMs: start, used });
    for (const { usagePlanId, keyId, date, used } of snapshot.daily) this.daily.set(`${usagePlanId}|${keyId}|${date}`, used);
  }

  /** Seed a key the template declares (the shared usage key) unless a snapshot already holds it. */
  ensureKeyInPlan(key: { id: string; value: string; name: string }, usagePlanId: string): void {
    if (!this.keysById.has(key.id)) this.createApiKey({ ...key, enabled: true });
    if (this.planOfKey.get(key.id) !== usagePlanId) {
      this.planOfKey.delete(key.id);
      this.createUsagePlanKey(usagePlanId, key.id);
    }
  }
}
