/**
 * Entitlements, as pure functions: what a consumer (a `sub`) may put on its own keys, and what a key may do once its
 * owner's entitlements change. Shared by the authorizer (effective scopes) and the key API (grants).
 *
 * - A consumer is entitled to `portal.defaultScopes` (everyone signed in) plus the scopes an admin set on
 *   `/consumers/{sub}`.
 * - A key records, in `entitledScopes`, which of its scopes it holds only through those entitlements.
 * - Its effective scopes are `scopes` minus every entitled scope its owner is no longer entitled to. Scopes it got
 *   from a token's own scopes or from an admin do not depend on entitlements.
 */
import type { KeyRecord } from './key-record';

/** The scopes `sub` is entitled to now: the defaults plus the admin-assigned list. */
export function currentEntitlements(defaultScopes: readonly string[], assigned: readonly string[] | undefined): ReadonlySet<string> {
  return new Set([...defaultScopes, ...(assigned ?? [])]);
}

/** Whether deciding on this key needs its owner's entitlements (one read, cached; most keys need none). */
export function dependsOnEntitlements(record: Pick<KeyRecord, 'entitledScopes'>): boolean {
  return record.entitledScopes !== undefined && record.entitledScopes.length > 0;
}

/** A key's effective scopes: its scopes, less the entitled ones its owner has lost. */
export function effectiveScopes(record: Pick<KeyRecord, 'scopes' | 'entitledScopes'>, entitled: ReadonlySet<string>): string[] {
  const lapsed = new Set((record.entitledScopes ?? []).filter((scope) => !entitled.has(scope)));
  return lapsed.size === 0 ? [...record.scopes] : record.scopes.filter((scope) => !lapsed.has(scope));
}
