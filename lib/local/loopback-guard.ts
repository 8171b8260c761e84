/**
 * Every listener `dualgate dev` opens answers this machine only. A web page can reach 127.0.0.1 in two ways,
 * and both are refused here, before the listener sees the request:
 * - DNS rebinding: the page's own name, re-resolved to 127.0.0.1, makes local mode same-origin to the page. The
 *   browser still sends the page's name in `Host`, so a Host (or an absolute-form request target) that is not a
 *   loopback name, or a name the user allowed (`--allow-host`, DUALGATE_ALLOWED_HOSTS), gets 421.
 * - Cross-origin calls: the issuer, dynalite and the usage-plans control plane are called by SDKs and CLIs, which
 *   send no `Origin`, never by web pages. So a foreign `Origin` gets 403 there, and none of their answers grants
 *   CORS (oauth2-mock-server and dynalite both send `Access-Control-Allow-Origin: *` on their own). The gateway is
 *   the app's API: the CORS headers its backends return pass through, and it adds none.
 * A refused request is answered without reading its body, and the connection is closed.
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, RequestListener, Server, ServerResponse } from 'node:http';
import { isIPv6 } from 'node:net';

/** The names a loopback `Host` may carry, with any port. `localhost.` (trailing dot) is not one: allow it explicitly. */
const LOOPBACK_HOST_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

export const ALLOW_HOST_FLAG = '--allow-host';
export const ALLOWED_HOSTS_ENV = 'DUALGATE_ALLOWED_HOSTS';

/** `name` or `name:port` (port digits only); IPv6 literals in brackets. Anything else is malformed. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[^[\]:]+)(?::\d{0,5})?$/i;
const HOST_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$/;
const CORS_HEADER = /^access-control-/i;
const MAX_ECHOED_CHARS = 100;

/**
 * A name for `--allow-host` in the form a Host header carries it (lowercase; IPv6 in brackets), or undefined when it
 * is not a host name or an IP literal (a port, a scheme, a path or a wildcard is refused: a name allows every port).
 */
export function normalizeAllowedHost(value: string): string | undefined {
  const name = value.trim().toLowerCase();
  if (isIPv6(name)) return `[${name}]`;
  const bracketed = /^\[(.+)\]$/.exec(name);
  if (bracketed) return isIPv6(bracketed[1] as string) ? name : undefined;
  return name.length <= 253 && HOST_NAME.test(name) ? name : undefined;
}

/**
 * Whether a `Host` header value names this machine: `localhost`, `127.0.0.1` or `[::1]`, any case, with or without a
 * port, or one of `allowedHosts` (already normalized). Missing, empty or malformed → false.
 */
export function isLoopbackHost(host: string | undefined, allowedHosts: readonly string[] = []): boolean {
  if (host === undefined) return false;
  const match = HOST_HEADER.exec(host);
  if (!match) return false;
  const name = (match[1] as string).toLowerCase();
  return LOOPBACK_HOST_NAMES.includes(name) || allowedHosts.includes(name);
}

/** Whether an `Origin` header is a page served from this machine: `http(s)://` + a loopback host. `null` → false. */
export function isLoopbackOrigin(origin: string, allowedHosts: readonly string[] = []): boolean {
  const match = /^https?:\/\/(.*)$/i.exec(origin);
  return match !== null && isLoopbackHost(match[1], allowedHosts);
}

type ListenerKind =
  /** The app's API: its backends' CORS headers pass through; any Origin may call it, as on AWS. */
  | 'gateway'
  /** The issuer, dynalite, the control plane: called by SDKs and CLIs only. */
  | 'internal';

interface LoopbackGuardOptions {
  kind: ListenerKind;
  /** Names besides the loopback ones that `Host` may carry (normalizeAllowedHost's form). */
  allowedHosts?: readonly string[];
  /** Internal listeners: the requests whose answers keep their CORS headers (the issuer's, for the portal's origin). */
  keepsCors?: (request: IncomingMessage) => boolean;
}

type RequestVerdict =
  | { allowed: true }
  | { allowed: false; reason: 'foreign_host' | 'foreign_target'; statusCode: 421; message: string }
  | { allowed: false; reason: 'foreign_origin'; statusCode: 403; message: string };

function echo(value: string): string {
  return JSON.stringify(value.length > MAX_ECHOED_CHARS ? `${value.slice(0, MAX_ECHOED_CHARS)}…` : value);
}

const HOW_TO_ALLOW = `to serve another name that reaches this machine, start dualgate dev with ${ALLOW_HOST_FLAG} NAME (repeatable) or ${ALLOWED_HOSTS_ENV}=NAME,NAME`;

