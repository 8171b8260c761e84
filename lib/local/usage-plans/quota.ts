/**
 * API Gateway's quota as arithmetic: at most `limit` requests per calendar period in UTC. A DAY starts at
 * 00:00 UTC, a WEEK on Sunday 00:00 UTC (API Gateway's quota offset 0), a MONTH on the 1st at 00:00 UTC.
 * Pure: the clock is an argument.
 */
import type { PlanQuota, QuotaPeriod } from '../../../lambdas/core/plans';

export interface QuotaCounter {
  /** Epoch ms of the start of the period this count belongs to. */
  readonly periodStartMs: number;
  readonly used: number;
}

const DAY_MS = 86_400_000;

export function periodStartMs(period: QuotaPeriod, nowMs: number): number {
  const date = new Date(nowMs);
  const dayStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  if (period === 'DAY') return dayStart;
  if (period === 'WEEK') return dayStart - date.getUTCDay() * DAY_MS;
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

/** The counter at `nowMs`: a count from an earlier period is over and starts again at 0. */
export function currentCount(counter: QuotaCounter | undefined, period: QuotaPeriod, nowMs: number): QuotaCounter {
  const start = periodStartMs(period, nowMs);
  return counter && counter.periodStartMs === start ? counter : { periodStartMs: start, used: 0 };
}

/** Count one request if the quota allows it. */
export function takeQuota(counter: QuotaCounter | undefined, quota: PlanQuota, nowMs: number): { allowed: boolean; counter: QuotaCounter } {
  const current = currentCount(counter, quota.period, nowMs);
  if (current.used >= quota.limit) return { allowed: false, counter: current };
  return { allowed: true, counter: { periodStartMs: current.periodStartMs, used: current.used + 1 } };
}
