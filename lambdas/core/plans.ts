/**
 * Plans: per-consumer rate limits and quotas. The shape the construct takes (`plans`, `defaultPlan`), checked
 * in one place for synth (lib/construct/plans.ts) and local mode (lib/local/local-config.ts), and the runtime view the
 * Lambdas receive. Pure: no CDK, no SDK.
 */

/** The quota periods API Gateway counts: calendar periods in UTC (a `WEEK` starts on Sunday). */
export const QUOTA_PERIODS = ['DAY', 'WEEK', 'MONTH'] as const;
/** One of {@link QUOTA_PERIODS}. */
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

/** How many requests a consumer may make per period. */
export interface PlanQuota {
  /** Requests per period. */
  readonly limit: number;
  /** A calendar period in UTC, as API Gateway counts it. */
  readonly period: QuotaPeriod;
}

/** One plan's limits, enforced by an API Gateway usage plan. Checked at synth with errors naming the setting. */
export interface PlanLimits {
  /** Steady-state requests per second (the token bucket's refill rate). */
  readonly rateLimitPerSecond: number;
  /** Requests allowed at once (the token bucket's size). */
  readonly burstLimit: number;
  /** Requests per day, week or month; none when left out. */
  readonly quota?: PlanQuota;
}

/**
 * The plans by name (`[A-Za-z][A-Za-z0-9_-]{0,31}`, at most 25).
 *
 * @example
 * { free: { rateLimitPerSecond: 5, burstLimit: 10, quota: { limit: 10_000, period: 'DAY' } }, pro: { rateLimitPerSecond: 100, burstLimit: 200 } }
 */
export type Plans = Readonly<Record<string, PlanLimits>>;

/** A plan name: safe in an API Gateway usage plan name, a URL and a CLI argument. */
const PLAN_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
/**
 * Each plan's usage plan id reaches the key API in its environment (Lambda allows 4 KB in all), and API Gateway
 * allows 300 usage plans per account and Region: 25 plans per API keeps both comfortable.
 */
const MAX_PLANS = 25;
/** API Gateway's own bounds: rate up to 10,000 per second and burst up to 5,000 per account and Region by default. */
const MAX_RATE = 10_000;
const MAX_BURST = 5_000;
const MAX_QUOTA = 2_000_000_000;

export class PlanConfigError extends Error {
  override readonly name = 'PlanConfigError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Check `plans` and `defaultPlan`; returns them normalised. Errors name the setting as the user spelled it
 * (`plans.free.burstLimit`, or `DUALGATE_LOCAL_PLANS.plans.free.burstLimit` in local mode).
 */
export function validatePlans(
  plans: unknown,
  defaultPlan: unknown,
  names: { plans: string; defaultPlan: string } = { plans: 'plans', defaultPlan: 'defaultPlan' },
): { plans: Plans; defaultPlan?: string } {
  if (!isRecord(plans))
    throw new PlanConfigError(`${names.plans} must be an object of plans, such as { free: { rateLimitPerSecond: 5, burstLimit: 10 } }`);
  const entries = Object.entries(plans);
  if (entries.length === 0)
    throw new PlanConfigError(`${names.plans} must name at least one plan (leave ${names.plans} out to turn plans off)`);
  if (entries.length > MAX_PLANS) throw new PlanConfigError(`${names.plans} has ${entries.length} plans; at most ${MAX_PLANS} per API`);
  const result: Record<string, PlanLimits> = {};
  for (const [name, raw] of entries) {
    const where = `${names.plans}.${name}`;
    if (!PLAN_NAME_PATTERN.test(name))
      throw new PlanConfigError(`${names.plans}: plan name ${JSON.stringify(name)} must match ${PLAN_NAME_PATTERN}`);
    if (!isRecord(raw)) throw new PlanConfigError(`${where} must be { rateLimitPerSecond, burstLimit, quota? }`);
    const unknown = Object.keys(raw).filter((field) => !['rateLimitPerSecond', 'burstLimit', 'quota'].includes(field));
    if (unknown.length > 0) throw new PlanConfigError(`${where}: unknown setting(s) ${unknown.join(', ')}`);
    const rate = raw['rateLimitPerSecond'];
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0 || rate > MAX_RATE) {
      throw new PlanConfigError(
        `${where}.rateLimitPerSecond must be a number above 0 and at most ${MAX_RATE} (got ${JSON.stringify(rate)})`,
      );
    }
    const burst = raw['burstLimit'];
    if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1 || burst > MAX_BURST) {
      throw new PlanConfigError(`${where}.burstLimit must be an integer from 1 to ${MAX_BURST} (got ${JSON.stringify(burst)})`);
    }
    const limits: { rateLimitPerSecond: number; burstLimit: number; quota?: PlanQuota } = { rateLimitPerSecond: rate, burstLimit: burst };
    const quota = raw['quota'];
    if (quota !== undefined) {
      if (!isRecord(quota)) throw new PlanConfigError(`${where}.quota must be { limit, period }`);
      const extra = Object.keys(quota).filter((field) => field !== 'limit' && field !== 'period');
      if (extra.length > 0) throw new PlanConfigError(`${where}.quota: unknown setting(s) ${extra.join(', ')}`);
      const limit = quota['limit'];
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_QUOTA) {
        throw new PlanConfigError(`${where}.quota.limit must be an integer from 1 to ${MAX_QUOTA} (got ${JSON.stringify(limit)})`);
      }
      const period = quota['period'];
      if (!(QUOTA_PERIODS as readonly unknown[]).includes(period)) {
        throw new PlanConfigError(`${where}.quota.period must be one of ${QUOTA_PERIODS.join(', ')} (got ${JSON.stringify(period)})`);
      }
      limits.quota = { limit, period: period as QuotaPeriod };
    }
    result[name] = limits;
  }
  if (defaultPlan === undefined) return { plans: result };
  if (typeof defaultPlan !== 'string' || !(defaultPlan in result)) {
    throw new PlanConfigError(
      `${names.defaultPlan} must be one of the plans (${Object.keys(result).join(', ')}) (got ${JSON.stringify(defaultPlan)})`,
    );
  }
  return { plans: result, defaultPlan };
}

