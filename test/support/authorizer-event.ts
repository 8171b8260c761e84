/**
 * The route fields API Gateway puts in a REQUEST authorizer event (`httpMethod`, `resource`), read from a method ARN
 * whose path is the route's own literal path (`…/v1/GET/me` → GET /me): what the authorizer looks the route up by.
 */
export function routeOf(methodArn: string): { httpMethod?: string; resource?: string } {
  const [, , verb, ...path] = methodArn.split('/');
  // Not a method ARN (a test of what the authorizer does with one): no route either.
  if (verb === undefined) return {};
  return { httpMethod: verb, resource: `/${path.join('/')}` };
}

/** A REQUEST authorizer event for `GET /me` carrying `Authorization: Bearer <credential>`. */
export function bearerEvent(credential: string) {
  return {
    methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me',
    httpMethod: 'GET',
    resource: '/me',
    headers: { Authorization: `Bearer ${credential}` },
    multiValueHeaders: null,
    requestContext: { requestId: 'req-1' } as never,
  };
}
