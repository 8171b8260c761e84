/** A bad setting's error names it the way the user wrote it: prop name, CDK context key, or environment variable. */
import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { configFromContext, DualgateConfigError } from '../../lib/construct/config';
import { DualAuthApi } from '../../lib/construct/dual-auth-api';
import { readSettings, SettingsError } from '../../lambdas/core/settings';

describe('setting errors name what the user typed', () => {
  it('construct props: the prop name', () => {
    // Validation runs first in the constructor, so nothing is bundled.
    const stack = new Stack(new App(), 'Props');
    expect(() => new DualAuthApi(stack, 'A', { keyCacheTtlSeconds: -1 })).toThrow(
      /^keyCacheTtlSeconds must be an integer from 0 to 3600 seconds \(got -1\)$/,
    );
    expect(() => new DualAuthApi(stack, 'B', { keyPrefix: 'Bad_Prefix' })).toThrow(/^keyPrefix must match/);
    expect(() => new DualAuthApi(stack, 'C', { issuers: [{ issuer: 'http://idp.example.com', audience: ['a'] }] })).toThrow(
      /^issuers\[0\]\.issuer must be an https URL/,
    );
  });

  it('CDK context: the dualgate:<name> key', () => {
    const fromContext = (context: Record<string, unknown>) => {
      const app = new App({ context });
      return () => configFromContext((key) => app.node.tryGetContext(key));
    };
    expect(fromContext({ 'dualgate:keyCacheTtlSeconds': 'soon' })).toThrow(
      /^dualgate:keyCacheTtlSeconds must be an integer from 0 to 3600 seconds \(got "soon"\)$/,
    );
    expect(fromContext({ 'dualgate:authorizerCacheTtlSeconds': '7200' })).toThrow(/^dualgate:authorizerCacheTtlSeconds must/);
    expect(fromContext({ 'dualgate:keyPrefix': 'Bad_Prefix' })).toThrow(/^dualgate:keyPrefix must match/);
    expect(fromContext({ 'dualgate:issuers': '[{"issuer":"https://idp.example.com"}]' })).toThrow(
      /^dualgate:issuers\[0\] needs an audience/,
    );
    expect(fromContext({ 'dualgate:issuers': 'not json' })).toThrow(/^dualgate:issuers must be JSON/);
    expect(fromContext({ 'dualgate:logLevel': 'LOUD' })).toThrow(/^dualgate:logLevel must be DEBUG/);
    expect(fromContext({ 'dualgate:cognito': 'false' })).toThrow(/set dualgate:issuers, or leave dualgate:cognito on/);
    expect(fromContext({ 'dualgate:keyCacheTtlSeconds': 'soon' })).toThrow(DualgateConfigError);
  });

  it('Lambda environment: the variable', () => {
    const base = { DUALGATE_KEY_TABLE: 'keys' };
    expect(() => readSettings({ ...base, DUALGATE_KEY_CACHE_TTL_SECONDS: 'soon' })).toThrow(
      /^DUALGATE_KEY_CACHE_TTL_SECONDS must be an integer/,
    );
    expect(() => readSettings({ ...base, DUALGATE_KEY_PREFIX: 'Bad_Prefix' })).toThrow(/^DUALGATE_KEY_PREFIX must match/);
    expect(() => readSettings({ ...base, DUALGATE_ISSUERS: '[{"issuer":"https://idp.example.com"}]' })).toThrow(
      /^DUALGATE_ISSUERS\[0\] needs an audience/,
    );
    expect(() => readSettings({ ...base, DUALGATE_ISSUERS: '{}' })).toThrow(SettingsError);
  });
});
