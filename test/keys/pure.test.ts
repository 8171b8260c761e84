/** The pure core: grant rules, patch application, cursors (property-based, since cursors come from clients). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exceedsCallerExpiry } from '../../lambdas/keys/caller-key';
import { applyPatch, authorityExtensions, extendsAuthority } from '../../lambdas/keys/update';
import { auditChanges } from '../../lambdas/keys/operation-context';
import { resolveExpiry } from '../../lambdas/keys/schemas';
import { decideGrant, grantableCatalog, mayActFor } from '../../lambdas/keys/scopes';
import { DEMO_CATALOG } from '../support/demo-app';
import type { KeyRecord } from '../../lambdas/core/key-record';
import { decodeCursor, encodeCursor, InvalidCursorError } from '../../lambdas/shared/key-store';
import { InvalidRequestError } from '../../lambdas/keys/errors';

const catalog = grantableCatalog(DEMO_CATALOG, 'keys:admin');
const record: KeyRecord = {
  keyHash: 'h',
  keyId: 'key_1',
  owner: 'alice',
  name: 'n',
  scopes: ['read:users'],
  createdAt: 'c',
  createdBy: 'alice',
  enabled: true,
  start: 'dg_x',
  version: 2,
  expiresAt: 2000,
};

describe('decideGrant', () => {
  it('allows only held scopes, reports unknown scopes before escalation, and lets the admin grant any catalog scope', () => {
    const caller = { scopes: ['keys:write', 'read:users'] };
    expect(decideGrant(['read:users'], caller, catalog, 'keys:admin')).toEqual({ ok: true });
    expect(decideGrant(['write:users'], caller, catalog, 'keys:admin')).toEqual({
      ok: false,
      reason: 'escalation',
      scopes: ['write:users'],
    });
    expect(decideGrant(['write:users', 'x:y'], caller, catalog, 'keys:admin')).toEqual({
      ok: false,
      reason: 'unknown_scope',
      scopes: ['x:y'],
    });
    expect(decideGrant(['write:users', 'keys:admin'], { scopes: ['keys:admin'] }, catalog, 'keys:admin')).toEqual({ ok: true });
    expect(decideGrant(['x:y'], { scopes: ['keys:admin'] }, catalog, 'keys:admin').ok).toBe(false);
  });

  it('never grants a scope the caller lacks unless the caller is admin (property)', () => {
    const scope = fc.constantFrom(...catalog);
    fc.assert(
      fc.property(fc.uniqueArray(scope), fc.uniqueArray(scope), (held, requested) => {
        const decision = decideGrant(requested, { scopes: held }, catalog, 'keys:admin');
        const allowed = held.includes('keys:admin') || requested.every((s) => held.includes(s));
        expect(decision.ok).toBe(allowed);
      }),
    );
  });

  it('knows a renamed admin scope, and who may act for an owner', () => {
    expect(grantableCatalog(DEMO_CATALOG, 'dg:root').has('dg:root')).toBe(true);
    expect(mayActFor({ sub: 'a', scopes: [] }, 'a', 'keys:admin')).toBe(true);
    expect(mayActFor({ sub: 'a', scopes: [] }, 'b', 'keys:admin')).toBe(false);
    expect(mayActFor({ sub: 'a', scopes: ['keys:admin'] }, 'b', 'keys:admin')).toBe(true);
  });
});

describe('applyPatch and extendsAuthority', () => {
  it('changes only the given fields, bumps the version, and removes expiry/metadata on null', () => {
    const { next, changedFields } = applyPatch({ ...record, metadata: { a: 1 } }, { name: 'm', metadata: null }, null, 'now');
    expect(next).toMatchObject({ name: 'm', scopes: ['read:users'], version: 3, updatedAt: 'now' });
    expect(next.expiresAt).toBeUndefined();
    expect(next.metadata).toBeUndefined();
    expect(changedFields).toEqual(['name', 'expiresAt', 'metadata']);
  });

  it('counts resuming and prolonging as extending authority, but not shortening or suspending', () => {
    expect(extendsAuthority(record, { ...record, expiresAt: 3000 }, 1000)).toBe(true);
    const { expiresAt: _dropped, ...forever } = record;
    expect(extendsAuthority(record, forever, 1000)).toBe(true);
    expect(extendsAuthority({ ...record, enabled: false }, record, 1000)).toBe(true);
    expect(extendsAuthority(record, { ...record, expiresAt: 1500 }, 1000)).toBe(false);
    expect(extendsAuthority(record, { ...record, enabled: false }, 1000)).toBe(false);
  });

  it('counts an added scope as extending authority (issue 9), but not a narrowed or reordered list', () => {
    expect(authorityExtensions(record, { ...record, scopes: ['read:users', 'write:users'] }, 1000)).toEqual(['scopes']);
    expect(authorityExtensions(record, { ...record, scopes: [] }, 1000)).toEqual([]);
    expect(authorityExtensions({ ...record, scopes: ['a:b', 'read:users'] }, { ...record, scopes: ['read:users', 'a:b'] }, 1000)).toEqual(
      [],
    );
    const { expiresAt: _dropped, ...forever } = record;
    expect(authorityExtensions({ ...record, enabled: false }, { ...forever, scopes: ['keys:write'] }, 1000)).toEqual([
      'scopes',
      'enabled',
      'expiresAt',
    ]);
  });

  it('audits before and after of each changed authority field, expiry as ISO (null = never), metadata by name only', () => {
    const after: KeyRecord = { ...record, name: 'm', scopes: ['read:users', 'write:users'], enabled: false, metadata: { a: 1 } };
    delete after.expiresAt;
    expect(auditChanges(record, after, ['name', 'scopes', 'expiresAt', 'metadata', 'enabled'])).toEqual({
      name: { before: 'n', after: 'm' },
      scopes: { before: ['read:users'], after: ['read:users', 'write:users'] },
      expiresAt: { before: new Date(2000_000).toISOString(), after: null },
      enabled: { before: true, after: false },
    });
    expect(auditChanges(record, after, ['name'])).toEqual({ name: { before: 'n', after: 'm' } });
  });
});

describe('resolveExpiry', () => {
  it('accepts only future instants, and turns expiresIn into epoch seconds', () => {
    expect(resolveExpiry({ expiresIn: 60 }, 1000)).toBe(1060);
    expect(resolveExpiry({ expiresAt: null }, 1000)).toBeNull();
    expect(resolveExpiry({}, 1000)).toBeUndefined();
    expect(resolveExpiry({ expiresAt: new Date(1001_000).toISOString() }, 1000)).toBe(1001);
    expect(() => resolveExpiry({ expiresAt: new Date(1000_000).toISOString() }, 1000)).toThrow(InvalidRequestError);
  });
});

describe('list cursors', () => {
  const text = fc.string({ minLength: 1, maxLength: 40 });
  it('round-trips any position of the same owner, and carries exactly owner, createdAt and keyId', () => {
    fc.assert(
      fc.property(text, text, text, (owner, createdAt, keyId) => {
        const cursor = encodeCursor({ owner, createdAt, keyId });
        expect(decodeCursor(cursor, owner)).toEqual({ owner, createdAt, keyId });
        expect(Object.keys(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as object).sort()).toEqual([
          'createdAt',
          'keyId',
          'owner',
        ]);
      }),
    );
  });

  it('rejects every other string with InvalidCursorError and nothing else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (cursor) => {
        try {
          decodeCursor(cursor, 'alice');
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidCursorError);
          return;
        }
        throw new Error(`accepted ${cursor}`);
      }),
    );
  });

  it('rejects a valid cursor issued for another owner, and the old hash-carrying format', () => {
    expect(() => decodeCursor(encodeCursor({ owner: 'bob', createdAt: 'c', keyId: 'key_1' }), 'alice')).toThrow(InvalidCursorError);
    const legacy = Buffer.from(JSON.stringify({ keyHash: 'h', owner: 'alice', createdAt: 'c' })).toString('base64url');
    expect(() => decodeCursor(legacy, 'alice')).toThrow(InvalidCursorError);
  });
});

describe('exceedsCallerExpiry', () => {
  it('caps only when the caller key expires: never-expiring or later keys exceed it, equal or earlier ones do not', () => {
    expect(exceedsCallerExpiry(undefined, undefined)).toBe(false);
    expect(exceedsCallerExpiry(undefined, { keyId: 'key_1' })).toBe(false);
    expect(exceedsCallerExpiry(undefined, { keyId: 'key_1', expiresAt: 1000 })).toBe(true);
    expect(exceedsCallerExpiry(1001, { keyId: 'key_1', expiresAt: 1000 })).toBe(true);
    expect(exceedsCallerExpiry(1000, { keyId: 'key_1', expiresAt: 1000 })).toBe(false);
    expect(exceedsCallerExpiry(999, { keyId: 'key_1', expiresAt: 1000 })).toBe(false);
  });
});
