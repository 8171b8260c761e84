/**
 * Every request shape of the management API, as one zod schema each. Strict objects: an unknown field,
 * including ones a client might try to mass-assign (`createdBy`, `keyHash`, `revokedAt`, `id`), is a 400.
 * The OpenAPI document's request schemas are generated from these (lib/build/keys-openapi.ts).
 */
import { z } from 'zod';
import { SCOPE_PATTERN } from '../core/route-table';
import { InvalidRequestError } from './errors';

/** Larger bodies are refused before parsing (400, field `body`): no legitimate request comes near it. */
export const MAX_BODY_BYTES = 16 * 1024;
/** `metadata` is stored on the item the authorizer reads on every cold lookup, so it stays small. */
const MAX_METADATA_BYTES = 1024;
const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 60 * 60;
export const DEFAULT_GRACE_PERIOD_SECONDS = 24 * 60 * 60;
const MAX_GRACE_PERIOD_SECONDS = 30 * 24 * 60 * 60;
export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;
const MAX_SCOPES_PER_KEY = 50;
/** `key_` + a ULID (Crockford base32, 26 chars). */
export const KEY_ID_PATTERN = /^key_[0-9A-HJKMNP-TV-Z]{26}$/;

const name = z.string().trim().min(1).max(128);
const scopes = z
  .array(z.string().regex(SCOPE_PATTERN, 'is not a valid scope name'))
  .max(MAX_SCOPES_PER_KEY)
  .refine((list) => new Set(list).size === list.length, 'must not repeat a scope');
const metadata = z
  .record(z.string(), z.unknown())
  .refine((value) => Buffer.byteLength(JSON.stringify(value)) <= MAX_METADATA_BYTES, `must be at most ${MAX_METADATA_BYTES} bytes as JSON`);
/** ISO 8601 with a zone; whether it lies in the future is checked against the injected clock (`resolveExpiry`). */
const expiresAt = z.iso.datetime({ offset: true });
const expiresIn = z.int().positive().max(MAX_EXPIRES_IN_SECONDS);
const owner = z.string().min(1).max(256);

const notBoth = (value: { expiresAt?: unknown; expiresIn?: unknown }) => value.expiresAt === undefined || value.expiresIn === undefined;
const notBothMessage = { message: 'give expiresAt or expiresIn, not both', path: ['expiresIn'] };

export const createKeyBody = z
  .strictObject({
    name,
    scopes,
    expiresAt: expiresAt.optional(),
    expiresIn: expiresIn.optional(),
    metadata: metadata.optional(),
    /** Only holders of the admin scope may set it; checked by the operation, which knows the caller. */
    owner: owner.optional(),
  })
  .refine(notBoth, notBothMessage);

export const updateKeyBody = z
  .strictObject({
    name: name.optional(),
    scopes: scopes.optional(),
    /** null removes the expiry. */
    expiresAt: expiresAt.nullable().optional(),
    expiresIn: expiresIn.optional(),
    /** null removes the metadata. */
    metadata: metadata.nullable().optional(),
    /** false suspends the key, true resumes it. */
    enabled: z.boolean().optional(),
  })
  .refine(notBoth, notBothMessage)
  .refine((value) => Object.keys(value).length > 0, { message: 'must change at least one field', path: ['body'] });
export type UpdateKeyBody = z.infer<typeof updateKeyBody>;

export const rotateKeyBody = z
  .strictObject({
    /** How long the old key keeps working; 0 stops it at once. */
    gracePeriodSeconds: z.int().min(0).max(MAX_GRACE_PERIOD_SECONDS).optional(),
    /** The new key's expiry; by default it keeps the old key's original expiry. */
    expiresAt: expiresAt.optional(),
    expiresIn: expiresIn.optional(),
  })
  .refine(notBoth, notBothMessage);

