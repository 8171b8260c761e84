/**
 * The OpenAPI 3.1 description of the key management API, generated from the route table and the zod schemas
 * the handler validates with. `docs/keys-openapi.json` is its checked-in output (`npx tsx bin/write-keys-openapi.ts`);
 * test/keys/openapi.test.ts fails when the two drift apart.
 */
import { z } from 'zod';
import {
  createdKeySchema,
  createKeyBody,
  DEFAULT_LIST_LIMIT,
  errorSchema,
  keyPageSchema,
  MAX_LIST_LIMIT,
  publicKeySchema,
  rotatedKeySchema,
  rotateKeyBody,
  updateKeyBody,
} from '../../lambdas/keys/schemas';
import { consumerRoutes, managementRoutes } from '../../lambdas/core/route-table';
import { consumerSchema, consumerWithUsageSchema, setPlanBodySchema } from '../../lambdas/keys/consumers';

type JsonObject = Record<string, unknown>;

function jsonSchema(schema: z.ZodType): JsonObject {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonObject;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonObject) => ({ content: { 'application/json': { schema } } });
const error = (description: string) => ({ description, ...json(ref('Error')) });

const COMMON_ERRORS = {
  '401': error('no or invalid credential (answered by API Gateway and the authorizer)'),
  '403': error(
    'the route needs a scope the caller lacks, or the caller tried to grant scopes it does not hold or to act for another owner without keys:admin',
  ),
  '503': error('the key table is unavailable; nothing was changed'),
};
const BAD_REQUEST = error('validation failed; `field` names the offending field (also for a body over 16 KB)');
const NOT_FOUND = error('no such key, or a key of another owner (the same answer)');
const subParameter = {
  name: 'sub',
  in: 'path',
  required: true,
  schema: { type: 'string', minLength: 1, maxLength: 256 },
  description: 'the consumer: a JWT subject or a key owner (URL-encoded)',
};
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^key_[0-9A-HJKMNP-TV-Z]{26}$' } };

