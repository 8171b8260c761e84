/**
 * Layered scopes, as pure functions: a caller may hand out only what it holds, and only what the catalog
 * (the app's route scopes, the management scopes and extraScopes, from route-config.ts) knows. The admin scope may grant any catalog scope
 * and act for any owner. The same rule guards create, PATCH and rotate.
 */
import { type AuthMethod, unknownAuthMethod } from '../core/principal';
import { KEY_SCOPES } from '../core/route-table';

export type GrantDecision =
  | { ok: true }
  | { ok: false; reason: 'unknown_scope'; scopes: string[] }
  | { ok: false; reason: 'escalation'; scopes: string[] };

export interface Grantor {
  readonly scopes: readonly string[];
}

/** The app's catalog plus the management scopes and the configured admin scope, which may be renamed from `keys:admin`. */
export function grantableCatalog(catalog: readonly string[], adminScope: string): ReadonlySet<string> {
  return new Set([...catalog, ...Object.values(KEY_SCOPES), adminScope]);
}

export function isAdmin(caller: Grantor, adminScope: string): boolean {
  return caller.scopes.includes(adminScope);
}

/** Unknown scopes are reported before escalation: asking for a scope nobody can hold is a 400, not a 403. */
export function decideGrant(
  requested: readonly string[],
  caller: Grantor,
  catalog: ReadonlySet<string>,
  adminScope: string,
): GrantDecision {
  const unknown = requested.filter((scope) => !catalog.has(scope));
  if (unknown.length > 0) return { ok: false, reason: 'unknown_scope', scopes: unknown };
  if (isAdmin(caller, adminScope)) return { ok: true };
  const notHeld = requested.filter((scope) => !caller.scopes.includes(scope));
  if (notHeld.length > 0) return { ok: false, reason: 'escalation', scopes: notHeld };
  return { ok: true };
}

/** Whether the caller may see or change keys of `owner`: its own always, anyone's with the admin scope. */
export function mayActFor(caller: Grantor & { sub: string }, owner: string, adminScope: string): boolean {
  return caller.sub === owner || isAdmin(caller, adminScope);
}

export type EntitledGrantDecision = { ok: true; entitledScopes: string[] } | Exclude<GrantDecision, { ok: true }>;

export interface EntitledGrantor extends Grantor {
  readonly authMethod: AuthMethod;
}

/**
 * Whether a caller of this kind may grant through its owner's entitlements: a JWT caller (the owner) may; an API-key
 * caller grants only what its key holds, so layering never widens.
 */
export function grantsThroughEntitlements(method: AuthMethod): boolean {
  switch (method) {
    case 'jwt':
      return true;
    case 'apiKey':
      return false;
    default:
      return unknownAuthMethod(method);
  }
}

/**
 * Layering with entitlements (lambdas/core/entitlements.ts). A JWT caller may grant its token's scopes and the
 * scopes its sub is entitled to; an API-key caller only what its key holds (never its owner's entitlements, so
 * layering does not widen); an admin anything in the catalog. `entitledScopes` says which granted scopes the new
 * key holds only through entitlements: those the JWT caller's token lacks, and those the calling key itself held
 * only through entitlements (`callerKeyEntitled`), so the dependency survives layering.
 */
export function decideEntitledGrant(
  requested: readonly string[],
  caller: EntitledGrantor,
  catalog: ReadonlySet<string>,
  adminScope: string,
  entitlements: { entitled: ReadonlySet<string>; callerKeyEntitled?: readonly string[]; carried?: readonly string[] },
): EntitledGrantDecision {
  const unknown = requested.filter((scope) => !catalog.has(scope));
  if (unknown.length > 0) return { ok: false, reason: 'unknown_scope', scopes: unknown };
  if (isAdmin(caller, adminScope)) return { ok: true, entitledScopes: [] };
  const inherited = requested.filter((scope) => (entitlements.callerKeyEntitled ?? []).includes(scope));
  const notHeld = requested.filter((scope) => !caller.scopes.includes(scope));
  if (notHeld.length === 0) return { ok: true, entitledScopes: [...new Set(inherited)].sort() };
  // `carried`: scopes the key being changed already holds only through its owner's entitlements. A JWT caller (the
  // owner: only an admin acts for others) may keep them on a rotation, resumption or extension although the
  // entitlement lapsed: they stay marked and count again only if the owner is re-entitled, which would let it grant
  // them anyway. An API-key caller may not: it would get a plaintext carrying a scope its key does not hold.
  const throughEntitlements = grantsThroughEntitlements(caller.authMethod);
  const carried = throughEntitlements ? (entitlements.carried ?? []) : [];
  const refused = throughEntitlements ? notHeld.filter((scope) => !entitlements.entitled.has(scope) && !carried.includes(scope)) : notHeld;
  if (refused.length > 0) return { ok: false, reason: 'escalation', scopes: refused };
  return { ok: true, entitledScopes: [...new Set([...inherited, ...notHeld])].sort() };
}