/** The decision for one request, from its headers and target only (pure). */
export function checkRequest(request: Pick<IncomingMessage, 'url' | 'headersDistinct'>, options: LoopbackGuardOptions): RequestVerdict {
  const allowedHosts = options.allowedHosts ?? [];
  const hosts = request.headersDistinct['host'] ?? [];
  const host = hosts.length === 1 ? hosts[0] : undefined;
  if (!isLoopbackHost(host, allowedHosts)) {
    const got = hosts.length === 0 ? 'no Host header' : hosts.length > 1 ? `${hosts.length} Host headers` : `Host ${echo(host ?? '')}`;
    return {
      allowed: false,
      reason: 'foreign_host',
      statusCode: 421,
      message: `local mode answers only requests whose Host is localhost, 127.0.0.1 or [::1] (any port), got ${got}: a web page must not reach it (DNS rebinding); ${HOW_TO_ALLOW}`,
    };
  }
  // RFC 9112 §3.2.2: an absolute-form target overrides Host, so its host must pass the same rule.
  const target = request.url ?? '/';
  if (!target.startsWith('/') && target !== '*') {
    let targetHost: string | undefined;
    try {
      targetHost = new URL(target).host;
    } catch {
      targetHost = undefined;
    }
    if (!isLoopbackHost(targetHost, allowedHosts)) {
      return {
        allowed: false,
        reason: 'foreign_target',
        statusCode: 421,
        message: `local mode answers only requests for localhost, 127.0.0.1 or [::1], got the request target ${echo(target)}; ${HOW_TO_ALLOW}`,
      };
    }
  }
  if (options.kind === 'internal') {
    const origins = request.headersDistinct['origin'];
    if (origins !== undefined && (origins.length !== 1 || !isLoopbackOrigin(origins[0] as string, allowedHosts))) {
      return {
        allowed: false,
        reason: 'foreign_origin',
        statusCode: 403,
        message: `this local mode service is for SDKs and CLIs, not web pages: Origin ${echo(origins.join(', '))} is not a loopback origin`,
      };
    }
  }
  return { allowed: true };
}

function refuse(response: ServerResponse, verdict: Exclude<RequestVerdict, { allowed: true }>): void {
  // `connection: close`: the body is never read, so the connection cannot carry another request.
  response.writeHead(verdict.statusCode, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    connection: 'close',
    'x-dualgate-refused': verdict.reason,
  });
  response.end(JSON.stringify({ message: verdict.message }));
}

function withoutCors(headers: OutgoingHttpHeaders | OutgoingHttpHeader[]): OutgoingHttpHeaders | OutgoingHttpHeader[] {
  if (!Array.isArray(headers)) return Object.fromEntries(Object.entries(headers).filter(([name]) => !CORS_HEADER.test(name)));
  // The flat form: [name, value, name, value, …].
  const kept: OutgoingHttpHeader[] = [];
  for (let index = 0; index + 1 < headers.length; index += 2)
    if (!CORS_HEADER.test(String(headers[index])))
      kept.push(headers[index] as OutgoingHttpHeader, headers[index + 1] as OutgoingHttpHeader);
  return kept;
}

/**
 * Drop every `Access-Control-*` header from this response. Node sends headers only through `writeHead` (it calls
 * it itself for a response ended without one), so removing them there catches setHeader, appendHeader and
 * writeHead's own argument alike, whatever library set them.
 */
function stripCorsHeaders(response: ServerResponse): void {
  const writeHead = response.writeHead;
  response.writeHead = function (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    for (const name of this.getHeaderNames()) if (CORS_HEADER.test(name)) this.removeHeader(name);
    const last = rest.at(-1);
    if (last !== null && typeof last === 'object') rest[rest.length - 1] = withoutCors(last as OutgoingHttpHeaders | OutgoingHttpHeader[]);
    return (writeHead as (...args: unknown[]) => ServerResponse).call(this, statusCode, ...rest);
  } as ServerResponse['writeHead'];
}

/** `listener`, behind the Host/Origin rules and (for internal listeners) without CORS grants. */
export function loopbackOnly(listener: RequestListener, options: LoopbackGuardOptions): RequestListener {
  return (request, response) => {
    const verdict = checkRequest(request, options);
    if (!verdict.allowed) return refuse(response, verdict);
    if (options.kind === 'internal' && !options.keepsCors?.(request)) stripCorsHeaders(response);
    listener(request, response);
  };
}

/** Put every `request` listener of a server made elsewhere (dynalite's) behind loopbackOnly. */
export function restrictToLoopback<T extends Server>(server: T, options: LoopbackGuardOptions): T {
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on(
    'request',
    loopbackOnly((request, response) => {
      for (const listener of listeners) listener(request, response);
    }, options),
  );
  return server;
}
