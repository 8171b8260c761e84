import { describe, expect, it } from 'vitest';
import { AuthorizerResultCache } from '../../lib/local/authorizer-cache';

function clock(startMs = 1_000_000) {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
}

describe('AuthorizerResultCache', () => {
  it('returns a cached result until the TTL passes, then forgets it', () => {
    const time = clock();
    const cache = new AuthorizerResultCache<string>(2, time.now);
    cache.set('Bearer a', 'allow-a');
    time.advance(1999);
    expect(cache.get('Bearer a')).toBe('allow-a');
    time.advance(1);
    expect(cache.get('Bearer a')).toBeUndefined();
  });

  it('keys on the exact identity source value', () => {
    const cache = new AuthorizerResultCache<string>(60);
    cache.set('Bearer a', 'allow-a');
    expect(cache.get('bearer a')).toBeUndefined();
    expect(cache.get('Bearer a ')).toBeUndefined();
    expect(cache.get('Bearer a')).toBe('allow-a');
  });

  it('caches nothing when the TTL is 0', () => {
    const cache = new AuthorizerResultCache<string>(0);
    cache.set('Bearer a', 'allow-a');
    expect(cache.enabled).toBe(false);
    expect(cache.get('Bearer a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('stays within its size bound, dropping the oldest entry', () => {
    const cache = new AuthorizerResultCache<number>(60, Date.now, 3);
    for (let index = 0; index < 3; index++) cache.set(`k${index}`, index);
    expect(cache.get('k0')).toBe(0);
    cache.set('k3', 3);
    expect(cache.size).toBe(3);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k1')).toBe(1);
    expect(cache.get('k3')).toBe(3);
    for (let index = 0; index < 1000; index++) cache.set(`spray${index}`, index);
    expect(cache.size).toBe(3);
  });

  it('rejects a negative or fractional TTL', () => {
    expect(() => new AuthorizerResultCache(-1)).toThrow(RangeError);
    expect(() => new AuthorizerResultCache(1.5)).toThrow(RangeError);
  });
});
