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
