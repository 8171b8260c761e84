/**
 * The slice of API Gateway's control plane the key API calls (CreateApiKey, DeleteApiKey, CreateUsagePlanKey,
 * GetUsagePlanKey, DeleteUsagePlanKey, GetUsage), served over HTTP from the emulator, as dynalite serves DynamoDB:
 * the key API's own code and SDK client run unchanged, pointed here by DUALGATE_APIGATEWAY_ENDPOINT. REST JSON as the SDK
 * speaks it; errors carry `x-amzn-errortype`. Loopback only; requests are not signed-checked.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen } from '../listen';
import { loopbackOnly } from '../loopback-guard';
import { readBody } from '../request-body';
import { UsagePlanError, type UsagePlanEmulator } from './emulator';

const STATUS: Record<UsagePlanError['type'], number> = {
  NotFoundException: 404,
  ConflictException: 409,
  BadRequestException: 400,
  LimitExceededException: 429,
};

interface RunningControlPlane {
  endpoint: string;
  close(): Promise<void>;
}

function reply(response: ServerResponse, status: number, body?: unknown, errorType?: string): void {
  response.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
  response.end(body === undefined ? '' : JSON.stringify(body));
}

async function jsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(request, 64 * 1024)).toString('utf8');
  if (text === '') return {};
  const parsed = JSON.parse(text) as unknown;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsagePlanError('BadRequestException', 'body must be a JSON object');
  return parsed as Record<string, unknown>;
}

async function route(emulator: UsagePlanEmulator, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://control-plane.local');
  const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
  const method = request.method ?? 'GET';
  const [first, planId, third, keyId] = segments;
  if (method === 'POST' && segments.length === 1 && first === 'apikeys') {
    const body = await jsonBody(request);
    if (typeof body['name'] !== 'string') throw new UsagePlanError('BadRequestException', 'name is required');
    const tags = body['tags'];
    if (
      tags !== undefined &&
      (tags === null || typeof tags !== 'object' || Array.isArray(tags) || Object.values(tags).some((value) => typeof value !== 'string'))
    ) {
      throw new UsagePlanError('BadRequestException', 'tags must map keys to string values');
    }
    const key = emulator.createApiKey({
      name: body['name'],
      enabled: body['enabled'] === true,
      ...(typeof body['value'] === 'string' ? { value: body['value'] } : {}),
      ...(tags !== undefined ? { tags: tags as Record<string, string> } : {}),
    });
    return reply(response, 201, { id: key.id, value: key.value, name: key.name, enabled: key.enabled, tags: key.tags ?? {} });
  }
  if (method === 'DELETE' && segments.length === 2 && first === 'apikeys' && planId) {
    emulator.deleteApiKey(planId);
    return reply(response, 202);
  }
  if (first === 'usageplans' && planId && third === 'keys') {
    if (method === 'POST' && segments.length === 3) {
      const body = await jsonBody(request);
      if (typeof body['keyId'] !== 'string' || body['keyType'] !== 'API_KEY')
        throw new UsagePlanError('BadRequestException', 'keyId and keyType API_KEY are required');
      const key = emulator.createUsagePlanKey(planId, body['keyId']);
      return reply(response, 201, { id: key.id, type: 'API_KEY', name: key.name, value: key.value });
    }
    if (method === 'GET' && segments.length === 4 && keyId) {
      const key = emulator.getUsagePlanKey(planId, keyId);
      return reply(response, 200, { id: key.id, type: 'API_KEY', name: key.name, value: key.value });
    }
    if (method === 'DELETE' && segments.length === 4 && keyId) {
      emulator.deleteUsagePlanKey(planId, keyId);
      return reply(response, 202);
    }
  }
  if (method === 'GET' && segments.length === 1 && first === 'usageplans') {
    // API Gateway's list responses name their array `item`.
    return reply(response, 200, { item: emulator.usagePlans().map((plan) => ({ id: plan.id, name: plan.name })) });
  }
  if (method === 'GET' && segments.length === 3 && first === 'usageplans' && planId && third === 'usage') {
    const startDate = url.searchParams.get('startDate') ?? '';
    const endDate = url.searchParams.get('endDate') ?? '';
    const values = emulator.getUsage(planId, url.searchParams.get('keyId') ?? undefined, startDate, endDate);
    return reply(response, 200, { usagePlanId: planId, startDate, endDate, values });
  }
  reply(response, 404, { message: `no such operation: ${method} ${url.pathname}` }, 'NotFoundException');
}

/** Listen on loopback, any free port; loopback Host names only (plus `allowedHosts`), no foreign Origin, no CORS grants. */
export async function startControlPlane(
  emulator: UsagePlanEmulator,
  host: string,
  options: { allowedHosts?: readonly string[] } = {},
): Promise<RunningControlPlane> {
  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    route(emulator, request, response).catch((error: unknown) => {
      if (error instanceof UsagePlanError) return reply(response, STATUS[error.type], { message: error.message }, error.type);
      if (error instanceof SyntaxError || error instanceof URIError)
        return reply(response, 400, { message: 'malformed request' }, 'BadRequestException');
      reply(response, 500, { message: 'internal error' }, 'InternalFailure');
    });
  };
  const server = createServer(
    loopbackOnly(listener, { kind: 'internal', ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}) }),
  );
  const port = await listen(server, 0, host);
  return {
    endpoint: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
