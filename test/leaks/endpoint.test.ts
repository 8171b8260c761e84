/**
 * POST /leaks/github as the Lambda sees it, with real ECDSA signatures and in-memory stand-ins for the table, the
 * key document and the topic: refusals before any table read, labels, revocation with the report's URL, the
 * `notify` action, idempotence, and a 1,000-match report with bounded table concurrency.
 */
import { describe, expect, it } from 'vitest';
import { createLeakHandler, type LeakHandlerDeps } from '../../lambdas/leaks/endpoint';
import { MAX_REPORT_BYTES } from '../../lambdas/leaks/report';
import { generateKey } from '../../lambdas/core/key-format';
import { KeyStoreUnavailableError } from '../../lambdas/shared/key-store';
import { makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';
import { githubSigningKey, signReport, signedHeaders } from '../support/github-signing';
import { FakeLeakStore, FakeNotifier, keyCacheFor, leakEvent } from './fakes';

const NOW_MS = Date.parse('2031-05-01T12:00:00.000Z');
const current = githubSigningKey(true);
const retired = githubSigningKey(false);
const stranger = githubSigningKey(true);
const LEAK_URL = 'https://github.com/octo-org/app/blob/5d1f0e3c0b2a9e8d7c6b5a4f3e2d1c0b9a8f7e6d/config/.env';

function setup(
  options: {
    action?: 'revoke' | 'notify';
    records?: ReturnType<typeof makeKey>['record'][];
    latencyMs?: number;
    concurrency?: number;
  } = {},
) {
  const live = makeKey({ owner: 'alice', name: 'ci' });
  const sibling = makeKey({ owner: 'alice', name: 'deploy' });
  const revoked = makeKey({ owner: 'bob', revokedAt: '2031-01-01T00:00:00.000Z' });
  const store = new FakeLeakStore([live.record, sibling.record, revoked.record, ...(options.records ?? [])], options.latencyMs ?? 0);
  const notifier = new FakeNotifier();
  const logs = captureLogger('dualgate-leaks');
  const { cache, fetcher } = keyCacheFor([retired, current]);
  const deps: LeakHandlerDeps = {
    githubKeys: cache,
    store,
    notifier,
    keyPrefix: 'dg',
    action: options.action ?? 'revoke',
    logger: logs.logger,
    nowMs: () => NOW_MS,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  };
  const handler = createLeakHandler(deps);
  const post = async (body: string, headers: Record<string, string>, extra: Parameters<typeof leakEvent>[2] = {}) => {
    const response = await handler(leakEvent(body, headers, extra));
    return { status: response.statusCode, json: response.body ? (JSON.parse(response.body) as unknown) : undefined };
  };
  return { live, sibling, revoked, store, notifier, logs, fetcher, post, handler };
}

const report = (...matches: { token: string; type?: string; url?: string; source?: string }[]) =>
  JSON.stringify(
    matches.map((match) => ({
      token: match.token,
      type: match.type ?? 'dualgate_api_key',
      url: match.url ?? LEAK_URL,
      source: match.source ?? 'content',
    })),
  );

/** A string with a key's shape whose checksum is wrong. */
function badChecksum(key: string): string {
  const last = key.at(-1) === 'A' ? 'B' : 'A';
  return key.slice(0, -1) + last;
}

describe('refused reports: 4xx, nothing changed, no table read', () => {
  it('refuses an unsigned report with 401 without fetching GitHub keys or reading the table', async () => {
    const { post, store, fetcher, live } = setup();
    const body = report({ token: live.key });
    expect(await post(body, { 'content-type': 'application/json' })).toMatchObject({ status: 401, json: { reason: 'signature_missing' } });
    expect(await post(body, { 'Github-Public-Key-Identifier': current.identifier })).toMatchObject({ status: 401 });
    expect(await post(body, { 'Github-Public-Key-Signature': signReport(body, current) })).toMatchObject({ status: 401 });
    expect({ reads: store.reads, writes: store.writes, fetches: fetcher.calls }).toEqual({ reads: 0, writes: 0, fetches: 0 });
  });

  it('refuses a report signed by another key under a published identifier (forged) with 403', async () => {
    const { post, store, live } = setup();
    const body = report({ token: live.key });
    const forged = { ...signedHeaders(body, current), 'Github-Public-Key-Signature': signReport(body, stranger) };
    expect(await post(body, forged)).toMatchObject({ status: 403, json: { reason: 'bad_signature' } });
    expect(store.reads + store.writes).toBe(0);
    expect(store.records.get(live.record.keyHash)?.revokedAt).toBeUndefined();
  });

  it('refuses a validly signed report whose body was changed in transit', async () => {
    const { post, store, live } = setup();
    const body = report({ token: live.key });
    const headers = signedHeaders(body, current);
    expect(await post(body.replace(LEAK_URL, 'https://evil.example/'), headers)).toMatchObject({
      status: 403,
      json: { reason: 'bad_signature' },
    });
    expect(store.reads).toBe(0);
  });

  it('refuses a key identifier GitHub does not publish with 403, after at most one document fetch', async () => {
    const { post, store, fetcher, live } = setup();
    const body = report({ token: live.key });
    expect(await post(body, signedHeaders(body, stranger))).toMatchObject({ status: 403, json: { reason: 'unknown_key_identifier' } });
    expect(await post(body, signedHeaders(body, stranger))).toMatchObject({ status: 403 });
    expect(fetcher.calls).toBe(1);
    expect(store.reads).toBe(0);
  });

  it('refuses malformed signature headers with 400: not base64, sent twice, an identifier with spaces', async () => {
    const { post, store, live } = setup();
    const body = report({ token: live.key });
    const headers = signedHeaders(body, current);
    expect(await post(body, { ...headers, 'Github-Public-Key-Signature': 'not base64!' })).toMatchObject({
      status: 400,
      json: { reason: 'signature_malformed' },
    });
    expect(await post(body, { ...headers, 'Github-Public-Key-Identifier': 'a b' })).toMatchObject({ status: 400 });
    const twice = {
      'github-public-key-signature': [headers['Github-Public-Key-Signature'] as string, signReport(body, stranger)],
      'github-public-key-identifier': [current.identifier],
    };
    expect(await post(body, headers, { multiValueHeaders: twice })).toMatchObject({ status: 400 });
    expect(store.reads).toBe(0);
  });

  it('answers 413 to an oversized report before looking at its signature', async () => {
    const { post, store, fetcher } = setup();
    const body = JSON.stringify([{ token: 'x', type: 't', url: 'x'.repeat(MAX_REPORT_BYTES) }]);
    expect(await post(body, signedHeaders(body, current))).toMatchObject({ status: 413, json: { reason: 'report_too_large' } });
    expect(store.reads + fetcher.calls).toBe(0);
  });

  it('answers 400 to a signed body that is not an array of matches, without reading the table', async () => {
    const { post, store } = setup();
    for (const body of ['not json', '{"token":"x"}', '[{"type":"t"}]', '[{"token":5,"type":"t"}]', '[{"token":"x","type":5}]', '[null]']) {
      expect((await post(body, signedHeaders(body, current))).status, body).toBe(400);
    }
    expect(store.reads).toBe(0);
  });

  it('answers 405 to anything but POST', async () => {
    const { handler } = setup();
    expect((await handler({ ...leakEvent('[]'), httpMethod: 'GET' })).statusCode).toBe(405);
  });
});

describe('a validly signed report', () => {
  it('labels each match, revokes the live key with reason leaked and the URL, and reads the table only for valid checksums', async () => {
    const { post, store, live, sibling, notifier, logs } = setup();
    const unknown = generateKey('dg').key;
    const otherPrefix = generateKey('zz').key;
    const body = report(
      { token: live.key },
      { token: 'some_token' },
      { token: badChecksum(live.key) },
      { token: otherPrefix },
      { token: unknown },
    );
    const response = await post(body, signedHeaders(body, current));
    expect(response.status).toBe(200);
    expect(response.json).toEqual([
      { token_raw: live.key, token_type: 'dualgate_api_key', label: 'true_positive' },
      { token_raw: 'some_token', token_type: 'dualgate_api_key', label: 'false_positive' },
      { token_raw: badChecksum(live.key), token_type: 'dualgate_api_key', label: 'false_positive' },
      { token_raw: otherPrefix, token_type: 'dualgate_api_key', label: 'false_positive' },
      { token_raw: unknown, token_type: 'dualgate_api_key', label: 'false_positive' },
    ]);
    // Two lookups: the live key and the unknown key with a valid checksum. Junk, bad checksums and other prefixes: none.
    expect(store.reads).toBe(2);
    expect(store.records.get(live.record.keyHash)).toMatchObject({
      revokedAt: '2031-05-01T12:00:00.000Z',
      revokedReason: 'leaked',
      expiresAt: NOW_MS / 1000,
      leakedAt: '2031-05-01T12:00:00.000Z',
      leakUrl: LEAK_URL,
      leakSource: 'content',
      leakReporter: 'github',
    });
    expect(store.records.get(sibling.record.keyHash)?.revokedAt).toBeUndefined();
    expect(notifier.published).toEqual([
      expect.objectContaining({
        type: 'dualgate.key.leaked',
        action: 'revoked',
        keyId: live.record.keyId,
        owner: 'alice',
        start: live.record.start,
        url: LEAK_URL,
        reporter: 'github',
        tokenType: 'dualgate_api_key',
      }),
    ]);
    expect(JSON.stringify(notifier.published)).not.toContain(live.key);
    const audit = logs.entries().find((line) => line['message'] === 'audit');
    expect(audit).toMatchObject({
      action: 'revoke',
      reason: 'leaked',
      keyId: live.record.keyId,
      owner: 'alice',
      leakUrl: LEAK_URL,
      actorSub: 'github-secret-scanning',
    });
    expect(logs.lines.join('\n')).not.toContain(live.key.slice(3));
    expect(logs.lines.join('\n')).not.toContain(live.record.keyHash);
  });

  it('accepts a report signed by a key GitHub lists as no longer current', async () => {
    const { post, store, live } = setup();
    const body = report({ token: live.key });
    expect(await post(body, signedHeaders(body, retired))).toMatchObject({ status: 200, json: [{ label: 'true_positive' }] });
    expect(store.records.get(live.record.keyHash)?.revokedReason).toBe('leaked');
  });

  it('is idempotent: the same report again answers the same labels, writes nothing and publishes nothing', async () => {
    const { post, store, live, notifier, logs } = setup();
    const body = report({ token: live.key }, { token: 'junk' });
    const first = await post(body, signedHeaders(body, current));
    const after = { ...store.records.get(live.record.keyHash) };
    const second = await post(body, signedHeaders(body, current));
    expect(second).toEqual(first);
    expect(store.records.get(live.record.keyHash)).toEqual(after);
    expect(notifier.published).toHaveLength(1);
    expect(logs.entries().filter((line) => line['message'] === 'audit')).toHaveLength(1);
    expect(logs.entries().find((line) => line['message'] === 'leak report for a key already handled')).toMatchObject({
      outcome: 'already_revoked',
      keyId: live.record.keyId,
    });
  });

  it('labels a key that was already revoked true_positive and leaves it as it was', async () => {
    const { post, store, revoked, notifier } = setup();
    const body = report({ token: revoked.key });
    expect(await post(body, signedHeaders(body, current))).toMatchObject({ status: 200, json: [{ label: 'true_positive' }] });
    expect(store.writes).toBe(0);
    expect(store.records.get(revoked.record.keyHash)?.revokedReason).toBeUndefined();
    expect(notifier.published).toHaveLength(0);
  });

  it('looks a key up once when the report names it several times, and records the first URL', async () => {
    const { post, store, live } = setup();
    const body = report({ token: live.key, url: `${LEAK_URL}#L1` }, { token: live.key, url: `${LEAK_URL}#L9` });
    expect(await post(body, signedHeaders(body, current))).toMatchObject({
      status: 200,
      json: [{ label: 'true_positive' }, { label: 'true_positive' }],
    });
    expect(store.reads).toBe(1);
    expect(store.records.get(live.record.keyHash)?.leakUrl).toBe(`${LEAK_URL}#L1`);
  });

  it('records no URL that is not http(s), and an empty one not at all', async () => {
    const { post, store, live, sibling } = setup();
    const body = report({ token: live.key, url: 'javascript:alert(1)' }, { token: sibling.key, url: '' });
    expect((await post(body, signedHeaders(body, current))).status).toBe(200);
    expect(store.records.get(live.record.keyHash)?.leakUrl).toBeUndefined();
    expect(store.records.get(sibling.record.keyHash)).toMatchObject({ revokedReason: 'leaked', leakedAt: expect.any(String) });
    expect(store.records.get(sibling.record.keyHash)?.leakUrl).toBeUndefined();
  });

  it('records no URL that contains the token itself', async () => {
    const { post, store, live, logs } = setup();
    const body = report({ token: live.key, url: `https://example.com/?key=${live.key}` });
    expect((await post(body, signedHeaders(body, current))).status).toBe(200);
    expect(store.records.get(live.record.keyHash)).toMatchObject({ revokedReason: 'leaked' });
    expect(store.records.get(live.record.keyHash)?.leakUrl).toBeUndefined();
    expect(logs.lines.join('\n')).not.toContain(live.key);
  });

  it('verifies a base64-encoded body (a binary media type) over its decoded bytes', async () => {
    const { post, live } = setup();
    const body = report({ token: live.key });
    const response = await post(Buffer.from(body).toString('base64'), signedHeaders(body, current), { isBase64Encoded: true });
    expect(response).toMatchObject({ status: 200, json: [{ label: 'true_positive' }] });
  });

  it('reads the headers whatever their case (API Gateway keeps the sender’s)', async () => {
    const { post, live } = setup();
    const body = report({ token: live.key });
    const headers = Object.fromEntries(Object.entries(signedHeaders(body, current)).map(([name, value]) => [name.toLowerCase(), value]));
    expect((await post(body, headers)).status).toBe(200);
  });

  it('reads a match without a type or a URL (echoing an empty type)', async () => {
    const { post, live } = setup();
    const body = JSON.stringify([{ token: live.key }]);
    expect(await post(body, signedHeaders(body, current))).toEqual({
      status: 200,
      json: [{ token_raw: live.key, token_type: '', label: 'true_positive' }],
    });
  });

  it('answers an empty report with an empty feedback array', async () => {
    const { post, store } = setup();
    expect(await post('[]', signedHeaders('[]', current))).toEqual({ status: 200, json: [] });
    expect(store.reads).toBe(0);
  });
});

describe('the notify action', () => {
  it('records the leak and publishes, but leaves the key working; a repeat does nothing', async () => {
    const { post, store, live, notifier } = setup({ action: 'notify' });
    const body = report({ token: live.key });
    expect(await post(body, signedHeaders(body, current))).toMatchObject({ status: 200, json: [{ label: 'true_positive' }] });
    const stored = store.records.get(live.record.keyHash);
    expect(stored).toMatchObject({ leakedAt: '2031-05-01T12:00:00.000Z', leakUrl: LEAK_URL });
    expect(stored?.revokedAt).toBeUndefined();
    expect(notifier.published).toEqual([expect.objectContaining({ action: 'marked', keyId: live.record.keyId })]);
    await post(body, signedHeaders(body, current));
    expect(notifier.published).toHaveLength(1);
    expect(store.writes).toBe(1);
  });
});

describe('failures', () => {
  it('answers 503 when the table is unavailable (GitHub retries), having acted on nothing it could not read', async () => {
    const { post, store, live, logs } = setup();
    store.failReadsWith = new KeyStoreUnavailableError('key table read failed');
    const body = report({ token: live.key });
    expect((await post(body, signedHeaders(body, current))).status).toBe(503);
    expect(logs.entries().find((line) => line['reason'] === 'leak_key_failed')).toMatchObject({ keyStart: live.record.start });
  });

  it('still revokes and answers 200 when the topic cannot be reached, and says so in the log', async () => {
    const { post, store, live, notifier, logs } = setup();
    notifier.failWith = new Error('SNS publish answered 403 (AuthorizationError)');
    const body = report({ token: live.key });
    expect((await post(body, signedHeaders(body, current))).status).toBe(200);
    expect(store.records.get(live.record.keyHash)?.revokedReason).toBe('leaked');
    expect(logs.entries().find((line) => line['reason'] === 'leak_publish_failed')).toMatchObject({ keyId: live.record.keyId });
    expect(logs.entries().find((line) => line['message'] === 'leak report')).toMatchObject({ LeakPublishFailures: 1, LeakKeysRevoked: 1 });
  });
});

describe('a report of 1,000 matches', () => {
  it('finishes in well under the function timeout with at most 16 table calls in flight', async () => {
    const live = Array.from({ length: 500 }, (_, index) => makeKey({ owner: `owner-${index % 7}` }));
    // 5 ms per table call: a slow DynamoDB. Sequentially 500 reads and 500 writes would take 5 s.
    const { post, store } = setup({ records: live.map((entry) => entry.record), latencyMs: 5 });
    const matches = [
      ...live.map((entry) => ({ token: entry.key })),
      ...Array.from({ length: 500 }, (_, index) => ({ token: `junk_${index}` })),
    ];
    const body = report(...matches);
    const startedMs = performance.now();
    const response = await post(body, signedHeaders(body, current));
    const elapsedMs = performance.now() - startedMs;
    expect(response.status).toBe(200);
    const labels = (response.json as { label: string }[]).map((entry) => entry.label);
    expect(labels.filter((label) => label === 'true_positive')).toHaveLength(500);
    expect(store.reads).toBe(500);
    expect(store.writes).toBe(500);
    expect(store.maxInFlight).toBeLessThanOrEqual(16);
    expect(store.maxInFlight).toBeGreaterThan(1);
    expect(elapsedMs).toBeLessThan(5000);
    expect(live.every((entry) => store.records.get(entry.record.keyHash)?.revokedReason === 'leaked')).toBe(true);
  });

  it('keeps to a smaller concurrency when one is set', async () => {
    const live = Array.from({ length: 40 }, () => makeKey());
    const { post, store } = setup({ records: live.map((entry) => entry.record), latencyMs: 2, concurrency: 4 });
    const body = report(...live.map((entry) => ({ token: entry.key })));
    expect((await post(body, signedHeaders(body, current))).status).toBe(200);
    expect(store.maxInFlight).toBe(4);
  });
});

describe('the metric line', () => {
  it('counts one report per request by outcome, with its tokens, true positives and revocations', async () => {
    const { post, live, logs } = setup();
    const body = report({ token: live.key }, { token: 'junk' });
    await post(body, signedHeaders(body, current));
    await post(body, {});
    const lines = logs.entries().filter((line) => line['message'] === 'leak report');
    expect(lines[0]).toMatchObject({
      outcome: 'accepted',
      statusCode: 200,
      LeakReports: 1,
      LeakTokens: 2,
      LeakTruePositives: 1,
      LeakKeysRevoked: 1,
      _aws: expect.anything(),
    });
    expect(lines[1]).toMatchObject({ outcome: 'signature_missing', statusCode: 401, LeakReports: 1, LeakTokens: 0 });
  });
});
