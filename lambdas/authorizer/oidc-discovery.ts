/**
 * OIDC discovery for issuers configured without a `jwksUri` (OpenID Connect Discovery 1.0 §4): Okta
 * (`…/v1/keys`), Entra ID, Keycloak and others do not publish their keys at `<issuer>/.well-known/jwks.json`.
 *
 * It is a Fetcher wrapped around the JWKS fetcher, so aws-jwt-verify's JWKS cache and penalty box work
 * unchanged: the verifier is configured with the discovery document's URL as the issuer's "JWKS URI", and a
 * fetch of that URL becomes "resolve `jwks_uri` (once per container), then fetch the JWKS". Both requests go
 * through the inner fetcher, so they share its timeout, body bound, http policy and per-URI cooldown.
 */
import type { Fetcher } from 'aws-jwt-verify/https';
import { FetchError } from 'aws-jwt-verify/error';

/** The document's URL for an issuer, as OIDC Discovery §4 builds it (a trailing `/` on the issuer is dropped). */
export function discoveryUrlOf(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/** The discovery document could not be had, or does not vouch for the configured issuer: fail closed (503). */
class OidcDiscoveryError extends FetchError {}

export interface OidcDiscoveryOptions {
  /** After a failed discovery, further attempts fail at once for this long (the JWKS fetcher's default). */
  failureCooldownMs?: number;
  nowMs?: () => number;
}

export class DiscoveringJwksFetcher implements Fetcher {
  /** Discovery URL → the issuer that must appear in the document. */
  private readonly issuerByDiscoveryUrl: Map<string, string>;
  /** Discovery URL → the `jwks_uri` it named: resolved once per container. */
  private readonly jwksUris = new Map<string, string>();
  /** Shared by concurrent first requests, so a cold start's burst makes one discovery request. */
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly failedUntilMs = new Map<string, number>();
  private readonly failureCooldownMs: number;
  private readonly nowMs: () => number;

  constructor(
    private readonly inner: Fetcher,
    discoveredIssuers: readonly string[],
    options: OidcDiscoveryOptions = {},
  ) {
    this.issuerByDiscoveryUrl = new Map(discoveredIssuers.map((issuer) => [discoveryUrlOf(issuer), issuer]));
    this.failureCooldownMs = options.failureCooldownMs ?? 2000;
    this.nowMs = options.nowMs ?? Date.now;
  }

  async fetch(uri: string, requestOptions?: Record<string, unknown>, body?: ArrayBuffer): Promise<ArrayBuffer> {
    const issuer = this.issuerByDiscoveryUrl.get(uri);
    if (issuer === undefined) return this.inner.fetch(uri, requestOptions, body);
    const jwksUri = this.jwksUris.get(uri) ?? (await this.discover(uri, issuer));
    return this.inner.fetch(jwksUri, requestOptions, body);
  }

  /** The `jwks_uri` this container resolved for an issuer, if any (for logs and tests). */
  resolvedJwksUri(issuer: string): string | undefined {
    return this.jwksUris.get(discoveryUrlOf(issuer));
  }

  private discover(discoveryUrl: string, issuer: string): Promise<string> {
    // The inner fetcher cools down on transport failures; this covers a document that arrives but is wrong,
    // which would otherwise be refetched by every JWT.
    if (this.nowMs() < (this.failedUntilMs.get(discoveryUrl) ?? 0)) {
      return Promise.reject(new OidcDiscoveryError(discoveryUrl, 'OIDC discovery skipped: a recent attempt failed (cooling down)'));
    }
    let pending = this.inFlight.get(discoveryUrl);
    if (!pending) {
      pending = this.inner
        .fetch(discoveryUrl)
        .then((document) => jwksUriFrom(discoveryUrl, issuer, document))
        .then(
          (jwksUri) => {
            this.jwksUris.set(discoveryUrl, jwksUri);
            return jwksUri;
          },
          (error: unknown) => {
            this.failedUntilMs.set(discoveryUrl, this.nowMs() + this.failureCooldownMs);
            throw error instanceof FetchError ? error : new OidcDiscoveryError(discoveryUrl, String(error));
          },
        )
        .finally(() => this.inFlight.delete(discoveryUrl));
      this.inFlight.set(discoveryUrl, pending);
    }
    return pending;
  }
}

/** Parse and check a discovery document. Throws OidcDiscoveryError naming what is wrong. */
function jwksUriFrom(discoveryUrl: string, issuer: string, document: ArrayBuffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(document).toString('utf8'));
  } catch {
    throw new OidcDiscoveryError(discoveryUrl, 'discovery document is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new OidcDiscoveryError(discoveryUrl, 'discovery document is not a JSON object');
  const fields = parsed as Record<string, unknown>;
  // OIDC Discovery §4.3: the document's issuer MUST be identical to the issuer it was fetched for.
  if (fields['issuer'] !== issuer) {
    throw new OidcDiscoveryError(
      discoveryUrl,
      `discovery document names issuer ${JSON.stringify(fields['issuer'])}, expected ${JSON.stringify(issuer)}`,
    );
  }
  const jwksUri = fields['jwks_uri'];
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri))
    throw new OidcDiscoveryError(discoveryUrl, 'discovery document has no valid jwks_uri');
  // An https issuer must not send us to plain http for its keys. Otherwise the inner fetcher decides which
  // protocols are allowed (https only, unless local mode allows http).
  if (issuer.startsWith('https:') && !jwksUri.startsWith('https:'))
    throw new OidcDiscoveryError(discoveryUrl, `jwks_uri ${jwksUri} is not https`);
  return jwksUri;
}
