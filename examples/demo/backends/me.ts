/** `GET /me`: who the caller is, in the same shape whether they used an API key or a JWT. */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { jsonResponse } from '../../../lambdas/shared/http-response';
import { principalFrom } from '../../../lambdas/core/principal';

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { sub, scopes } = principalFrom(event);
  return jsonResponse(200, { sub, scopes });
}
