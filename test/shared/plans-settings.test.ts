import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../../lambdas/core/settings';

describe('DUALGATE_PLANS (the Lambdas view of plans)', () => {
  const base = { DUALGATE_KEY_TABLE: 'keys' };
  it('is absent without the variable, so nothing about plans runs', () => {
    expect(readSettings(base).plans).toBeUndefined();
  });
  it('reads usage plan names, the default plan and the shared usage key', () => {
    const plans = { usagePlanNames: { free: 'stack-free' }, defaultPlan: 'free', sharedUsageKey: 'dualgate-shared-0000000000000' };
    expect(readSettings({ ...base, DUALGATE_PLANS: JSON.stringify(plans) }).plans).toEqual(plans);
  });
  it('reads the owner tag value of consumer keys when the construct sets it', () => {
    const plans = {
      usagePlanNames: { free: 'Stack-c8a1b2c3-free' },
      sharedUsageKey: 'dualgate-shared-0000000000000',
      usageKeyOwner: 'Stack-c8a1b2c3',
    };
    expect(readSettings({ ...base, DUALGATE_PLANS: JSON.stringify(plans) }).plans).toEqual(plans);
    expect(() => readSettings({ ...base, DUALGATE_PLANS: JSON.stringify({ ...plans, usageKeyOwner: 'no spaces or {braces}' }) })).toThrow(
      /DUALGATE_PLANS: usageKeyOwner must be a tag value/,
    );
    expect(() => readSettings({ ...base, DUALGATE_PLANS: JSON.stringify({ ...plans, usageKeyOwner: '' }) })).toThrow(/usageKeyOwner/);
  });
  it('fails the cold start with a message naming the variable for malformed values', () => {
    expect(() => readSettings({ ...base, DUALGATE_PLANS: 'nope' })).toThrow(new SettingsError('DUALGATE_PLANS: is not valid JSON'));
    expect(() => readSettings({ ...base, DUALGATE_PLANS: '{"usagePlanNames":{"free":"x"},"sharedUsageKey":"short"}' })).toThrow(
      /DUALGATE_PLANS: sharedUsageKey must be/,
    );
    expect(() =>
      readSettings({
        ...base,
        DUALGATE_PLANS: '{"usagePlanNames":{"free":"x"},"sharedUsageKey":"dualgate-shared-0000000000000","defaultPlan":"pro"}',
      }),
    ).toThrow(/DUALGATE_PLANS: defaultPlan must be one of/);
  });
});
