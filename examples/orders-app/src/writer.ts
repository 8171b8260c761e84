/** POST /orders: reads the caller's identity the same way whichever credential was used. */
import { principalFrom } from 'dualgate/context';

interface ProxyEvent {
  body: string | null;
  requestContext?: { authorizer?: Record<string, unknown> | null } | null;
}

export async function handler(event: ProxyEvent) {
  const caller = principalFrom(event);
  return {
    statusCode: 201,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ createdBy: caller.sub, table: process.env['ORDERS_TABLE'], role: process.env['FUNCTION_ROLE'] }),
  };
}
