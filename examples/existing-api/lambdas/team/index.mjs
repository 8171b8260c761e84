// One function for the team's routes: it answers with the route API Gateway chose and who called.
export const handler = async (event) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    resource: event.resource,
    method: event.httpMethod,
    sub: event.requestContext?.authorizer?.sub ?? null,
    role: process.env.FUNCTION_ROLE,
  }),
});
