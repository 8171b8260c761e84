import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideEntitledGrant } from '../../lambdas/keys/scopes';
import { nextEntitledScopes } from '../../lambdas/keys/operation-context';
import { currentEntitlements, dependsOnEntitlements, effectiveScopes } from '../../lambdas/core/entitlements';

const catalog = new Set(['keys:read', 'keys:write', 'keys:admin', 'read:orders', 'write:orders', 'files:rw']);
const jwt = (scopes: string[]) => ({ scopes, authMethod: 'jwt' as const });
const key = (scopes: string[]) => ({ scopes, authMethod: 'apiKey' as const });

describe('effectiveScopes', () => {
  it('drops only the entitled scopes the owner lost; scopes held otherwise stay', () => {
    const record = { scopes: ['keys:read', 'read:orders', 'write:orders'], entitledScopes: ['read:orders', 'write:orders'] };
    expect(effectiveScopes(record, currentEntitlements(['read:orders'], []))).toEqual(['keys:read', 'read:orders']);
    expect(effectiveScopes(record, currentEntitlements([], ['write:orders', 'read:orders']))).toEqual([
      'keys:read',
      'read:orders',
      'write:orders',
    ]);
    expect(effectiveScopes({ scopes: ['read:orders'] }, new Set())).toEqual(['read:orders']);
    expect(dependsOnEntitlements({ entitledScopes: [] })).toBe(false);
    expect(dependsOnEntitlements({})).toBe(false);
    expect(dependsOnEntitlements({ entitledScopes: ['read:orders'] })).toBe(true);
  });

  it('property: never widens, keeps every scope not held through entitlements, and keeps entitled ones still entitled', () => {
    const scope = fc.constantFrom(...catalog);
    fc.assert(
      fc.property(fc.uniqueArray(scope), fc.uniqueArray(scope), fc.uniqueArray(scope), (scopes, entitledScopes, entitled) => {
        const effective = effectiveScopes({ scopes, entitledScopes }, new Set(entitled));
        expect(effective.every((held) => scopes.includes(held))).toBe(true);
        for (const held of scopes) {
          const kept = !entitledScopes.includes(held) || entitled.includes(held);
          expect(effective.includes(held)).toBe(kept);
        }
      }),
    );
  });
});

describe('decideEntitledGrant', () => {
  const none = { entitled: new Set<string>() };

  it('lets a JWT caller grant its token scopes (not entitlement-bound) plus its entitlements (bound)', () => {
    expect(decideEntitledGrant(['keys:read'], jwt(['keys:read']), catalog, 'keys:admin', none)).toEqual({ ok: true, entitledScopes: [] });
    expect(
      decideEntitledGrant(['keys:read', 'read:orders'], jwt(['keys:read']), catalog, 'keys:admin', { entitled: new Set(['read:orders']) }),
    ).toEqual({ ok: true, entitledScopes: ['read:orders'] });
    expect(
      decideEntitledGrant(['write:orders'], jwt(['keys:read']), catalog, 'keys:admin', { entitled: new Set(['read:orders']) }),
    ).toEqual({ ok: false, reason: 'escalation', scopes: ['write:orders'] });
  });

  it('fails closed for a credential kind it does not know, instead of treating it as a JWT (which may use entitlements)', () => {
    const stranger = { ...jwt(['keys:read']), authMethod: 'mtls' as never };
    expect(() => decideEntitledGrant(['read:orders'], stranger, catalog, 'keys:admin', { entitled: new Set(['read:orders']) })).toThrow(
      'unknown authMethod "mtls"',
    );
  });

  it('never lets an API-key caller use its owner’s entitlements, and carries its own entitled scopes to what it grants', () => {
    expect(
      decideEntitledGrant(['write:orders'], key(['keys:write']), catalog, 'keys:admin', { entitled: new Set(['write:orders']) }),
    ).toEqual({ ok: false, reason: 'escalation', scopes: ['write:orders'] });
    expect(
      decideEntitledGrant(['read:orders'], key(['read:orders', 'keys:write']), catalog, 'keys:admin', {
        entitled: new Set(),
        callerKeyEntitled: ['read:orders'],
      }),
    ).toEqual({ ok: true, entitledScopes: ['read:orders'] });
  });

  it('reports unknown scopes before anything else, and lets an admin grant any catalog scope unbound', () => {
    expect(decideEntitledGrant(['no:such', 'write:orders'], jwt([]), catalog, 'keys:admin', none)).toEqual({
      ok: false,
      reason: 'unknown_scope',
      scopes: ['no:such'],
    });
    expect(decideEntitledGrant(['write:orders', 'files:rw'], jwt(['keys:admin']), catalog, 'keys:admin', none)).toEqual({
      ok: true,
      entitledScopes: [],
    });
  });

  it('nextEntitledScopes only adds dependencies, and drops one only with its scope', () => {
    expect(nextEntitledScopes(['read:orders'], [], ['read:orders', 'keys:read'])).toEqual(['read:orders']);
    expect(nextEntitledScopes(['read:orders'], ['write:orders'], ['write:orders'])).toEqual(['write:orders']);
    expect(nextEntitledScopes(undefined, [], ['keys:read'])).toBeUndefined();
  });
});