/** What the authorizer and the key API receive when plans are on (`DUALGATE_PLANS`, lambdas/core/settings.ts). */
export interface RuntimePlans {
  /**
   * Each plan's API Gateway usage plan, by name: its id cannot reach the Lambdas' environment (the usage plan
   * depends on the stage, the stage on the methods, the methods on these functions: a cycle), so the key API
   * looks the ids up by name (GetUsagePlans) once per container. Limits live in the usage plans themselves.
   */
  readonly usagePlanNames: Readonly<Record<string, string>>;
  readonly defaultPlan?: string;
  /**
   * The API Gateway API key that every consumer without a plan of its own shares: on `defaultPlan`'s usage plan,
   * or on an internal usage plan without limits. Its value is a usage identifier, never a credential: with the
   * key source AUTHORIZER, API Gateway ignores any `x-api-key` a client sends.
   */
  readonly sharedUsageKey: string;
  /**
   * The value of the `dualgate:owner` tag (USAGE_KEY_OWNER_TAG) on every consumer key the key API creates: its
   * IAM policy lets it create keys only with this tag and delete only keys that carry it. Absent: keys are created
   * untagged (no IAM to satisfy, as in local mode before the tag existed).
   */
  readonly usageKeyOwner?: string;
}

/** The tag naming the API a consumer key belongs to (lib/construct/plans.ts conditions the key API's IAM on it). */
export const USAGE_KEY_OWNER_TAG = 'dualgate:owner';
/** API Gateway's tag values: up to 256 of `[a-zA-Z0-9+-=._:/]` (and spaces, which we never write). */
const TAG_VALUE_PATTERN = /^[A-Za-z0-9+\-=._:/@]{1,256}$/;

/** Parse `DUALGATE_PLANS` (written by the construct or local mode); throws a message naming what is wrong. */
export function parseRuntimePlans(raw: unknown): RuntimePlans {
  if (!isRecord(raw)) throw new PlanConfigError('must be a JSON object');
  const ids = raw['usagePlanNames'];
  if (!isRecord(ids) || Object.keys(ids).length === 0) throw new PlanConfigError('usagePlanNames must map plan names to usage plan names');
  for (const [name, id] of Object.entries(ids)) {
    if (!PLAN_NAME_PATTERN.test(name) || typeof id !== 'string' || id.length === 0)
      throw new PlanConfigError(`usagePlanNames.${name} is not a plan name with a usage plan name`);
  }
  const sharedUsageKey = raw['sharedUsageKey'];
  if (typeof sharedUsageKey !== 'string' || sharedUsageKey.length < 20)
    throw new PlanConfigError('sharedUsageKey must be an API key value (20 characters or more)');
  const defaultPlan = raw['defaultPlan'];
  if (defaultPlan !== undefined && (typeof defaultPlan !== 'string' || !(defaultPlan in ids)))
    throw new PlanConfigError('defaultPlan must be one of usagePlanNames');
  const usageKeyOwner = raw['usageKeyOwner'];
  if (usageKeyOwner !== undefined && (typeof usageKeyOwner !== 'string' || !TAG_VALUE_PATTERN.test(usageKeyOwner)))
    throw new PlanConfigError('usageKeyOwner must be a tag value (1 to 256 of A-Z a-z 0-9 + - = . _ : / @)');
  return {
    usagePlanNames: ids as Record<string, string>,
    sharedUsageKey,
    ...(defaultPlan !== undefined ? { defaultPlan: defaultPlan as string } : {}),
    ...(usageKeyOwner !== undefined ? { usageKeyOwner: usageKeyOwner as string } : {}),
  };
}

/**
 * A consumer with a plan of its own, as the key table stores it. Clearing the plan (DELETE /consumers/{sub})
 * deletes the record and the consumer's API Gateway key, in three steps that are each safe to stop after: the
 * record loses its plan (the authorizer then hands out the shared key), the key leaves its usage plan and is
 * deleted, and the record is deleted. A record without a plan is therefore one whose deletion has begun (or one
 * cleared by a dualgate that kept keys): the next DELETE or PUT of that consumer finishes it.
 */
export interface ConsumerRecord {
  readonly sub: string;
  /** The assigned plan; absent while the record is being deleted (the consumer is then on the shared key). */
  readonly plan?: string;
  /**
   * The plan whose usage plan holds the key while the record is settled (`keyPlan === plan`). A PUT that changes the
   * plan first writes the new `plan` beside the old `keyPlan`, then moves the key, then sets `keyPlan`: while the two
   * differ, the key may be in any of the API's usage plans or none, and the next PUT moves it (a PUT of a settled
   * record trusts it and calls no API Gateway).
   */
  readonly keyPlan: string;
  /** API Gateway's id of the consumer's usage key. */
  readonly apiKeyId: string;
  /** That key's value: the `usageIdentifierKey` the authorizer returns while a plan is assigned. Never shown to clients. */
  readonly apiKeyValue: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

/** A sub as a path parameter: any JWT subject or key owner, within sane bounds. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a sub must not hold.
export const CONSUMER_SUB_PATTERN = /^[^\u0000-\u001f\u007f]{1,256}$/;
