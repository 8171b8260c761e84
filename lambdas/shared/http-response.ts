/** v1 proxy responses with JSON bodies. Errors are `{message, ...details}`, the same shape as the gateway's own. */
import type { APIGatewayProxyResult } from 'aws-lambda';

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: body === undefined ? '' : JSON.stringify(body) };
}

export function errorResponse(statusCode: number, message: string, details: Record<string, unknown> = {}): APIGatewayProxyResult {
  return jsonResponse(statusCode, { message, ...details });
}
