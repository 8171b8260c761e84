// GET /orders and GET /orders/{orderId}: an ES module served by a plain lambda.Function.
export async function handler(event) {
  const authorizer = event.requestContext?.authorizer ?? {};
  const orderId = event.pathParameters?.orderId;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: authorizer.sub, scopes: authorizer.scopes, orderId: orderId ?? null, table: process.env.ORDERS_TABLE, role: process.env.FUNCTION_ROLE }),
  };
}
