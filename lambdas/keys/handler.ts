/** Key management API: built in issue 3. Until then every route answers 501 so nothing pretends to work. */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { errorResponse } from '../shared/http-response';

export async function handler(): Promise<APIGatewayProxyResult> {
  return errorResponse(501, 'key management is not built yet');
}
