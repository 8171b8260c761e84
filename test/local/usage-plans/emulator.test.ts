import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateUsagePlanKeyCommand, DeleteApiKeyCommand, GetUsagePlanKeyCommand } from '@aws-sdk/client-api-gateway';
import { afterEach, describe, expect, it } from 'vitest';
import { UsagePlanEmulator } from '../../../lib/local/usage-plans/emulator';
import { LOCAL_SHARED_USAGE_KEY, startLocalUsagePlans } from '../../../lib/local/usage-plans/local-usage-plans';
import {
  AwsUsagePlanGateway,
  createApiGatewayClient,
  UsageKeyLimitError,
  UsagePlanUnavailableError,
} from '../../../lambdas/keys/usage-plan-gateway';

const PLANS = {
  tiny: { id: 'p-tiny', name: 'tiny', throttle: { rateLimitPerSecond: 1, burstLimit: 2 }, quota: { limit: 3, period: 'DAY' as const } },
};

describe('usage-plan emulator', () => {
  it('answers forbidden for no identifier, an unknown one, and a key in no plan (API Gateway 403s)', () => {
    const emulator = new UsagePlanEmulator({ plans: [PLANS.tiny] });
    const key = emulator.createApiKey({ name: 'k', enabled: true });
    expect(emulator.admit(undefined)).toBe('forbidden');
    expect(emulator.admit('no-such-key-value-at-all')).toBe('forbidden');
    expect(emulator.admit(key.value)).toBe('forbidden');
    emulator.createUsagePlanKey('p-tiny', key.id);
    expect(emulator.admit(key.value)).toBe('ok');
  });

  it('throttles per key after the burst and stops at the quota, per key', () => {
    let nowMs = Date.parse('2026-01-01T10:00:00Z');
    const emulator = new UsagePlanEmulator({ plans: [PLANS.tiny], nowMs: () => nowMs });
    const [a, b] = ['a', 'b'].map((name) => {
      const key = emulator.createApiKey({ name, enabled: true });
      emulator.createUsagePlanKey('p-tiny', key.id);
      return key;
    });
    expect([emulator.admit(a?.value), emulator.admit(a?.value), emulator.admit(a?.value)]).toEqual(['ok', 'ok', 'throttled']);
    expect(emulator.admit(b?.value)).toBe('ok');
    nowMs += 1000;
    expect(emulator.admit(a?.value)).toBe('ok');
    nowMs += 5000;
    expect(emulator.admit(a?.value)).toBe('quota_exceeded');
    expect(emulator.getUsage('p-tiny', a?.id, '2026-01-01', '2026-01-01')).toEqual({ [a?.id as string]: [[3, 0]] });
  });

  it('keeps a key in one usage plan per stage, and refuses keys past the account limit', () => {
    const emulator = new UsagePlanEmulator({ plans: [PLANS.tiny, { id: 'p-2', name: 'two' }], maxApiKeys: 1 });
    const key = emulator.createApiKey({ name: 'k', enabled: true });
    emulator.createUsagePlanKey('p-tiny', key.id);
    expect(() => emulator.createUsagePlanKey('p-2', key.id)).toThrow(/already associated/);
    expect(() => emulator.createApiKey({ name: 'one too many' })).toThrow(/limit exceeded/);
  });
});