export const listKeysQuery = z.strictObject({
  limit: z
    .string()
    // One message for every bad value, "1000" included: it states the real range.
    .regex(/^[0-9]{1,16}$/, `must be an integer from 1 to ${MAX_LIST_LIMIT}`)
    .refine((value) => Number(value) >= 1 && Number(value) <= MAX_LIST_LIMIT, `must be an integer from 1 to ${MAX_LIST_LIMIT}`)
    .optional(),
  cursor: z.string().min(1).max(2048).optional(),
  /** Admin only: list another owner's keys. */
  owner: owner.optional(),
});

/** Validate untrusted input; the first problem becomes a 400 naming its field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, rootField = 'body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new InvalidRequestError(`${rootField} is invalid`, rootField);
  if (issue.code === 'unrecognized_keys') {
    const unknownField = issue.keys[0] ?? rootField;
    throw new InvalidRequestError(`${unknownField}: unknown field (allowed: ${allowedFields(schema).join(', ')})`, unknownField);
  }
  const head = issue.path[0];
  const field = typeof head === 'string' ? head : rootField;
  const where = issue.path.length > 1 ? issue.path.map(String).join('.') : field;
  throw new InvalidRequestError(`${where}: ${issue.message}`, field);
}

function allowedFields(schema: z.ZodType): string[] {
  const json = z.toJSONSchema(schema, { unrepresentable: 'any' }) as { properties?: Record<string, unknown> };
  return Object.keys(json.properties ?? {});
}

/**
 * An expiry in epoch seconds from `expiresAt` (ISO) or `expiresIn` (seconds). Past or present instants are
 * refused: a key that is born expired is always a client mistake.
 */
export function resolveExpiry(input: { expiresAt?: string | null; expiresIn?: number }, nowSeconds: number): number | null | undefined {
  if (input.expiresIn !== undefined) return nowSeconds + input.expiresIn;
  if (input.expiresAt === null) return null;
  if (input.expiresAt === undefined) return undefined;
  const expiresAtSeconds = Math.floor(Date.parse(input.expiresAt) / 1000);
  if (!(expiresAtSeconds > nowSeconds)) throw new InvalidRequestError('expiresAt: must be in the future', 'expiresAt');
  if (expiresAtSeconds - nowSeconds > MAX_EXPIRES_IN_SECONDS) {
    throw new InvalidRequestError('expiresAt: must be at most 10 years ahead', 'expiresAt');
  }
  return expiresAtSeconds;
}

/** Response shapes, for the OpenAPI document; tests parse real responses with them (strict: no extra fields). */
export const publicKeySchema = z.strictObject({
  id: z.string().regex(KEY_ID_PATTERN),
  start: z.string(),
  name: z.string(),
  owner: z.string(),
  scopes: z.array(z.string()),
  entitledScopes: z
    .array(z.string())
    .optional()
    .describe("scopes held only through the owner's entitlements; each stops counting once the owner loses it"),
  status: z.enum(['active', 'expired', 'revoked', 'disabled']),
  enabled: z.boolean(),
  createdAt: z.iso.datetime(),
  createdBy: z.string(),
  createdByKeyId: z.string().regex(KEY_ID_PATTERN).optional(),
  updatedAt: z.iso.datetime().optional(),
  expiresAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().optional(),
  /** `leaked` when dualgate revoked the key on a leak report (POST /leaks/github); absent when a caller revoked it. */
  revokedReason: z.string().optional(),
  /** A reported leak of this key: when, by whom, and the public URL where it was found. */
  leak: z
    .strictObject({ reportedAt: z.iso.datetime(), reportedBy: z.string(), url: z.string().optional(), source: z.string().optional() })
    .optional(),
  rotatedFrom: z.string().optional(),
  rotatedTo: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** Written by the authorizer at most once per key per interval (default 5 minutes); absent for a key never used. */
  lastUsedAt: z.iso.datetime().optional(),
});
/** The only shapes that ever carry a plaintext: create's and rotate's 201. */
export const createdKeySchema = publicKeySchema.extend({ key: z.string() });
export const rotatedKeySchema = createdKeySchema.extend({ predecessor: publicKeySchema });
export const keyPageSchema = z.strictObject({ items: z.array(publicKeySchema), nextCursor: z.string().nullable() });
export const errorSchema = z.object({ message: z.string(), field: z.string().optional() });
