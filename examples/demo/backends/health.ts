/** `GET /health`: unauthenticated liveness, used by load balancers and by the end-to-end benchmark's baseline. */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { jsonResponse } from '../../../lambdas/shared/http-response';

export async function handler(): Promise<APIGatewayProxyResult> {
  return jsonResponse(200, { status: 'ok' });
}
