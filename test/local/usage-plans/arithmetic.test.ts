import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currentCount, periodStartMs, takeQuota } from '../../../lib/local/usage-plans/quota';
import { refill, takeToken, type BucketState } from '../../../lib/local/usage-plans/token-bucket';

describe('token bucket', () => {
  const limits = { rateLimitPerSecond: 2, burstLimit: 5 };

  it('allows exactly the burst at once, then refuses', () => {
    let state: BucketState | undefined;
    const answers: boolean[] = [];
    for (let index = 0; index < 7; index++) {
      const taken = takeToken(state, limits, 1_000);
      answers.push(taken.allowed);
      state = taken.state;
    }
    expect(answers).toEqual([true, true, true, true, true, false, false]);
  });

  it('refills at the rate: one token per 500 ms at 2 per second, never above the burst', () => {
    const empty = { tokens: 0, updatedAtMs: 0 };
    expect(takeToken(empty, limits, 499).allowed).toBe(false);
    expect(takeToken(empty, limits, 500).allowed).toBe(true);
    expect(refill(empty, limits, 60_000).tokens).toBe(5);
  });

  it('never admits more than burst + rate × elapsed over any run of requests (property)', () => {
    fc.assert(
      fc.property(
        fc.record({ rate: fc.integer({ min: 1, max: 100 }), burst: fc.integer({ min: 1, max: 50 }) }),
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }),
        ({ rate, burst }, gaps) => {
          const bucket = { rateLimitPerSecond: rate, burstLimit: burst };
          let state: BucketState | undefined;
          let nowMs = 0;
          let admitted = 0;
          for (const gap of gaps) {
            nowMs += gap;
            const taken = takeToken(state, bucket, nowMs);
            state = taken.state;
            if (taken.allowed) admitted++;
            expect(state.tokens).toBeGreaterThanOrEqual(0);
            expect(state.tokens).toBeLessThanOrEqual(burst);
          }
          expect(admitted).toBeLessThanOrEqual(burst + Math.floor((rate * nowMs) / 1000));
        },
      ),
    );
  });

  it('a clock that goes back refills nothing', () => {
    expect(refill({ tokens: 1, updatedAtMs: 10_000 }, limits, 5_000)).toEqual({ tokens: 1, updatedAtMs: 10_000 });
  });
});

describe('quota periods (UTC, calendar)', () => {
  it('starts a DAY at 00:00 UTC, a WEEK on Sunday 00:00 UTC, a MONTH on the 1st', () => {
    const wednesday = Date.parse('2026-11-25T13:45:00Z');
    expect(new Date(periodStartMs('DAY', wednesday)).toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(new Date(periodStartMs('WEEK', wednesday)).toISOString()).toBe('2026-11-22T00:00:00.000Z');
    expect(new Date(periodStartMs('MONTH', wednesday)).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    const sunday = Date.parse('2026-11-29T00:00:00Z');
    expect(periodStartMs('WEEK', sunday)).toBe(sunday);
  });

  it('counts up to the limit and refuses the next request, then starts again in the next period', () => {
    const quota = { limit: 3, period: 'DAY' as const };
    let counter;
    const day = Date.parse('2026-03-01T23:59:00Z');
    const answers: boolean[] = [];
    for (let index = 0; index < 4; index++) {
      const taken = takeQuota(counter, quota, day);
      answers.push(taken.allowed);
      counter = taken.counter;
    }
    expect(answers).toEqual([true, true, true, false]);
    expect(takeQuota(counter, quota, Date.parse('2026-03-02T00:00:00Z'))).toMatchObject({ allowed: true, counter: { used: 1 } });
  });

  it('puts every instant in a period that contains it and is the same for every instant of that period (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('DAY' as const, 'WEEK' as const, 'MONTH' as const),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        (period, nowMs) => {
          const start = periodStartMs(period, nowMs);
          expect(start).toBeLessThanOrEqual(nowMs);
          expect(nowMs - start).toBeLessThan(31 * 86_400_000);
          expect(periodStartMs(period, start)).toBe(start);
          expect(currentCount({ periodStartMs: start, used: 7 }, period, nowMs).used).toBe(7);
        },
      ),
    );
  });
});
