/** cdk-nag's AwsSolutions pack over the demo app: any finding without an acknowledged reason fails the suite. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DualgateStack } from '../../examples/demo/stack';
import type { DualAuthApiProps } from '../../lib/construct/dual-auth-api';

function synthWithNag(extend?: (stack: DualgateStack) => void, dualgate?: DualAuthApiProps): { error?: Error; report?: string } {
  const app = new App();
  const stack = new DualgateStack(app, 'NagStack', {
    env: { account: '123456789012', region: 'eu-west-1' },
    ...(dualgate ? { dualgate } : {}),
  });
  extend?.(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
    return {};
  } catch (error) {
    const path = /found in: (\S+)/.exec((error as Error).message)?.[1];
    return { error: error as Error, report: path ? readFileSync(path, 'utf8') : undefined };
  }
}

// A full synth of the demo with every AwsSolutions rule takes ~20 s on this 2-core machine when idle.
describe('cdk-nag AwsSolutions', { timeout: 120_000 }, () => {
  it('finds nothing unacknowledged in the demo stack', () => {
    const { error, report } = synthWithNag();
    expect(report ?? error?.message).toBeUndefined();
  });

  it('finds nothing unacknowledged with plans (usage plans, API keys, the key API API Gateway permissions)', () => {
    const { error, report } = synthWithNag(undefined, {
      plans: {
        free: { rateLimitPerSecond: 5, burstLimit: 10, quota: { limit: 1000, period: 'DAY' } },
        pro: { rateLimitPerSecond: 50, burstLimit: 100 },
      },
    });
    expect(report ?? error?.message).toBeUndefined();
  });

  it('finds nothing unacknowledged with the developer portal (its function, open routes and public Cognito client)', () => {
    const { error, report } = synthWithNag(undefined, { portal: { defaultScopes: ['read:users'] } });
    expect(report ?? error?.message).toBeUndefined();
  });

  it('does fail on a new unacknowledged finding (the check is live)', () => {
    const { error, report } = synthWithNag((stack) => new s3.Bucket(stack, 'UnloggedBucket'));
    expect(error).toBeDefined();
    expect(report ?? error?.message).toContain('AwsSolutions-S1');
    expect(report ?? error?.message).toContain('UnloggedBucket');
  });
});
