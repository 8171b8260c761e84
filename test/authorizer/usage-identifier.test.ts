/** Plans in the authorizer: every allowed principal gets a usageIdentifierKey, and without plans nothing changes. */
import { describe, expect, it } from 'vitest';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import { KeyStoreUnavailableError } from '../../lambdas/shared/key-store';
import type { ConsumerLookup } from '../../lambdas/shared/consumer-store';
import type { ConsumerRecord } from '../../lambdas/core/plans';
import { DEMO_COMPILED_TABLE } from '../support/demo-app';
import { createSigningKey, FakeJwksFetcher, nowSeconds, signJwt, TEST_ISSUER } from '../support/jwt';
import { FakeKeyLookup, makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';
import { testSettings } from '../support/settings';
import { bearerEvent } from '../support/authorizer-event';

const signingKey = createSigningKey('kid-1');
const SHARED = 'dualgate-shared-0000-0000-0000';
const event = bearerEvent;
const jwtFor = (sub: string) =>
  signJwt({ iss: TEST_ISSUER, aud: 'dualgate-api', sub, scope: 'read:users', exp: nowSeconds() + 600 }, { key: signingKey });

function setup(consumers: Map<string, ConsumerRecord>, options: { plans?: boolean; failing?: boolean } = {}) {
  const { key, record } = makeKey({ owner: 'alice', scopes: ['read:users'] });
  let reads = 0;
  let nowMs = Date.now();
  const lookup: ConsumerLookup = {
    getConsumer: async (sub) => {
      reads++;
      if (options.failing) throw new KeyStoreUnavailableError('down');
      return consumers.get(sub);
    },
  };
  const settings = testSettings(
    options.plans === false ? {} : { plans: { usagePlanNames: { pro: 'p' }, sharedUsageKey: SHARED }, keyCacheTtlSeconds: 5 },
  );
  const { authorize } = buildAuthorizer(settings, DEMO_COMPILED_TABLE, {
    keyLookup: new FakeKeyLookup(record),
    consumerLookup: lookup,
    fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
    logger: captureLogger().logger,
    nowMs: () => nowMs,
  });
  return { authorize, key, reads: () => reads, advance: (ms: number) => (nowMs += ms) };
}

const alicePro: ConsumerRecord = {
  sub: 'alice',
  plan: 'pro',
  keyPlan: 'pro',
  apiKeyId: 'k1',
  apiKeyValue: 'alice-usage-key-value-000',
  updatedAt: 't',
  updatedBy: 'admin',
};

describe('usage identifiers in the authorizer response', () => {
  it("returns the consumer's own key for its API key and its JWT alike, and the shared key for others", async () => {
    const { authorize, key } = setup(new Map([['alice', alicePro]]));
    const byKey = await authorize(event(key));
    const byJwt = await authorize(event(await jwtFor('alice')));
    const other = await authorize(event(await jwtFor('bob')));
    expect(byKey.effect === 'allow' && byKey.response.usageIdentifierKey).toBe('alice-usage-key-value-000');
    expect(byJwt.effect === 'allow' && byJwt.response.usageIdentifierKey).toBe('alice-usage-key-value-000');
    expect(other.effect === 'allow' && other.response.usageIdentifierKey).toBe(SHARED);
    // The identifier is never in the context (backends and logs see the context).
    expect(byKey.effect === 'allow' && JSON.stringify(byKey.response.context)).not.toContain('alice-usage-key-value-000');
  });

  it('reads a consumer once per cache TTL, answering from memory in between', async () => {
    const consumers = new Map([['alice', alicePro]]);
    const { authorize, reads, advance } = setup(consumers);
    const jwt = await jwtFor('alice');
    await authorize(event(jwt));
    const again = authorize(event(jwt));
    expect(again).not.toBeInstanceOf(Promise);
    expect(reads()).toBe(1);
    consumers.delete('alice');
    advance(5000);
    const after = await authorize(event(jwt));
    expect(after.effect === 'allow' && after.response.usageIdentifierKey).toBe(SHARED);
    expect(reads()).toBe(2);
  });

  it('fails closed (503) when the consumer record cannot be read and nothing is cached', async () => {
    const { authorize } = setup(new Map(), { failing: true });
    expect(await authorize(event(await jwtFor('alice')))).toEqual({ effect: 'fail' });
  });

  it('without plans returns no usageIdentifierKey and reads no consumer record', async () => {
    const { authorize, key, reads } = setup(new Map([['alice', alicePro]]), { plans: false });
    const outcome = await authorize(event(key));
    expect(outcome.effect).toBe('allow');
    expect(outcome.effect === 'allow' && 'usageIdentifierKey' in outcome.response).toBe(false);
    expect(reads()).toBe(0);
  });
});
