/**
 * API Gateway's throttle as arithmetic: a token bucket of `burstLimit` tokens, refilled at `rateLimitPerSecond`,
 * one token per request. It starts full, so a consumer may send `burstLimit` requests at once, then
 * `rateLimitPerSecond` per second. Pure: the clock is an argument.
 */
export interface BucketState {
  readonly tokens: number;
  readonly updatedAtMs: number;
}

export interface BucketLimits {
  readonly rateLimitPerSecond: number;
  readonly burstLimit: number;
}

function fullBucket(limits: BucketLimits, nowMs: number): BucketState {
  return { tokens: limits.burstLimit, updatedAtMs: nowMs };
}

/** The bucket at `nowMs`: refilled for the time since it was last touched, never above the burst (a clock going back refills nothing). */
export function refill(state: BucketState, limits: BucketLimits, nowMs: number): BucketState {
  const elapsedMs = Math.max(0, nowMs - state.updatedAtMs);
  return {
    tokens: Math.min(limits.burstLimit, state.tokens + (elapsedMs * limits.rateLimitPerSecond) / 1000),
    updatedAtMs: Math.max(nowMs, state.updatedAtMs),
  };
}

/** Take one token if there is one. */
export function takeToken(state: BucketState | undefined, limits: BucketLimits, nowMs: number): { allowed: boolean; state: BucketState } {
  const current = state ? refill(state, limits, nowMs) : fullBucket(limits, nowMs);
  if (current.tokens >= 1) return { allowed: true, state: { tokens: current.tokens - 1, updatedAtMs: current.updatedAtMs } };
  return { allowed: false, state: current };
}
