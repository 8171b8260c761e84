/**
 * The developer portal on AWS: the Cognito app client it signs in with (authorization code with PKCE, a public
 * client: no secret; the portal URL as callback), its open routes, the entitlement defaults checked at synth, and
 * the authorizer trusting the portal client's tokens.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';
import { PORTAL_CONFIG_VARIABLE } from '../../lambdas/portal/portal-config';
import { parseRuntimeRouteConfig, RUNTIME_CONFIG_FILE } from '../../lambdas/core/route-config';

function build(props: DualAuthApiProps = {}) {
  const app = new App();
  const stack = new Stack(app, 'PortalStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const orders = new lambda.Function(stack, 'Orders', {
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });
  const gate = new DualAuthApi(stack, 'Gate', {
    routes: [
      { method: 'GET', path: '/orders', scopes: ['read:orders'], handler: orders },
      { method: 'POST', path: '/orders', scopes: ['write:orders'], handler: orders },
    ],
    ...props,
  });
  return { app, stack, gate };
}

const synth = (props: DualAuthApiProps = {}) => {
  const built = build(props);
  return { ...built, template: Template.fromStack(built.stack) };
};

describe('portal with the stack’s Cognito user pool', () => {
  const { template, gate, stack, app } = synth({
    portal: { defaultScopes: ['read:orders'], callbackUrls: ['https://developers.example.com/portal/'] },
  });

  it('makes a public app client (no secret) for the authorization code flow, with the portal URL as callback', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      SupportedIdentityProviders: ['COGNITO'],
      AllowedOAuthScopes: ['openid', 'dualgate/keys:read', 'dualgate/keys:write'],
      CallbackURLs: [
        {
          'Fn::Join': [
            '',
            ['https://', { Ref: Match.stringLikeRegexp('GateApi') }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/v1/portal/'],
          ],
        },
        'https://developers.example.com/portal/',
      ],
    });
    // The admin client keeps its secret and the client-credentials grant: two clients in all.
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 2);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', { GenerateSecret: true, AllowedOAuthFlows: ['client_credentials'] });
  });

  it('allows no user sign-in flow beside the hosted UI on either client (Cognito allows SRP and custom auth when ExplicitAuthFlows is absent)', () => {
    const clients = Object.values(template.findResources('AWS::Cognito::UserPoolClient'));
    expect(clients).toHaveLength(2);
    for (const client of clients) expect(client.Properties.ExplicitAuthFlows).toEqual(['ALLOW_REFRESH_TOKEN_AUTH']);
    // The page keeps no refresh token: the portal client's lives an hour, Cognito's minimum.
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      RefreshTokenValidity: 60,
      TokenValidityUnits: Match.objectLike({ RefreshToken: 'minutes' }),
    });
  });

  it('serves GET /portal and GET /portal/{asset+} as open routes from the portal function, and outputs the portal URL', () => {
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const portalId = Object.entries(resources).find(([, resource]) => resource.Properties.PathPart === 'portal')?.[0];
    expect(portalId).toBeDefined();
    const assetId = Object.entries(resources).find(
      ([, resource]) => resource.Properties.PathPart === '{asset+}' && resource.Properties.ParentId.Ref === portalId,
    )?.[0];
    expect(assetId).toBeDefined();
    for (const resourceId of [portalId, assetId]) {
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: 'GET',
        ResourceId: { Ref: resourceId },
        AuthorizationType: 'NONE',
      });
    }
    expect(gate.portalFunction).toBeDefined();
    expect(Object.keys(template.findOutputs('*')).some((name) => name.includes('PortalUrl'))).toBe(true);
  });

  it('gives every gateway response (403, 404, 429, 5xx, for /portal as anywhere) nosniff, X-Frame-Options and a no-script CSP', () => {
    const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse'));
    expect(responses.map((response) => response.Properties.ResponseType)).toEqual(
      expect.arrayContaining(['DEFAULT_4XX', 'DEFAULT_5XX', 'ACCESS_DENIED', 'MISSING_AUTHENTICATION_TOKEN']),
    );
    for (const response of responses) {
      expect(response.Properties.ResponseParameters).toMatchObject({
        'gatewayresponse.header.X-Content-Type-Options': "'nosniff'",
        'gatewayresponse.header.X-Frame-Options': "'DENY'",
        // A quote inside a static value is backslash-escaped.
        'gatewayresponse.header.Content-Security-Policy': "'default-src \\'none\\'; frame-ancestors \\'none\\''",
      });
    }
  });

  it('tells the page the Cognito endpoints, its client and the key API paths; the authorizer trusts the portal client', () => {
    const fn = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { [PORTAL_CONFIG_VARIABLE]: Match.anyValue() } } },
    });
    const rendered = JSON.stringify(Object.values(fn)[0]);
    for (const part of [
      '/oauth2/authorize',
      '/oauth2/token',
      '/logout',
      'keysPath',
      '/keys',
      'consumersPath',
      '/consumers',
      'dualgate/keys:write',
    ])
      expect(rendered).toContain(part);
    const clientLogicalId = stack.getLogicalId(gate.portalClient!.node.defaultChild as never);
    const authorizer = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { DUALGATE_ISSUERS: Match.anyValue() } } },
    });
    expect(JSON.stringify(Object.values(authorizer)[0])).toContain(clientLogicalId);
    // Every dualgate function that decides on scopes gets the defaults in its route config.
    const assembly = app.synth();
    const synthesized = assembly.getStackByName(stack.stackName).template as {
      Resources: Record<string, { Properties: { Code?: { S3Key?: string } } }>;
    };
    const key = synthesized.Resources[stack.getLogicalId(gate.authorizerFunction.node.defaultChild as lambda.CfnFunction)]?.Properties.Code
      ?.S3Key as string;
    const config = parseRuntimeRouteConfig(
      JSON.parse(readFileSync(join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`, RUNTIME_CONFIG_FILE), 'utf8')),
    );
    expect(config.entitlements).toEqual({ defaultScopes: ['read:orders'] });
  });
});

describe('portal settings checked at synth', () => {
  it('refuses a default scope outside the catalog, naming it', () => {
    const { app } = build({ portal: { defaultScopes: ['read:orders', 'read:invoices'] } });
    expect(() => app.synth()).toThrow(/portal\.defaultScopes: "read:invoices" is not in the scope catalog/);
  });

  it('refuses the admin scope as a default, unknown portal fields, and a portal without the key API', () => {
    expect(() => build({ portal: { defaultScopes: ['keys:admin'] } }).app.synth()).toThrow(/keys:admin is the admin scope/);
    expect(() => build({ portal: { defaultScope: ['read:orders'] } as never })).toThrow(/portal: unknown field\(s\) defaultScope/);
    expect(() => build({ portal: {}, managementApi: false })).toThrow(/portal needs the key management API/);
  });

  it('with external issuers, signs in against the named one, and refuses an issuer the authorizer does not trust', () => {
    const issuers = [{ issuer: 'https://login.example.com', audience: 'orders-api', scopePrefix: 'api/' }];
    expect(() => build({ issuers, portal: {} })).toThrow(/portal\.oidc = \{ issuer, clientId \}/);
    expect(() => build({ issuers, portal: { oidc: { issuer: 'https://elsewhere.example.com', clientId: 'portal' } } })).toThrow(
      /is not one of issuers/,
    );
    const { stack } = build({ issuers, portal: { oidc: { issuer: 'https://login.example.com', clientId: 'portal-spa' } } });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 0);
    const fn = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { [PORTAL_CONFIG_VARIABLE]: Match.anyValue() } } },
    });
    const config = JSON.parse(Object.values(fn)[0]?.Properties.Environment.Variables[PORTAL_CONFIG_VARIABLE] as string) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      issuer: 'https://login.example.com',
      clientId: 'portal-spa',
      scopes: ['openid', 'api/keys:read', 'api/keys:write'],
      scopePrefix: 'api/',
    });
    expect(config['authorizationEndpoint']).toBeUndefined();
  });

  it('passes portal.oidc endpoints through (both or neither, https) for an issuer whose token endpoint is on another origin', () => {
    const issuers = [
      { issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc', clientIds: ['portal-spa'], scopePrefix: 'api/' },
    ];
    const oidc = {
      issuer: issuers[0]!.issuer,
      clientId: 'portal-spa',
      authorizationEndpoint: 'https://shop.auth.eu-west-1.amazoncognito.com/oauth2/authorize',
      tokenEndpoint: 'https://shop.auth.eu-west-1.amazoncognito.com/oauth2/token',
    };
    const { stack } = build({ issuers, portal: { oidc } });
    const fn = Template.fromStack(stack).findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { [PORTAL_CONFIG_VARIABLE]: Match.anyValue() } } },
    });
    const config = JSON.parse(Object.values(fn)[0]?.Properties.Environment.Variables[PORTAL_CONFIG_VARIABLE] as string) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({ authorizationEndpoint: oidc.authorizationEndpoint, tokenEndpoint: oidc.tokenEndpoint });
    expect(() => build({ issuers, portal: { oidc: { ...oidc, tokenEndpoint: undefined } } })).toThrow(
      /authorizationEndpoint and tokenEndpoint together, or neither/,
    );
    expect(() => build({ issuers, portal: { oidc: { ...oidc, tokenEndpoint: 'http://shop.example.com/token' } } })).toThrow(
      /portal\.oidc\.tokenEndpoint must be an https URL/,
    );
    expect(() => build({ issuers, portal: { oidc: { ...oidc, endSession: 'x' } as never } })).toThrow(
      /portal\.oidc: unknown field\(s\) endSession/,
    );
  });

  it('keeps entitlements without the page when page is false: no portal function, no portal client, no /portal route', () => {
    const { template, gate } = synth({ portal: { defaultScopes: ['read:orders'], page: false } });
    expect(gate.portalFunction).toBeUndefined();
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    expect(
      Object.values(template.findResources('AWS::ApiGateway::Resource')).some((resource) => resource.Properties.PathPart === 'portal'),
    ).toBe(false);
  });
});