/** method → path → operation. managementRoutes() must all appear here, and nothing else. */
const OPERATIONS: Record<string, Record<string, JsonObject>> = {
  '/keys': {
    post: {
      operationId: 'createKey',
      summary: 'Create a key. The plaintext `key` is in this response only.',
      requestBody: { required: true, ...json(ref('CreateKeyRequest')) },
      responses: { '201': { description: 'created', ...json(ref('CreatedKey')) }, '400': BAD_REQUEST, ...COMMON_ERRORS },
    },
    get: {
      operationId: 'listKeys',
      summary: "List the caller's keys (an admin may pass ?owner=), oldest first.",
      parameters: [
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT } },
        { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'opaque; `nextCursor` of the previous page' },
        { name: 'owner', in: 'query', schema: { type: 'string' }, description: 'admin only' },
      ],
      responses: { '200': { description: 'one page', ...json(ref('KeyPage')) }, '400': BAD_REQUEST, ...COMMON_ERRORS },
    },
  },
  '/keys/{id}': {
    get: {
      operationId: 'getKey',
      parameters: [idParameter],
      responses: { '200': { description: 'the key', ...json(ref('Key')) }, '404': NOT_FOUND, ...COMMON_ERRORS },
    },
    patch: {
      operationId: 'updateKey',
      summary: 'Change name, scopes, expiry, metadata or enabled.',
      parameters: [idParameter],
      requestBody: { required: true, ...json(ref('UpdateKeyRequest')) },
      responses: {
        '200': { description: 'the updated key', ...json(ref('Key')) },
        '400': BAD_REQUEST,
        '404': NOT_FOUND,
        '409': error('the key is revoked or rotated, or kept changing concurrently'),
        ...COMMON_ERRORS,
      },
    },
    delete: {
      operationId: 'revokeKey',
      summary: 'Revoke (idempotent).',
      parameters: [idParameter],
      responses: { '204': { description: 'revoked (also when it already was)' }, '400': BAD_REQUEST, '404': NOT_FOUND, ...COMMON_ERRORS },
    },
  },
  '/keys/{id}/rotate': {
    post: {
      operationId: 'rotateKey',
      summary:
        'A new key with the same settings; the old one expires after gracePeriodSeconds. The new plaintext is in this response only.',
      parameters: [idParameter],
      requestBody: { required: false, ...json(ref('RotateKeyRequest')) },
      responses: {
        '201': { description: 'the successor, with its plaintext', ...json(ref('RotatedKey')) },
        '400': BAD_REQUEST,
        '404': NOT_FOUND,
        '409': error('the key is revoked, expired or already rotated, or changed during the rotation'),
        ...COMMON_ERRORS,
      },
    },
  },
  // Plans only: these routes exist when the construct has `plans` (and the key API).
  '/consumers/{sub}': {
    get: {
      operationId: 'getConsumer',
      summary: "A consumer's plan and today's usage. A consumer may read itself; an admin anyone.",
      parameters: [subParameter],
      responses: { '200': { description: 'the consumer', ...json(ref('ConsumerWithUsage')) }, '400': BAD_REQUEST, ...COMMON_ERRORS },
      'x-dualgate-plans-only': true,
    },
    put: {
      operationId: 'setConsumerPlan',
      summary: 'Assign a plan (admin only). The consumer gets its own usage bucket within the cache bound.',
      parameters: [subParameter],
      requestBody: { required: true, ...json(ref('SetPlanRequest')) },
      responses: {
        '200': { description: 'assigned', ...json(ref('Consumer')) },
        '400': error('unknown plan or malformed body; `field` names it'),
        '409': error(
          "API Gateway's 10,000 API keys per account and Region are used up (DELETE /consumers/{sub} of a consumer frees its key), or the consumer changed concurrently",
        ),
        ...COMMON_ERRORS,
      },
      'x-dualgate-plans-only': true,
    },
    delete: {
      operationId: 'clearConsumerPlan',
      summary:
        "Back to the default (admin only, idempotent): deletes the consumer's own API Gateway key, freeing one of the account's 10,000, and its record. " +
        'Within the cache bound after it, a request served from a cache that still names the deleted key may get 403.',
      parameters: [subParameter],
      responses: {
        '200': {
          description: 'cleared, or nothing to clear; the consumer as it is now (the default plan, not assigned)',
          ...json(ref('Consumer')),
        },
        '400': BAD_REQUEST,
        '409': error('the consumer changed concurrently'),
        ...COMMON_ERRORS,
        '503': error(
          'the key table or API Gateway is unavailable; retry: a clearing stopped half-way is finished by the next DELETE or PUT',
        ),
      },
      'x-dualgate-plans-only': true,
    },
  },
};

const KEYS_OPENAPI_SCHEMAS = {
  CreateKeyRequest: createKeyBody,
  UpdateKeyRequest: updateKeyBody,
  RotateKeyRequest: rotateKeyBody,
  Key: publicKeySchema,
  CreatedKey: createdKeySchema,
  RotatedKey: rotatedKeySchema,
  KeyPage: keyPageSchema,
  Error: errorSchema,
  SetPlanRequest: setPlanBodySchema,
  Consumer: consumerSchema,
  ConsumerWithUsage: consumerWithUsageSchema,
} as const;

export function buildKeysOpenApi(): JsonObject {
  const keyRoutes = [...managementRoutes(), ...consumerRoutes()];
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of keyRoutes) {
    const operation = OPERATIONS[route.path]?.[route.method.toLowerCase()];
    if (!operation) throw new Error(`route ${route.method} ${route.path} has no OpenAPI operation`);
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = { ...operation, security: [{ bearer: [] }], 'x-required-scopes': [...route.scopes] };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'dualgate key management API', version: '1.0.0' },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a dualgate API key or a JWT access token' } },
      schemas: Object.fromEntries(Object.entries(KEYS_OPENAPI_SCHEMAS).map(([name, schema]) => [name, jsonSchema(schema)])),
    },
  };
}