describe('the key API client against the emulated control plane', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('creates, moves and reads usage keys through the real SDK client, and maps the key limit to UsageKeyLimitError', async () => {
    const local = await startLocalUsagePlans({
      plans: {
        free: { rateLimitPerSecond: 10, burstLimit: 10 },
        gold: { rateLimitPerSecond: 100, burstLimit: 100, quota: { limit: 50, period: 'MONTH' } },
      },
      host: '127.0.0.1',
    });
    try {
      const gateway = new AwsUsagePlanGateway(
        createApiGatewayClient({
          endpoint: local.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
      );
      const freeId = await gateway.usagePlanId('local-free');
      const goldId = await gateway.usagePlanId('local-gold');
      expect([freeId, goldId]).toEqual(['local-free', 'local-gold']);
      expect(await gateway.usagePlanId('nope')).toBeUndefined();
      const key = await gateway.createUsageKey('alice');
      await gateway.addToPlan('local-free', key.id);
      expect(local.emulator.admit(key.value)).toBe('ok');
      await gateway.removeFromPlan('local-free', key.id);
      await gateway.removeFromPlan('local-free', key.id); // idempotent
      await gateway.addToPlan('local-gold', key.id);
      expect(local.emulator.admit(key.value)).toBe('ok');
      const today = new Date().toISOString().slice(0, 10);
      expect(await gateway.usageOn('local-gold', key.id, today)).toEqual({ used: 1, remaining: 49 });
      // Without a defaultPlan the shared key sits on a plan without limits.
      for (let index = 0; index < 200; index++) expect(local.emulator.admit(LOCAL_SHARED_USAGE_KEY.value)).toBe('ok');
    } finally {
      await local.stop();
    }
    const limited = new UsagePlanEmulator({ plans: [], maxApiKeys: 0 });
    const { startControlPlane } = await import('../../../lib/local/usage-plans/control-plane');
    const plane = await startControlPlane(limited, '127.0.0.1');
    try {
      const gateway = new AwsUsagePlanGateway(
        createApiGatewayClient({
          endpoint: plane.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
      );
      await expect(gateway.createUsageKey('bob')).rejects.toBeInstanceOf(UsageKeyLimitError);
    } finally {
      await plane.close();
    }
  });

  it('counts adding a key to the plan it is already in as success, and still refuses a key in another plan of the stage', async () => {
    const local = await startLocalUsagePlans({
      plans: { free: { rateLimitPerSecond: 10, burstLimit: 10 }, gold: { rateLimitPerSecond: 100, burstLimit: 100 } },
      host: '127.0.0.1',
    });
    try {
      const client = createApiGatewayClient({
        endpoint: local.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const gateway = new AwsUsagePlanGateway(client);
      const key = await gateway.createUsageKey('alice');
      await gateway.addToPlan('local-free', key.id);
      // API Gateway's answer to the repeat is ConflictException (409); the emulator answers the same.
      await expect(
        client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'local-free', keyId: key.id, keyType: 'API_KEY' })),
      ).rejects.toMatchObject({ name: 'ConflictException', $metadata: { httpStatusCode: 409 } });
      await expect(gateway.addToPlan('local-free', key.id)).resolves.toBeUndefined();
      // GetUsagePlanKey tells the two conflicts apart: the key is in free, not in gold.
      await expect(client.send(new GetUsagePlanKeyCommand({ usagePlanId: 'local-gold', keyId: key.id }))).rejects.toMatchObject({
        name: 'NotFoundException',
      });
      await expect(gateway.addToPlan('local-gold', key.id)).rejects.toBeInstanceOf(UsagePlanUnavailableError);
      expect(local.emulator.snapshot().planKeys.filter((member) => member.keyId === key.id)).toEqual([
        { usagePlanId: 'local-free', keyId: key.id },
      ]);
    } finally {
      await local.stop();
    }
  });

  it('tags keys on create and deletes them as API Gateway does: out of their plan, NotFoundException for an unknown id', async () => {
    const local = await startLocalUsagePlans({
      plans: { free: { rateLimitPerSecond: 10, burstLimit: 10, quota: { limit: 100, period: 'DAY' } } },
      defaultPlan: 'free',
      host: '127.0.0.1',
    });
    try {
      const client = createApiGatewayClient({
        endpoint: local.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const gateway = new AwsUsagePlanGateway(client, { owner: 'stack-owner' });
      const key = await gateway.createUsageKey('alice');
      expect(local.emulator.apiKeys().find((stored) => stored.id === key.id)?.tags).toEqual({ 'dualgate:owner': 'stack-owner' });
      await gateway.addToPlan('local-free', key.id);
      expect(local.emulator.admit(key.value)).toBe('ok');
      expect(await gateway.deleteUsageKey(key.id)).toBe('deleted');
      expect(local.emulator.admit(key.value)).toBe('forbidden');
      const snapshot = local.emulator.snapshot();
      expect(snapshot.apiKeys.map((stored) => stored.id)).not.toContain(key.id);
      expect([...snapshot.planKeys, ...snapshot.quotas, ...snapshot.daily].filter((entry) => entry.keyId === key.id)).toEqual([]);
      expect(await gateway.deleteUsageKey(key.id)).toBe('not_found');
      await expect(client.send(new DeleteApiKeyCommand({ apiKey: key.id }))).rejects.toMatchObject({
        name: 'NotFoundException',
        $metadata: { httpStatusCode: 404 },
      });
      // Without an owner, keys are created untagged.
      const untagged = await new AwsUsagePlanGateway(client).createUsageKey('bob');
      expect(local.emulator.apiKeys().find((stored) => stored.id === untagged.id)?.tags).toBeUndefined();
    } finally {
      await local.stop();
    }
  });

  it('keeps keys, plan membership and counts in --data across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dualgate-plans-'));
    dirs.push(dir);
    const plans = { q: { rateLimitPerSecond: 100, burstLimit: 100, quota: { limit: 2, period: 'DAY' as const } } };
    const first = await startLocalUsagePlans({ plans, defaultPlan: 'q', host: '127.0.0.1', dataDir: dir });
    expect(first.emulator.admit(LOCAL_SHARED_USAGE_KEY.value)).toBe('ok');
    expect(first.emulator.admit(LOCAL_SHARED_USAGE_KEY.value)).toBe('ok');
    await first.stop();
    const second = await startLocalUsagePlans({ plans, defaultPlan: 'q', host: '127.0.0.1', dataDir: dir });
    try {
      expect(second.emulator.admit(LOCAL_SHARED_USAGE_KEY.value)).toBe('quota_exceeded');
    } finally {
      await second.stop();
    }
  });
});
