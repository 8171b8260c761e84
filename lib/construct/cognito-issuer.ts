/**
 * The Cognito issuer DualAuthApi creates unless external `issuers` replace it (or `cognito: false`): a user pool
 * without self sign-up, a resource server whose scopes are the app's scope catalog (filled in at synth, once every
 * route is added), a hosted-UI domain, the client-credentials admin client, and, for the developer portal, a public
 * authorization-code client. `issuer` is what the authorizer is told to trust.
 *
 * The user pool is this construct's `Default` child: CDK leaves `Default` out of logical ids, so `new
 * CognitoIssuer(gate, 'UserPool')` keeps the logical ids of the pool DualAuthApi used to create as `new
 * cognito.UserPool(gate, 'UserPool')` and of its children (resource server, domain, clients), and an upgrade never
 * replaces a deployed user pool. Their construct paths gain a `/Default` segment.
 */
import { Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { cognitoIssuer, type IssuerConfig } from '../../lambdas/core/issuer-config';
import { KEY_SCOPES } from '../../lambdas/core/route-table';
import type { PortalConfig } from '../../lambdas/portal/portal-config';

/** Cognito's resource server id: its scopes reach the authorizer as `dualgate/<scope>`, and it strips the prefix. */
export const RESOURCE_SERVER_ID = 'dualgate';

/** Cognito's limits: scopes per resource server, and OAuth scopes per app client. */
export const COGNITO_MAX_RESOURCE_SERVER_SCOPES = 100;
const COGNITO_MAX_CLIENT_SCOPES = 50;

/** The scopes a portal token carries: enough to read and manage the consumer's own keys, nothing more. */
export const PORTAL_TOKEN_SCOPES = [KEY_SCOPES.read, KEY_SCOPES.write] as const;

/** How the portal page signs in: its config (lambdas/portal/portal-config.ts) less what the construct adds. */
export type PortalSignIn = Omit<PortalConfig, 'keysPath' | 'consumersPath' | 'adminScope' | 'plans'>;

/**
 * The admin client's scopes: the whole catalog while Cognito allows it (50 per client), otherwise the management
 * and admin scopes, with which it mints keys carrying any catalog scope.
 */
function adminClientScopes(catalog: readonly string[], adminScope: string): string[] {
  if (catalog.length <= COGNITO_MAX_CLIENT_SCOPES) return [...catalog];
  return [...new Set([KEY_SCOPES.read, KEY_SCOPES.write, adminScope])].sort();
}

export interface CognitoIssuerProps {
  /** The app's scope catalog, asked for at synth (the route table is final then): the resource server's scopes. */
  readonly scopeCatalog: () => readonly string[];
  /** The admin scope: the admin client keeps it when the catalog is too large for one client. */
  readonly adminScope: string;
  /** The hosted UI's domain prefix (unique per Region). Default: `dualgate-` and 12 characters of this construct's address. */
  readonly domainPrefix?: string;
  /** The developer portal's sign-in: a public client whose callback (and logout) URLs are the portal's URL and `callbackUrls`. */
  readonly portal?: {
    /** The portal's URL (a token is fine: DualAuthApi passes a lazy one, the API being created later). */
    readonly url: string;
    readonly callbackUrls?: readonly string[];
  };
}

export class CognitoIssuer extends Construct {
  readonly userPool: cognito.UserPool;
  /** The machine-to-machine client: client-credentials grant, the catalog's scopes (it is the first admin). */
  readonly adminClient: cognito.UserPoolClient;
  /** The portal's public client, when `portal` is given. */
  readonly portalClient?: cognito.UserPoolClient;
  /** The hosted UI's token endpoint. */
  readonly tokenUrl: string;
  /** The issuer the authorizer trusts: the pool's, with the admin client's (and the portal client's) id. */
  readonly issuer: IssuerConfig;
  /** How the portal page signs in, when `portal` is given. */
  readonly portalSignIn?: PortalSignIn;

  constructor(scope: Construct, id: string, props: CognitoIssuerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const pool = new cognito.UserPool(this, 'Default', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
    // Scopes are the app's catalog, known once every route is added: filled in at synth.
    const placeholder = new cognito.ResourceServerScope({ scopeName: KEY_SCOPES.read, scopeDescription: KEY_SCOPES.read });
    const resourceServer = pool.addResourceServer('ResourceServer', { identifier: RESOURCE_SERVER_ID, scopes: [placeholder] });
    (resourceServer.node.defaultChild as cognito.CfnUserPoolResourceServer).scopes = Lazy.any({
      produce: () => props.scopeCatalog().map((scopeName) => ({ scopeName, scopeDescription: `dualgate ${scopeName}` })),
    });
    const domain = pool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: props.domainPrefix ?? `dualgate-${this.node.addr.slice(0, 12)}` },
    });
    const client = pool.addClient('AdminClient', {
      generateSecret: true,
      authFlows: {},
      oAuth: { flows: { clientCredentials: true }, scopes: [cognito.OAuthScope.resourceServer(resourceServer, placeholder)] },
      accessTokenValidity: Duration.hours(1),
      preventUserExistenceErrors: true,
    });
    // Client credentials only: no user sign-in flow (Cognito's default when the property is absent allows SRP).
    (client.node.defaultChild as cognito.CfnUserPoolClient).explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];
    (client.node.defaultChild as cognito.CfnUserPoolClient).allowedOAuthScopes = Lazy.list({
      produce: () => adminClientScopes(props.scopeCatalog(), props.adminScope).map((scopeName) => `${RESOURCE_SERVER_ID}/${scopeName}`),
    });
    this.userPool = pool;
    this.adminClient = client;
    this.tokenUrl = `${domain.baseUrl()}/oauth2/token`;
    const issuerUrl = cognitoIssuer(stack.region, pool.userPoolId);
    const portal = props.portal;
    if (portal) {
      // The portal's sign-in: authorization code with PKCE in a public client (no secret; a page cannot keep one),
      // through the hosted UI, back to the portal URL. Its token carries the key API's scopes only: what a
      // consumer may put on keys beyond them comes from its entitlements.
      const portalClient = pool.addClient('PortalClient', {
        generateSecret: false,
        authFlows: {},
        oAuth: {
          flows: { authorizationCodeGrant: true },
          scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.resourceServer(resourceServer, placeholder)],
          callbackUrls: [portal.url, ...(portal.callbackUrls ?? [])],
          logoutUrls: [portal.url, ...(portal.callbackUrls ?? [])],
        },
        supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
        accessTokenValidity: Duration.hours(1),
        idTokenValidity: Duration.hours(1),
        // The page keeps no refresh token (tokens live in memory; a reload signs in again): Cognito's shortest.
        refreshTokenValidity: Duration.hours(1),
        preventUserExistenceErrors: true,
      });
      const portalCfn = portalClient.node.defaultChild as cognito.CfnUserPoolClient;
      portalCfn.allowedOAuthScopes = ['openid', ...PORTAL_TOKEN_SCOPES.map((scope) => `${RESOURCE_SERVER_ID}/${scope}`)];
      // Sign-in only through the hosted UI. Without ExplicitAuthFlows, Cognito allows SRP and custom auth with this
      // public client id (CDK omits the property for `authFlows: {}`): anyone with a password could call InitiateAuth
      // directly and get tokens with aws.cognito.signin.user.admin, past the hosted UI and its scopes.
      portalCfn.explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];
      this.portalClient = portalClient;
      this.portalSignIn = {
        issuer: issuerUrl,
        clientId: portalClient.userPoolClientId,
        scopes: ['openid', ...PORTAL_TOKEN_SCOPES.map((scope) => `${RESOURCE_SERVER_ID}/${scope}`)],
        authorizationEndpoint: `${domain.baseUrl()}/oauth2/authorize`,
        tokenEndpoint: `${domain.baseUrl()}/oauth2/token`,
        logoutEndpoint: `${domain.baseUrl()}/logout`,
        scopePrefix: `${RESOURCE_SERVER_ID}/`,
      };
    }
    this.issuer = {
      issuer: issuerUrl,
      // The portal's client's access tokens are accepted too.
      clientIds: [client.userPoolClientId, ...(this.portalClient ? [this.portalClient.userPoolClientId] : [])],
      scopePrefix: `${RESOURCE_SERVER_ID}/`,
      requireTokenUseClaim: true,
    };
  }
}
