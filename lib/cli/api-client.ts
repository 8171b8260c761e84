/**
 * The HTTP side of the admin CLI: a bearer token (given, or fetched with the OAuth 2.0 client-credentials grant)
 * and one call per management route. `fetch` is injected, so tests need no network.
 */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{
  status: number;
  text(): Promise<string>;
}>;

/** Exit code 2: the command line or environment is wrong; nothing was sent. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit code 1 (4xx) or 3 (5xx): the API answered with an error. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    /** What was called, for errors whose body says nothing useful (a wrong DUALGATE_URL). */
    readonly request?: { method: string; url: string },
  ) {
    super(message);
  }
}

/** Exit code 3: the API or the token endpoint could not be reached. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

export interface CliEnv {
  DUALGATE_URL?: string;
  DUALGATE_TOKEN?: string;
  DUALGATE_TOKEN_URL?: string;
  DUALGATE_CLIENT_ID?: string;
  DUALGATE_CLIENT_SECRET?: string;
  [name: string]: string | undefined;
}

async function send(
  fetch: FetchLike,
  url: string,
  init: Parameters<FetchLike>[1],
): Promise<{ status: number; body: unknown; json: boolean }> {
  let response;
  let text;
  try {
    response = await fetch(url, init);
    text = await response.text();
  } catch (error) {
    throw new NetworkError(`cannot reach ${new URL(url).origin}: ${(error as Error).message}`);
  }
  let body: unknown;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      // Not an answer from this API (an HTML error page, a proxy): its text would only add noise.
      return { status: response.status, body: undefined, json: false };
    }
  }
  return { status: response.status, body, json: true };
}

/**
 * API Gateway's answer for a path the API does not have (the stack maps MISSING_AUTHENTICATION_TOKEN to it):
 * with a management route that exists, it means DUALGATE_URL points at the wrong API or stage.
 */
function isWrongUrl(status: number, apiMessage: string | undefined): boolean {
  if (status === 404) return apiMessage === undefined || apiMessage === 'Not Found';
  // API Gateway's own default for an unknown path, on an API that does not remap it.
  return status === 403 && apiMessage === 'Missing Authentication Token';
}

function errorFrom(status: number, body: unknown, request: { method: string; url: string }): ApiError {
  const fields = (body !== null && typeof body === 'object' ? body : {}) as { message?: unknown; field?: unknown };
  const apiMessage = typeof fields.message === 'string' && fields.message.length > 0 ? fields.message : undefined;
  if (isWrongUrl(status, apiMessage)) {
    const origin = new URL(request.url);
    return new ApiError(
      status,
      `no dualgate management API at ${origin.origin}${origin.pathname} (${apiMessage ?? `HTTP ${status}`}); check DUALGATE_URL: it is the API's base URL with its stage, e.g. https://<api-id>.execute-api.<region>.amazonaws.com/v1`,
      undefined,
      request,
    );
  }
  return new ApiError(
    status,
    apiMessage ?? `the API answered HTTP ${status} without a message`,
    typeof fields.field === 'string' ? fields.field : undefined,
    request,
  );
}

/** DUALGATE_TOKEN if set; otherwise a client-credentials token from DUALGATE_TOKEN_URL. */
export async function resolveToken(env: CliEnv, fetch: FetchLike, scope?: string): Promise<string> {
  if (env.DUALGATE_TOKEN) return env.DUALGATE_TOKEN;
  const { DUALGATE_TOKEN_URL: tokenUrl, DUALGATE_CLIENT_ID: clientId, DUALGATE_CLIENT_SECRET: clientSecret } = env;
  if (!tokenUrl || !clientId || !clientSecret) {
    throw new UsageError(
      'set DUALGATE_TOKEN, or DUALGATE_TOKEN_URL + DUALGATE_CLIENT_ID + DUALGATE_CLIENT_SECRET for a client-credentials login',
    );
  }
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) form.set('scope', scope);
  const { status, body } = await send(fetch, tokenUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
    },
    body: form.toString(),
  });
  const token = (body as { access_token?: unknown } | undefined)?.access_token;
  if (status !== 200 || typeof token !== 'string') {
    const reason = (body as { error_description?: unknown; error?: unknown } | undefined) ?? {};
    const why = reason.error_description ?? reason.error;
    throw new ApiError(
      status === 200 ? 502 : status,
      why === undefined
        ? `token endpoint ${tokenUrl} refused the login without saying why`
        : `token endpoint refused the login: ${String(why)}`,
    );
  }
  return token;
}

export class KeysApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly fetch: FetchLike,
  ) {}

  static fromEnv(env: CliEnv, token: string, fetch: FetchLike): KeysApiClient {
    if (!env.DUALGATE_URL) throw new UsageError('set DUALGATE_URL to the API base URL (e.g. http://127.0.0.1:3000)');
    try {
      new URL(env.DUALGATE_URL);
    } catch {
      throw new UsageError(`DUALGATE_URL is not a URL: ${env.DUALGATE_URL}`);
    }
    return new KeysApiClient(env.DUALGATE_URL.replace(/\/+$/, ''), token, fetch);
  }

  async request(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string | undefined> } = {},
  ): Promise<unknown> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) query.set(name, value);
    const url = `${this.baseUrl}${path}${query.size > 0 ? `?${query}` : ''}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const { status, body } = await send(this.fetch, url, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    if (status >= 400) throw errorFrom(status, body, { method, url });
    return body;
  }
}

/** The exit code scripts can rely on. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return 2;
  if (error instanceof ApiError) return error.status >= 500 ? 3 : 1;
  if (error instanceof NetworkError) return 3;
  return 3;
}
