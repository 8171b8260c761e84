/**
 * SNS Publish through SNS's Query API, signed with Signature V4 (@smithy/signature-v4, the signer inside every
 * AWS SDK v3 client, already in the bundle's dependency tree through @aws-sdk/client-dynamodb). One small call:
 * @aws-sdk/client-sns would be the usual choice, and drops in behind LeakNotifier unchanged.
 *
 * Credentials come from the Lambda environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), as
 * the bundled SDK's own environment-only provider reads them (lambdas/shared/bundling/lambda-env-credentials.ts).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { LeakPublishError, type LeakEvent, type LeakNotifier } from './leak-notifier';

interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The signer's hash: SHA-256, or HMAC-SHA-256 with a secret (what @smithy/hash-node does, on node:crypto). */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

export function credentialsFromEnv(env: Record<string, string | undefined> = process.env): AwsCredentials {
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (!accessKeyId || !secretAccessKey) throw new LeakPublishError('no AWS credentials in the environment');
  const sessionToken = env['AWS_SESSION_TOKEN'];
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/** `arn:<partition>:sns:<region>:<account>:<name>` → where to send it. */
export function snsEndpointFor(topicArn: string): { region: string; hostname: string } {
  const match = /^arn:(aws[a-z-]*):sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]+$/.exec(topicArn);
  if (!match) throw new LeakPublishError(`not an SNS topic ARN: ${topicArn}`);
  const [, partition, region] = match as unknown as [string, string, string];
  return { region, hostname: `sns.${region}.${partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com'}` };
}

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number; text(): Promise<string> }>;

export class SnsLeakNotifier implements LeakNotifier {
  private readonly signer: SignatureV4;
  private readonly hostname: string;
  private readonly fetch: FetchLike;
  private readonly timeoutMs: number;

  constructor(
    private readonly topicArn: string,
    options: { credentials?: () => AwsCredentials; fetch?: FetchLike; timeoutMs?: number } = {},
  ) {
    const { region, hostname } = snsEndpointFor(topicArn);
    this.hostname = hostname;
    const credentials = options.credentials ?? (() => credentialsFromEnv());
    this.signer = new SignatureV4({ service: 'sns', region, sha256: Sha256, credentials: async () => credentials() });
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.timeoutMs = options.timeoutMs ?? 3000;
  }

  async publish(event: LeakEvent): Promise<void> {
    const body = new URLSearchParams({
      Action: 'Publish',
      Version: '2010-03-31',
      TopicArn: this.topicArn,
      Subject: `dualgate: key ${event.keyId} leaked (${event.action})`.slice(0, 100),
      Message: JSON.stringify(event),
    }).toString();
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: 'https:',
      hostname: this.hostname,
      path: '/',
      query: {},
      headers: { host: this.hostname, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
    });
    let response;
    try {
      response = await this.fetch(`https://${this.hostname}/`, {
        method: 'POST',
        headers: signed.headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new LeakPublishError(`SNS publish failed: ${(error as Error).message}`);
    }
    if (response.status !== 200) {
      const text = await response.text().catch(() => '');
      const code = /<Code>([^<]{1,100})<\/Code>/.exec(text)?.[1] ?? 'unknown';
      throw new LeakPublishError(`SNS publish answered ${response.status} (${code})`);
    }
  }
}
