import { describe, expect, it } from 'vitest';
import { MissingPrincipalError, principalFrom, toAuthorizerContext, type Principal } from '../../lambdas/core/principal';

/** What API Gateway hands a backend: the authorizer's context plus the keys it adds itself. */
const eventWith = (authorizer: Record<string, unknown> | null | undefined) => ({ requestContext: { authorizer } });
const gatewayAdds = { principalId: 'someone', integrationLatency: 12 };

describe('principalFrom', () => {
  it.each<[string, Principal]>([
    ['a key caller', { sub: 'user-1', scopes: ['keys:read', 'read:users'], authMethod: 'apiKey', keyId: 'key_01ABC' }],
    ['a JWT caller', { sub: 'client-9', scopes: ['read:users'], authMethod: 'jwt' }],
    ['a caller with no scopes', { sub: 'client-9', scopes: [], authMethod: 'jwt' }],
  ])('reads back the context the authorizer writes for %s (values as strings, as API Gateway passes them)', (_name, principal) => {
    const context = { ...gatewayAdds, principalId: principal.sub, ...toAuthorizerContext(principal) };
    expect(principalFrom(eventWith(context))).toEqual(principal);
  });

  it.each<[string, Record<string, unknown> | null | undefined, RegExp]>([
    ['no authorizer at all', undefined, /no authorizer context/],
    ['a null authorizer', null, /no authorizer context/],
    ['another authorizer: principalId only (no fallback to it)', { principalId: 'alice' }, /`sub` must be/],
    [
      'another authorizer with its own sub but no authMethod (no default)',
      { principalId: 'alice', sub: 'alice', scopes: 'read:users' },
      /`authMethod` must be "apiKey" or "jwt" \(got undefined\)/,
    ],
    ['an unknown authMethod', { sub: 'alice', scopes: '', authMethod: 'saml' }, /`authMethod` must be/],
    ['scopes as a list, not dualgate’s string', { sub: 'alice', scopes: ['read:users'], authMethod: 'jwt' }, /`scopes` must be/],
    ['no scopes field', { sub: 'alice', authMethod: 'jwt' }, /`scopes` must be/],
    ['an empty sub', { sub: '', scopes: '', authMethod: 'jwt' }, /`sub` must be/],
    ['a key caller without keyId', { sub: 'alice', scopes: '', authMethod: 'apiKey' }, /`keyId` must be a non-empty string/],
    ['a JWT caller with a keyId', { sub: 'alice', scopes: '', authMethod: 'jwt', keyId: 'key_1' }, /`keyId` is only set/],
  ])('throws a MissingPrincipalError naming the problem for %s', (_name, authorizer, message) => {
    const read = () => principalFrom(eventWith(authorizer));
    expect(read).toThrow(MissingPrincipalError);
    expect(read).toThrow(message);
    expect(read).toThrow(/dualgate authorizer/);
  });
});
