/**
 * `dualgate dev` on examples/existing-api: a team's RestApi with its own stage and methods (IAM, Cognito, an open
 * health check) that adopted dualgate for its partner routes. dualgate's routes are served with keys and tokens, the
 * deliberately open method is served open, and the methods local mode cannot authorize are answered 501, never open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDeployedTarget } from '../support/e2e-target';
import { callGateway, localToken, startNpxDev, stopNpxDev, type NpxDev } from '../support/npx-dev';
import { exampleApp } from '../support/prepared';

const CLIENT_ID = 'partner-a';

describe.skipIf(isDeployedTarget())('dualgate dev on an app that adopted dualgate on its existing RestApi', () => {
  let dev: NpxDev;

  beforeAll(async () => {
    const app = exampleApp('existing-api');
    dev = await startNpxDev(app.appDir, ['--assembly', app.assemblyDir], { via: 'repo' });
  }, 300_000);

  afterAll(() => stopNpxDev(dev?.child));

  it("serves dualgate's routes on the team's stage to a token and to a key holding their scopes, and refuses other scopes", async () => {
    expect(dev.output()).toMatch(/stage live/);
    const reader = await localToken(dev, CLIENT_ID, ['partner:read']);
    expect(await callGateway(dev, 'GET', '/partner/orders/o-7', reader)).toEqual({
      status: 200,
      body: { resource: '/partner/orders/{orderId}', method: 'GET', sub: CLIENT_ID, role: 'partners' },
    });
    expect((await callGateway(dev, 'POST', '/partner/orders', reader)).status).toBe(403);
    expect((await callGateway(dev, 'GET', '/partner/orders')).status).toBe(401);
    const creator = await localToken(dev, CLIENT_ID, ['keys:write', 'partner:read']);
    const created = await callGateway(dev, 'POST', '/keys', creator, { name: 'partner a', scopes: ['partner:read'] });
    expect(created.status).toBe(201);
    expect(String(created.body['key'])).toMatch(/^team_/);
    expect((await callGateway(dev, 'GET', '/partner/orders', String(created.body['key']))).status).toBe(200);
  });

  it('serves the method listed in openMethods without a credential', async () => {
    expect(await callGateway(dev, 'GET', '/health')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('answers the IAM and Cognito methods 501 with why, and lists them at start-up, rather than serving them open', async () => {
    const reports = await callGateway(dev, 'GET', '/reports');
    expect(reports.status).toBe(501);
    expect(JSON.stringify(reports.body)).toContain('AWS_IAM');
    const staff = await callGateway(dev, 'GET', '/staff');
    expect(staff.status).toBe(501);
    expect(JSON.stringify(staff.body)).toContain('COGNITO_USER_POOLS');
    // The banner names each by its authorization, not as open.
    expect(dev.output()).toMatch(/GET +\/reports +AWS_IAM +not served locally \(501\)/);
    expect(dev.output()).toMatch(/GET +\/staff +COGNITO_USER_POOLS +not served locally \(501\)/);
  });
});
