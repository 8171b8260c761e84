/**
 * API Gateway's usage-plan calls behind a small interface: one API key per consumer with a plan, moved between
 * usage plans, and its usage read back. The key API's only AWS dependency besides DynamoDB. Local mode points the
 * same client at its control-plane emulator (DUALGATE_APIGATEWAY_ENDPOINT).
 */
import { randomBytes } from 'node:crypto';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  DeleteUsagePlanKeyCommand,
  GetUsageCommand,
  GetUsagePlanKeyCommand,
  GetUsagePlansCommand,
} from '@aws-sdk/client-api-gateway';
import { USAGE_KEY_OWNER_TAG } from '../core/plans';

export interface UsageOnDay {
  /** Requests counted on that day (UTC). */
  used: number;
  /** What is left of the quota period that day belongs to; null when the plan has no quota. */
  remaining: number | null;
}

export interface UsagePlanGateway {
  /** A usage plan's id by its name; undefined when no usage plan has that name. */
  usagePlanId(name: string): Promise<string | undefined>;
  /** A new enabled API key for a consumer; its value is random and never leaves dualgate. */
  createUsageKey(sub: string): Promise<{ id: string; value: string }>;
  /** Idempotent: a key that is already in the plan is fine. */
  addToPlan(usagePlanId: string, keyId: string): Promise<void>;
  /** Idempotent: a key that is not in the plan is fine. */
  removeFromPlan(usagePlanId: string, keyId: string): Promise<void>;
  /**
   * Delete a consumer key (callers take it out of its usage plan first). `not_found`: already gone.
   * Rejects with UsageKeyDeleteRefusedError when IAM refuses: a key without this API's owner tag.
   */
  deleteUsageKey(keyId: string): Promise<'deleted' | 'not_found'>;
  usageOn(usagePlanId: string, keyId: string, date: string): Promise<UsageOnDay>;
}

/** API Gateway refused another API key: 10,000 per account and Region, not adjustable. */
export class UsageKeyLimitError extends Error {
  override readonly name = 'UsageKeyLimitError';
}

/**
 * IAM refused DeleteApiKey: the key API may delete only keys tagged as this API's (lib/construct/plans.ts), so this is a key
 * created untagged (by a dualgate before keys were tagged) or another API's. With a tag condition IAM may also
 * refuse a key that no longer exists, so this does not say the key is still there.
 */
export class UsageKeyDeleteRefusedError extends Error {
  override readonly name = 'UsageKeyDeleteRefusedError';
  constructor(
    readonly keyId: string,
    options?: { cause?: unknown },
  ) {
    super(`DeleteApiKey of ${keyId} was refused (is the key tagged ${USAGE_KEY_OWNER_TAG}?)`, options);
  }
}

/** Any other failure of the API Gateway control plane. */
export class UsagePlanUnavailableError extends Error {
  override readonly name = 'UsagePlanUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const errorName = (error: unknown): string | undefined => (error as { name?: unknown })?.name as string | undefined;

export function createApiGatewayClient(
  options: { endpoint?: string; region?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } = {},
): APIGatewayClient {
  return new APIGatewayClient({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: 3,
    requestHandler: { requestTimeout: 3000, connectionTimeout: 1000, throwOnRequestTimeout: true },
  });
}

/** How often a container may list the usage plans again to find a name it does not know. */
const PLAN_REFRESH_MS = 60_000;

export class AwsUsagePlanGateway implements UsagePlanGateway {
  private planIds: Map<string, string> | undefined;
  private listedAtMs = 0;

  private readonly namePrefix: string;
  private readonly owner: string | undefined;
  private readonly nowMs: () => number;

  constructor(
    private readonly client: APIGatewayClient,
    options: {
      /** Names the keys after the API they belong to, so an operator can tell them apart in the console. */
      namePrefix?: string;
      /** The `dualgate:owner` tag value every created key carries (RuntimePlans.usageKeyOwner); none: untagged. */
      owner?: string;
      nowMs?: () => number;
    } = {},
  ) {
    this.namePrefix = options.namePrefix ?? 'dualgate';
    this.owner = options.owner;
    this.nowMs = options.nowMs ?? Date.now;
  }

