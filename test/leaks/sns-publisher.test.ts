/** SNS Publish over the Query API: one signed POST to the topic's regional endpoint; failures become LeakPublishError. */
import { describe, expect, it } from 'vitest';
import { LeakPublishError, type LeakEvent } from '../../lambdas/leaks/leak-notifier';
import { credentialsFromEnv, snsEndpointFor, SnsLeakNotifier, type FetchLike } from '../../lambdas/leaks/sns-publisher';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:key-leaks';
const EVENT: LeakEvent = {
  type: 'dualgate.key.leaked',
  action: 'revoked',
  keyId: 'key_01J00000000000000000000000',
  start: 'dg_AbCd',
  name: 'ci',
  owner: 'alice',
  reportedAt: '2031-05-01T12:00:00.000Z',
  reporter: 'github',
  url: 'https://github.com/o/r/blob/1/.env',
  tokenType: 'dualgate_api_key',
};

function recordingFetch(
  status = 200,
  answer = '<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>',
) {
  const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, headers: init.headers, body: init.body });
    return { status, text: async () => answer };
  };
  return { calls, fetch };
}

describe('SnsLeakNotifier', () => {
  it('posts one SigV4-signed Publish of the event as JSON to the topic’s regional endpoint', async () => {
    const { calls, fetch } = recordingFetch();
    const notifier = new SnsLeakNotifier(TOPIC, {
      fetch,
      credentials: () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' }),
    });
    await notifier.publish(EVENT);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.url).toBe('https://sns.eu-west-1.amazonaws.com/');
    const form = new URLSearchParams(call?.body);
    expect(Object.fromEntries(form)).toMatchObject({ Action: 'Publish', Version: '2010-03-31', TopicArn: TOPIC });
    expect(JSON.parse(form.get('Message') ?? '')).toEqual(EVENT);
    expect(form.get('Subject')).toBe('dualgate: key key_01J00000000000000000000000 leaked (revoked)');
    expect(call?.headers['authorization']).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sns\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(call?.headers['x-amz-security-token']).toBe('session');
    expect(call?.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it('turns an SNS error answer into LeakPublishError naming its code', async () => {
    const { fetch } = recordingFetch(
      403,
      '<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>no</Message></Error></ErrorResponse>',
    );
    const notifier = new SnsLeakNotifier(TOPIC, { fetch, credentials: () => ({ accessKeyId: 'a', secretAccessKey: 'b' }) });
    await expect(notifier.publish(EVENT)).rejects.toThrow(new LeakPublishError('SNS publish answered 403 (AuthorizationError)'));
  });

  it('turns a network failure into LeakPublishError', async () => {
    const notifier = new SnsLeakNotifier(TOPIC, {
      fetch: async () => {
        throw new Error('getaddrinfo ENOTFOUND');
      },
      credentials: () => ({ accessKeyId: 'a', secretAccessKey: 'b' }),
    });
    await expect(notifier.publish(EVENT)).rejects.toBeInstanceOf(LeakPublishError);
  });

  it('finds the endpoint from the ARN (China partition included) and refuses anything else', () => {
    expect(snsEndpointFor('arn:aws-cn:sns:cn-north-1:123456789012:t')).toEqual({
      region: 'cn-north-1',
      hostname: 'sns.cn-north-1.amazonaws.com.cn',
    });
    expect(snsEndpointFor('arn:aws-us-gov:sns:us-gov-west-1:123456789012:t').hostname).toBe('sns.us-gov-west-1.amazonaws.com');
    expect(() => snsEndpointFor('arn:aws:sqs:eu-west-1:123456789012:q')).toThrow(LeakPublishError);
    expect(() => new SnsLeakNotifier('https://sns.example/topic')).toThrow(/not an SNS topic ARN/);
  });

  it('reads credentials from the Lambda environment, and refuses to run without them', () => {
    expect(credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_SESSION_TOKEN: 'c' })).toEqual({
      accessKeyId: 'a',
      secretAccessKey: 'b',
      sessionToken: 'c',
    });
    expect(() => credentialsFromEnv({})).toThrow(/no AWS credentials/);
  });
});
