/**
 * CognitoIssuer on its own: the user pool, its resource server filled from the catalog at synth, the admin and
 * portal clients, and the issuer it hands the authorizer.
 */
import { describe, expect, it } from 'vitest';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { CognitoIssuer, type CognitoIssuerProps } from '../../lib/construct/cognito-issuer';

function build(props: Partial<CognitoIssuerProps> & { catalog?: string[] } = {}) {
  const stack = new Stack(new App(), 'IssuerStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const catalog = props.catalog ?? ['keys:admin', 'keys:read', 'keys:write', 'read:orders'];
  const issuer = new CognitoIssuer(stack, 'UserPool', {
    scopeCatalog: () => catalog,
    adminScope: 'keys:admin',
    domainPrefix: 'dualgate-test',
    ...props,
  });
  return { stack, issuer, catalog };
}

describe('CognitoIssuer', () => {
  it('creates a retained, deletion-protected user pool without self sign-up, under the logical id of a pool created directly under its id', () => {
    const { stack, issuer } = build();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        DeletionProtection: 'ACTIVE',
        UsernameAttributes: ['email'],
      }),
    });
    // What DualAuthApi created before CognitoIssuer existed: new cognito.UserPool(gate, 'UserPool') and its children.
    const before = new Stack(new App(), 'IssuerStack');
    const direct = new cognito.UserPool(before, 'UserPool');
    const directClient = direct.addClient('AdminClient');
    expect(stack.getLogicalId(issuer.userPool.node.defaultChild as CfnElement)).toBe(
      before.getLogicalId(direct.node.defaultChild as CfnElement),
    );
    expect(stack.getLogicalId(issuer.adminClient.node.defaultChild as CfnElement)).toBe(
      before.getLogicalId(directClient.node.defaultChild as CfnElement),
    );
  });

  it('fills the resource server with the catalog as it is at synth, not at construction', () => {
    const { stack, catalog } = build();
    catalog.push('write:orders');
    Template.fromStack(stack).hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'dualgate',
      Scopes: ['keys:admin', 'keys:read', 'keys:write', 'read:orders', 'write:orders'].map((scopeName) => ({
        ScopeName: scopeName,
        ScopeDescription: `dualgate ${scopeName}`,
      })),
    });
  });

  it('gives the admin client the client-credentials grant with every catalog scope, a secret and no user sign-in flow', () => {
    const { stack } = build();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: true,
      AllowedOAuthFlows: ['client_credentials'],
      AllowedOAuthScopes: ['dualgate/keys:admin', 'dualgate/keys:read', 'dualgate/keys:write', 'dualgate/read:orders'],
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'dualgate-test' });
  });

  it('keeps the admin client within Cognito’s 50 scopes per client: the key and admin scopes only, past that', () => {
    const catalog = ['keys:admin', 'keys:read', 'keys:write', ...Array.from({ length: 60 }, (_, index) => `extra:${index}`)];
    const { stack } = build({ catalog });
    Template.fromStack(stack).hasResourceProperties('AWS::Cognito::UserPoolClient', {
      AllowedOAuthScopes: ['dualgate/keys:admin', 'dualgate/keys:read', 'dualgate/keys:write'],
    });
  });

  it('hands the authorizer the pool’s issuer URL, the admin client’s id, the dualgate/ prefix and token_use checking', () => {
    const { stack, issuer } = build();
    expect(stack.resolve(issuer.issuer)).toEqual({
      issuer: {
        'Fn::Join': [
          '',
          ['https://cognito-idp.eu-west-1.amazonaws.com/', { Ref: stack.getLogicalId(issuer.userPool.node.defaultChild as CfnElement) }],
        ],
      },
      clientIds: [{ Ref: stack.getLogicalId(issuer.adminClient.node.defaultChild as CfnElement) }],
      scopePrefix: 'dualgate/',
      requireTokenUseClaim: true,
    });
    expect(issuer.portalClient).toBeUndefined();
    expect(issuer.portalSignIn).toBeUndefined();
  });

  it('with a portal, adds a public authorization-code client back to the portal URL, trusted by the issuer and named in the sign-in', () => {
    const { stack, issuer } = build({
      portal: { url: 'https://api.example.com/v1/portal/', callbackUrls: ['https://developers.example.com/portal/'] },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 2);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'dualgate/keys:read', 'dualgate/keys:write'],
      CallbackURLs: ['https://api.example.com/v1/portal/', 'https://developers.example.com/portal/'],
      LogoutURLs: ['https://api.example.com/v1/portal/', 'https://developers.example.com/portal/'],
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
    });
    const portalRef = { Ref: stack.getLogicalId(issuer.portalClient?.node.defaultChild as CfnElement) };
    expect(stack.resolve(issuer.issuer.clientIds)).toEqual([
      { Ref: stack.getLogicalId(issuer.adminClient.node.defaultChild as CfnElement) },
      portalRef,
    ]);
    expect(stack.resolve(issuer.portalSignIn)).toMatchObject({
      clientId: portalRef,
      scopes: ['openid', 'dualgate/keys:read', 'dualgate/keys:write'],
      scopePrefix: 'dualgate/',
    });
  });
});
