// GET /orders, GET /orders/{orderId} and ANY /reports/{proxy+}: an ES module served by a plain lambda.Function.
export async function handler(event, context) {
  const authorizer = event.requestContext?.authorizer ?? {};
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      sub: authorizer.sub,
      scopes: authorizer.scopes,
      method: event.httpMethod,
      resource: event.resource,
      path: event.path,
      pathParameters: event.pathParameters,
      table: process.env.ORDERS_TABLE,
      role: process.env.FUNCTION_ROLE,
      memoryLimitInMB: context.memoryLimitInMB,
    }),
  };
}
