/**
 * Property: junk never reaches the key table. Whatever arrives at POST /leaks/github (any body, any headers, any
 * signature) is refused without a table read unless GitHub signed it; and in a report GitHub did sign, any string
 * that is not a key of this prefix with a valid checksum is a false positive decided offline.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLeakHandler } from '../../lambdas/leaks/endpoint';
import { BASE62_ALPHABET, generateKey, parseKey } from '../../lambdas/core/key-format';
import { makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';
import { githubSigningKey, signReport, signedHeaders } from '../support/github-signing';
import { FakeLeakStore, FakeNotifier, keyCacheFor, leakEvent } from './fakes';

const github = githubSigningKey();
const forger = githubSigningKey();

function handlerWith(store: FakeLeakStore) {
  const notifier = new FakeNotifier();
  const handler = createLeakHandler({
    githubKeys: keyCacheFor([github]).cache,
    store,
    notifier,
    keyPrefix: 'dg',
    action: 'revoke',
    logger: captureLogger('dualgate-leaks').logger,
    nowMs: Date.now,
  });
  return { handler, notifier };
}

/** GitHub's real signature of `[]` (ECDSA signatures are randomised: computed once, compared by value). */
const SIGNED_EMPTY = signReport('[]', github);
/** Header values an attacker might send: random, GitHub-looking, or a real signature of other bytes. */
const identifierHeader = fc.oneof(
  fc.string(),
  fc.constant(github.identifier),
  fc.constant(forger.identifier),
  fc.stringMatching(/^[0-9a-f]{64}$/),
);
const signatureHeader = fc.oneof(
  fc.string(),
  fc.base64String({ minLength: 4, maxLength: 120 }),
  fc.constant(SIGNED_EMPTY),
  fc.constant(signReport('[]', forger)),
);
/** Strings shaped like keys (any prefix), with one character changed: the checksum no longer matches. */
const mutatedKey = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9]{1,15}$/), fc.integer({ min: 0, max: 35 }), fc.constantFrom(...BASE62_ALPHABET))
  .map(([prefix, index, char]) => {
    const { key } = generateKey(prefix);
    const at = prefix.length + 1 + index;
    return key.slice(0, at) + (key[at] === char ? (char === 'A' ? 'B' : 'A') : char) + key.slice(at + 1);
  });
const junkToken = fc
  .oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.stringMatching(/^[a-z][a-z0-9]{1,15}_[0-9A-Za-z]{36}$/),
    mutatedKey,
    fc.constant(generateKey('zz').key),
  )
  // A random shape with a valid checksum is a ~1 in 5.7e10 event; exclude it rather than hope.
  .filter((token) => !parseKey(token, 'dg').ok);

describe('no junk ever reads the key table', () => {
  it('a report GitHub did not sign (any body, any headers) is refused with a 4xx and no table call', async () => {
    const live = makeKey();
    const store = new FakeLeakStore([live.record]);
    const { handler } = handlerWith(store);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), fc.json(), fc.constant(JSON.stringify([{ token: live.key, type: 't', url: '' }]))),
        fc.option(identifierHeader, { nil: undefined }),
        fc.option(signatureHeader, { nil: undefined }),
        fc.boolean(),
        async (body, identifier, signature, base64) => {
          const headers: Record<string, string> = {};
          if (identifier !== undefined) headers['Github-Public-Key-Identifier'] = identifier;
          if (signature !== undefined) headers['Github-Public-Key-Signature'] = signature;
          // The one combination that verifies: GitHub's key over exactly these bytes. Anything else must be refused.
          fc.pre(!(identifier === github.identifier && signature === SIGNED_EMPTY && body === '[]'));
          const response = await handler(
            leakEvent(base64 ? Buffer.from(body).toString('base64') : body, headers, { isBase64Encoded: base64 }),
          );
          expect(response.statusCode).toBeGreaterThanOrEqual(400);
          expect(response.statusCode).toBeLessThan(500);
          expect(store.reads + store.writes).toBe(0);
        },
      ),
      { numRuns: 400 },
    );
    expect(store.records.get(live.record.keyHash)?.revokedAt).toBeUndefined();
  });

  it('in a signed report, every string that is not a valid key of this prefix is a false positive, decided without a read', async () => {
    const store = new FakeLeakStore();
    const { handler, notifier } = handlerWith(store);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            token: junkToken,
            type: fc.string({ maxLength: 40 }),
            url: fc.webUrl(),
            source: fc.constantFrom('content', 'commit', 'Issue_comment'),
          }),
          { maxLength: 30 },
        ),
        async (matches) => {
          const body = JSON.stringify(matches);
          const response = await handler(leakEvent(body, signedHeaders(body, github)));
          expect(response.statusCode).toBe(200);
          const feedback = JSON.parse(response.body) as { token_raw: string; token_type: string; label: string }[];
          expect(feedback).toEqual(matches.map((match) => ({ token_raw: match.token, token_type: match.type, label: 'false_positive' })));
          expect(store.reads + store.writes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
    expect(notifier.published).toHaveLength(0);
  });
});
