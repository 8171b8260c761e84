import { describe, expect, it } from 'vitest';
import { findCredentials } from '../support/credential-scan';
import { generateKey, hashKey } from '../../lambdas/core/key-format';
import { createSigningKey, signJwt } from '../support/jwt';

describe('the log credential scanner', () => {
  it('finds a real key, a JWT and a hash in a dualgate log line, and nothing in clean lines', () => {
    const { key } = generateKey('dg');
    const jwt = signJwt({ sub: 'x' }, { key: createSigningKey() });
    expect(findCredentials(`oops ${key} leaked`)).toHaveLength(1);
    expect(findCredentials(`{"level":"INFO","service":"x","token":"${jwt}"}`)).toHaveLength(1);
    expect(findCredentials(`{"level":"INFO","service":"x","keyHash":"${hashKey(key)}"}`)).toHaveLength(1);
    expect(findCredentials(`{"level":"INFO","service":"x","keyId":"key_01HZX","start":"dg_AbCd"}`)).toEqual([]);
    expect(findCredentials(`dg_${'A'.repeat(36)}`)).toEqual([]);
  });
});
