/** docs/keys-openapi.json stays true: generated from the same route table and zod schemas the handler uses. */
import { readFileSync } from 'node:fs';
import { DEMO_CATALOG } from '../support/demo-app';
import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createKeysHandler } from '../../lambdas/keys/router';
import { createdKeySchema, createKeyBody, keyPageSchema, publicKeySchema, rotateKeyBody, updateKeyBody } from '../../lambdas/keys/schemas';
import { KeyStore } from '../../lambdas/shared/key-store';
import { buildKeysOpenApi } from '../../lib/build/keys-openapi';
import { consumerRoutes, managementRoutes } from '../../lambdas/core/route-table';
import { captureLogger } from '../support/logs';
import { caller } from './harness';

type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, unknown>; 'x-required-scopes': string[] }>>;
  components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown>; additionalProperties?: boolean }> };
};
const checkedIn = JSON.parse(readFileSync(new URL('../../docs/keys-openapi.json', import.meta.url), 'utf8')) as Doc;

function requiredOf(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([name]) => name)
    .sort();
}

describe('keys OpenAPI document', () => {
  it('is exactly what the generator produces today (regenerate with `npx tsx bin/write-keys-openapi.ts`)', () => {
    expect(checkedIn).toEqual(JSON.parse(JSON.stringify(buildKeysOpenApi())));
  });

  it('describes every management route with its method and scopes, and nothing more', () => {
    const routes = [...managementRoutes(), ...consumerRoutes()].map((route) => `${route.method} ${route.path} ${route.scopes.join(',')}`);
    const documented = Object.entries(checkedIn.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation['x-required-scopes'].join(',')}`),
    );
    expect(documented.sort()).toEqual(routes.sort());
    expect(routes).toHaveLength(9);
  });

  it('has request schemas whose fields and required fields match the zod schemas, closed to extra fields', () => {
    const pairs: [string, z.ZodObject][] = [
      ['CreateKeyRequest', createKeyBody],
      ['UpdateKeyRequest', updateKeyBody],
      ['RotateKeyRequest', rotateKeyBody],
    ];
    for (const [name, schema] of pairs) {
      const documented = checkedIn.components.schemas[name]!;
      expect(Object.keys(documented.properties ?? {}).sort(), name).toEqual(Object.keys(schema.shape).sort());
      expect((documented.required ?? []).sort(), name).toEqual(requiredOf(schema));
      expect(documented.additionalProperties, name).toBe(false);
    }
    expect(requiredOf(createKeyBody)).toEqual(['name', 'scopes']);
  });

  it('lists the status codes each operation can answer', () => {
    const statuses = (path: string, method: string) => Object.keys(checkedIn.paths[path]![method]!.responses).sort();
    expect(statuses('/keys', 'post')).toEqual(['201', '400', '401', '403', '503']);
    expect(statuses('/keys', 'get')).toEqual(['200', '400', '401', '403', '503']);
    expect(statuses('/keys/{id}', 'get')).toEqual(['200', '401', '403', '404', '503']);
    expect(statuses('/keys/{id}', 'patch')).toEqual(['200', '400', '401', '403', '404', '409', '503']);
    expect(statuses('/keys/{id}', 'delete')).toEqual(['204', '400', '401', '403', '404', '503']);
    expect(statuses('/keys/{id}/rotate', 'post')).toEqual(['201', '400', '401', '403', '404', '409', '503']);
  });

  it('has response schemas that real handler responses satisfy exactly', async () => {
    const dynamo = mockClient(DynamoDBClient);
    dynamo.on(PutItemCommand).resolves({});
    const call = caller(
      createKeysHandler({
        catalog: DEMO_CATALOG,
        store: new KeyStore(new DynamoDBClient({ region: 'us-east-1' }), 't'),
        keyPrefix: 'dg',
        adminScope: 'keys:admin',
        logger: captureLogger().logger,
      }),
    );
    const created = await call('POST', '/keys', { body: { name: 'doc', scopes: ['read:users'], expiresIn: 60, metadata: { a: 1 } } });
    expect(createdKeySchema.safeParse(created.json).success).toBe(true);
    const { key: _plaintext, ...view } = created.json as Record<string, unknown>;
    expect(publicKeySchema.safeParse(view).success).toBe(true);
    // The strict schema really is strict: a leaked field would fail it.
    expect(publicKeySchema.safeParse({ ...view, keyHash: 'x' }).success).toBe(false);

    const put = dynamo.commandCalls(PutItemCommand)[0]!.args[0].input.Item!;
    dynamo.on(QueryCommand).resolves({ Items: [put] });
    const listed = await call('GET', '/keys');
    expect(listed.json.items).toHaveLength(1);
    expect(keyPageSchema.safeParse(listed.json).success).toBe(true);
    dynamo.restore();
  });
});