  async usagePlanId(name: string): Promise<string | undefined> {
    if (!this.planIds?.has(name) && (!this.planIds || this.nowMs() - this.listedAtMs >= PLAN_REFRESH_MS)) {
      const ids = new Map<string, string>();
      let position: string | undefined;
      try {
        // 300 usage plans per account and Region at most: a few pages.
        do {
          const page = await this.client.send(new GetUsagePlansCommand({ limit: 500, ...(position ? { position } : {}) }));
          for (const plan of page.items ?? []) if (plan.name && plan.id) ids.set(plan.name, plan.id);
          position = page.position;
        } while (position);
      } catch (error) {
        throw new UsagePlanUnavailableError('GetUsagePlans failed', { cause: error });
      }
      this.planIds = ids;
      this.listedAtMs = this.nowMs();
    }
    return this.planIds?.get(name);
  }

  async createUsageKey(sub: string): Promise<{ id: string; value: string }> {
    // 40 random base64url characters: API Gateway wants at least 20.
    const value = randomBytes(30).toString('base64url');
    try {
      const output = await this.client.send(
        new CreateApiKeyCommand({
          name: `${this.namePrefix}-consumer-${randomBytes(6).toString('hex')}`,
          description: `dualgate usage identifier for ${sub.slice(0, 200)}; not a credential`,
          enabled: true,
          value,
          // Tagged in the same call: the key API's IAM allows CreateApiKey only with this tag, and DeleteApiKey
          // only of keys that carry it.
          ...(this.owner !== undefined ? { tags: { [USAGE_KEY_OWNER_TAG]: this.owner } } : {}),
        }),
      );
      if (!output.id) throw new UsagePlanUnavailableError('CreateApiKey returned no id');
      return { id: output.id, value };
    } catch (error) {
      if (errorName(error) === 'LimitExceededException')
        throw new UsageKeyLimitError(
          'API Gateway allows 10,000 API keys per account and Region (not adjustable): no key left for another consumer with a plan',
          { cause: error },
        );
      if (error instanceof UsagePlanUnavailableError) throw error;
      throw new UsagePlanUnavailableError('CreateApiKey failed', { cause: error });
    }
  }

  async addToPlan(usagePlanId: string, keyId: string): Promise<void> {
    try {
      await this.client.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId, keyType: 'API_KEY' }));
    } catch (error) {
      // CreateUsagePlanKey of a key already in the plan answers ConflictException (409, "the request configuration
      // has conflicts"). That type is not specific to it (the local emulator also uses it for a key in another
      // plan of the stage), so a conflict is success only once GetUsagePlanKey finds the key in this plan.
      if (errorName(error) === 'ConflictException' && (await this.isInPlan(usagePlanId, keyId))) return;
      throw new UsagePlanUnavailableError('CreateUsagePlanKey failed', { cause: error });
    }
  }

  private async isInPlan(usagePlanId: string, keyId: string): Promise<boolean> {
    try {
      await this.client.send(new GetUsagePlanKeyCommand({ usagePlanId, keyId }));
      return true;
    } catch (error) {
      if (errorName(error) === 'NotFoundException') return false;
      throw new UsagePlanUnavailableError('GetUsagePlanKey failed', { cause: error });
    }
  }

  async removeFromPlan(usagePlanId: string, keyId: string): Promise<void> {
    try {
      await this.client.send(new DeleteUsagePlanKeyCommand({ usagePlanId, keyId }));
    } catch (error) {
      if (errorName(error) === 'NotFoundException') return;
      throw new UsagePlanUnavailableError('DeleteUsagePlanKey failed', { cause: error });
    }
  }

  async deleteUsageKey(keyId: string): Promise<'deleted' | 'not_found'> {
    try {
      await this.client.send(new DeleteApiKeyCommand({ apiKey: keyId }));
      return 'deleted';
    } catch (error) {
      const name = errorName(error);
      if (name === 'NotFoundException') return 'not_found';
      if (name === 'AccessDeniedException' || name === 'UnauthorizedException')
        throw new UsageKeyDeleteRefusedError(keyId, { cause: error });
      throw new UsagePlanUnavailableError('DeleteApiKey failed', { cause: error });
    }
  }

  async usageOn(usagePlanId: string, keyId: string, date: string): Promise<UsageOnDay> {
    let output;
    try {
      output = await this.client.send(new GetUsageCommand({ usagePlanId, keyId, startDate: date, endDate: date }));
    } catch (error) {
      throw new UsagePlanUnavailableError('GetUsage failed', { cause: error });
    }
    const day = output.items?.[keyId]?.[0];
    return { used: day?.[0] ?? 0, remaining: day?.[1] ?? null };
  }
}
