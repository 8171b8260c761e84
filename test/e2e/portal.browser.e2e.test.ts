/**
 * The developer portal in a real browser: headless Chromium (Debian's, driven by playwright-core) against
 * `npx dualgate dev` on the example app (examples/orders-app: `portal: { defaultScopes: ['read:orders'] }`) with
 * dualgate installed from the packed tarball, as a user's app gets it. Controls are
 * found by role and accessible name only, as a screen reader would. Screenshots of each state go to docs/images with DUALGATE_SCREENSHOTS=1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDeployedTarget } from '../support/e2e-target';
import { exampleApp, REPO } from '../support/prepared';

const READY = /dualgate local mode is ready at (http:\/\/127\.0\.0\.1:\d+)/;
const TOKEN_URL = /token endpoint (http:\/\/127\.0\.0\.1:\d+\/token)/;
const PORTAL_URL = /portal {4}(http:\/\/127\.0\.0\.1:\d+\/portal\/)/;
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/**
 * Screenshots go to docs/images only when asked (`DUALGATE_SCREENSHOTS=1 npx vitest run test/e2e/portal.browser.e2e.test.ts`),
 * so that a test run never changes the repository; otherwise into a temporary directory.
 */
const IMAGES = process.env['DUALGATE_SCREENSHOTS'] === '1' ? join(REPO, 'docs', 'images') : join(tmpdir(), 'dualgate-portal-screenshots');
/** Short caches, so "stops within the revocation bound" is seconds: authorizer 1 s + key cache 1 s. */
const REVOCATION_BOUND_SECONDS = 2;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** expect.poll with room for cold starts under load (a portal sign-in wakes the portal, issuer, authorizer and key API). */
const poll = <T>(probe: () => T | Promise<T>) => expect.poll(probe, { timeout: 30_000, interval: 100 });

interface Dev {
  child: ChildProcess;
  output: () => string;
  url: string;
  tokenUrl: string;
  portalUrl: string;
}

async function startDev(cwd: string, assemblyDir: string): Promise<Dev> {
  const env = {
    ...process.env,
    PORT: '0',
    ISSUER_PORT: '0',
    DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS: '1',
    DUALGATE_KEY_CACHE_TTL_SECONDS: '1',
    DUALGATE_LAST_USED_INTERVAL_SECONDS: '0',
    // The local portal asks for the admin scope, and the local issuer grants it to `root` alone.
    DUALGATE_LOCAL_PORTAL_ADMINS: 'root',
  };
  // The CLI the tarball installed (node_modules/.bin/dualgate), not this repository's.
  const child = spawn(
    process.execPath,
    [join(cwd, 'node_modules', 'dualgate', 'bin', 'dualgate-cli.mjs'), 'dev', '--assembly', assemblyDir],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 120_000;
  while (!READY.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`dualgate dev did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const portal = PORTAL_URL.exec(output);
  if (!portal) throw new Error(`the banner names no portal:\n${output}`);
  return { child, output: () => output, url: READY.exec(output)![1]!, tokenUrl: TOKEN_URL.exec(output)![1]!, portalUrl: portal[1]! };
}

/** A client-credentials token: `clientId` becomes the sub. */
async function token(dev: Dev, clientId: string, scopes: string): Promise<string> {
  const response = await fetch(dev.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:any`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes }).toString(),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function call(
  dev: Dev,
  method: string,
  path: string,
  credential: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${dev.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${credential}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Poll `probe` until it returns true, for at most `seconds` (the revocation bound plus slack). */
async function within(seconds: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return (Date.now() - started) / 1000;
    if (Date.now() - started > seconds * 1000) throw new Error(`not within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(IMAGES, { recursive: true });
  // The plaintext of a key is masked: even a local mode key does not belong in the repository's images.
  await page.screenshot({
    path: join(IMAGES, `portal-${name}.png`),
    fullPage: true,
    mask: [page.locator('#new-key')],
    maskColor: '#c9ced6',
  });
}

/** Everything the page keeps in web storage and cookies. */
async function storedState(page: Page, context: BrowserContext): Promise<{ local: string[]; session: string[]; cookies: number }> {
  // Strings, not functions: this file is compiled without the DOM library; they run in the page.
  const stores = (await page.evaluate(`({
    local: Object.keys(localStorage).map((key) => key + '=' + localStorage.getItem(key)),
    session: Object.keys(sessionStorage).map((key) => key + '=' + sessionStorage.getItem(key)),
  })`)) as { local: string[]; session: string[] };
  return { ...stores, cookies: (await context.cookies()).length };
}

async function axeViolations(page: Page): Promise<{ id: string; impact: string; nodes: number }[]> {
  // Evaluated by the test through the DevTools protocol, which the page's CSP does not govern (a <script> tag
  // would be refused: no inline script), and never served by the portal.
  await page.evaluate(AXE_SOURCE);
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as {
    violations: { id: string; impact: string; nodes: unknown[] }[];
  };
  return result.violations.map((violation) => ({ id: violation.id, impact: violation.impact, nodes: violation.nodes.length }));
}

// Each step waits for cold starts under load (the suite shares 2 cores with others): a generous per-test timeout.
describe.skipIf(isDeployedTarget())(
  'the developer portal in headless Chromium, against dualgate dev on the example app',
  { timeout: 120_000 },
  () => {
    let dev: Dev;
    let context: BrowserContext;
    let page: Page;
    const consoleErrors: string[] = [];
    let admin: string;
    let createdKey = '';

    async function signIn(username: string): Promise<void> {
      await page.goto(dev.portalUrl);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('textbox', { name: 'Username', exact: true }).fill(username);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await poll(() => page.getByText(`Signed in as ${username}`).count()).toBe(1);
    }

    const row = (name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

    beforeAll(async () => {
      if (!existsSync(CHROMIUM))
        throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`);
      const app = exampleApp('orders-app', 'packed');
      dev = await startDev(app.appDir, app.assemblyDir);
      admin = await token(dev, 'portal-admin', 'keys:read keys:write keys:admin');
      // A fresh profile each run. Without the background-networking flags Chromium keeps calling Google's services.
      context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'dualgate-chromium-')), {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        viewport: { width: 1280, height: 800 },
      });
      page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      page.on('pageerror', (error) => consoleErrors.push(error.message));
    }, 300_000);

    afterAll(async () => {
      await context?.close();
      dev?.child.kill('SIGTERM');
    });

    it('prints the portal URL in the banner and serves every portal response with the strict CSP', async () => {
      expect(dev.output()).toContain(`portal    ${dev.url}/portal/`);
      for (const path of ['/portal/', '/portal/portal.js', '/portal/portal.css', '/portal/config.json', '/portal/nothing-here']) {
        const response = await fetch(`${dev.url}${path}`);
        const csp = response.headers.get('content-security-policy') ?? '';
        expect(csp, path).toContain("script-src 'self'");
        expect(csp, path).toContain("frame-ancestors 'none'");
        expect(csp, path).not.toContain('unsafe-inline');
        expect(csp, path).not.toContain('unsafe-eval');
        expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      }
      const html = await (await fetch(`${dev.url}/portal/`)).text();
      // No inline script: every <script> names a file.
      expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="portal.js" defer>']);
      const bare = await fetch(`${dev.url}/portal`, { redirect: 'manual' });
      expect(bare.status).toBe(302);
      expect(bare.headers.get('location')).toBe('portal/');
    });

    it('signs in through the local issuer (authorization code + PKCE), offers only entitled scopes, and passes axe-core', async () => {
      await page.goto(dev.portalUrl);
      await poll(() => page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
      await screenshot(page, 'signed-out');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('textbox', { name: 'Username', exact: true }).waitFor();
      const authorize = new URL(page.url());
      expect(authorize.pathname).toBe('/authorize');
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authorize.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{16,}$/);
      expect(authorize.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{16,}$/);
      await screenshot(page, 'issuer-sign-in');
      await page.getByRole('textbox', { name: 'Username', exact: true }).fill('ada');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await poll(() => page.getByText('Signed in as ada').count()).toBe(1);
      // Back on the portal, the code is gone from the address bar.
      expect(page.url()).toBe(dev.portalUrl);
      await page.getByRole('button', { name: 'Create key', exact: true }).click();
      await poll(() => page.getByRole('checkbox', { name: 'read:orders', exact: true }).count()).toBe(1);
      expect(await page.getByRole('checkbox', { name: 'write:orders', exact: true }).count()).toBe(0);
      expect(await page.getByRole('checkbox').count()).toBe(1);
      expect(await storedState(page, context)).toEqual({ local: [], session: [], cookies: 0 });
      const violations = await axeViolations(page);
      expect(violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')).toEqual([]);
    });

    it('creates a key with an entitled scope that works over HTTP: 200 on the entitled route, 403 on another', async () => {
      await page.getByRole('textbox', { name: 'Name', exact: true }).fill('ci reader');
      await page.getByRole('checkbox', { name: 'read:orders', exact: true }).check();
      await screenshot(page, 'create-key');
      await page.getByRole('button', { name: 'Create', exact: true }).click();
      await poll(() => page.getByRole('button', { name: 'Copy', exact: true }).count()).toBe(1);
      createdKey = (await page.locator('#new-key').textContent()) ?? '';
      expect(createdKey).toMatch(/^ord_[0-9A-Za-z]{36}$/);
      await page.getByRole('button', { name: 'Copy', exact: true }).click();
      await poll(() => page.getByRole('status').textContent()).toMatch(/copied|copy it by hand/i);
      await screenshot(page, 'key-created');
      const entitled = await call(dev, 'GET', '/orders', createdKey);
      expect(entitled.status).toBe(200);
      expect(entitled.body['sub']).toBe('ada');
      expect((await call(dev, 'POST', '/orders', createdKey)).status).toBe(403);
      // The row: name, public start, scopes, status; last used shows the call just made.
      await page.getByRole('button', { name: 'Done', exact: true }).click();
      await page.reload();
      await signIn('ada');
      const cells = await row('ci reader').getByRole('cell').allTextContents();
      expect(cells[0]).toBe(`${createdKey.slice(0, 8)}…`);
      expect(cells[1]).toBe('read:orders');
      expect(cells[4]).not.toBe('never');
      expect(cells[5]).toBe('active');
    });

    it('keeps no token or key in web storage or cookies, and the key is gone after a reload', async () => {
      await page.reload();
      await poll(() => page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
      expect(await page.content()).not.toContain(createdKey);
      expect(await storedState(page, context)).toEqual({ local: [], session: [], cookies: 0 });
      await signIn('ada');
      expect(await page.content()).not.toContain(createdKey);
      expect(await storedState(page, context)).toEqual({ local: [], session: [], cookies: 0 });
    });

    it('refuses a non-entitled scope sent by hand with a readable 403 on the page and from the API', async () => {
      const jwt = await token(dev, 'ada', 'keys:read keys:write');
      const refused = await call(dev, 'POST', '/keys', jwt, { name: 'by hand', scopes: ['write:orders'] });
      expect(refused.status).toBe(403);
      expect(String(refused.body['message'])).toContain('write:orders');
      // The same request from the page, with the form edited by hand: the page shows the API's answer.
      await page.getByRole('button', { name: 'Create key', exact: true }).click();
      await page.getByRole('textbox', { name: 'Name', exact: true }).fill('by hand');
      await page.evaluate(`(() => {
      const box = document.querySelector('input[name="scope"]');
      box.value = 'write:orders';
      box.click();
    })()`);
      await page.getByRole('button', { name: 'Create', exact: true }).click();
      await poll(() => page.getByRole('alert').textContent()).toMatch(/^403 Not allowed: .*write:orders/);
      // The refused form stays filled in, to correct.
      expect(await page.getByRole('textbox', { name: 'Name', exact: true }).inputValue()).toBe('by hand');
      await screenshot(page, 'error');
      await page.getByRole('button', { name: 'Cancel', exact: true }).click();
      // The browser logs the refused request itself; the page added nothing else to the console.
      expect(consoleErrors).toEqual(['Failed to load resource: the server responded with a status of 403 (Forbidden)']);
      consoleErrors.length = 0;
    });

    it('rotates a key (the new one works at once, the old one stops after the grace period) and revokes it, confirmed', async () => {
      await page
        .getByRole('combobox', { name: 'When rotating, the old key keeps working for' })
        .selectOption({ label: 'None: the old key stops now' });
      page.once('dialog', (dialog) => void dialog.accept());
      await row('ci reader').getByRole('button', { name: 'Rotate', exact: true }).click();
      await poll(() => page.getByRole('button', { name: 'Copy', exact: true }).count()).toBe(1);
      const rotated = (await page.locator('#new-key').textContent()) ?? '';
      expect(rotated).toMatch(/^ord_/);
      expect(rotated).not.toBe(createdKey);
      await screenshot(page, 'rotated');
      expect((await call(dev, 'GET', '/orders', rotated)).status).toBe(200);
      await within(REVOCATION_BOUND_SECONDS + 3, async () => (await call(dev, 'GET', '/orders', createdKey)).status === 401);
      await page.getByRole('button', { name: 'Done', exact: true }).click();

      // Revoke: the browser's confirm first; dismissing it changes nothing.
      page.once('dialog', (dialog) => void dialog.dismiss());
      const live = row('ci reader').filter({ has: page.getByRole('button', { name: 'Revoke', exact: true }) });
      await live.getByRole('button', { name: 'Revoke', exact: true }).click();
      expect((await call(dev, 'GET', '/orders', rotated)).status).toBe(200);
      let confirmText = '';
      page.once('dialog', (dialog) => {
        confirmText = dialog.message();
        void dialog.accept();
      });
      await live.getByRole('button', { name: 'Revoke', exact: true }).click();
      await poll(() => page.getByRole('status').textContent()).toBe('Key "ci reader" revoked.');
      expect(confirmText).toContain('Revoke key "ci reader"');
      const seconds = await within(REVOCATION_BOUND_SECONDS + 3, async () => (await call(dev, 'GET', '/orders', rotated)).status === 401);
      expect(seconds).toBeLessThanOrEqual(REVOCATION_BOUND_SECONDS + 3);
      expect(await row('ci reader').getByRole('button', { name: 'Revoke', exact: true }).count()).toBe(0);
      await screenshot(page, 'revoked');
    });

    it('offers a scope once an admin entitles the consumer, and a key granted through it stops when the entitlement is removed', async () => {
      const entitle = await call(dev, 'PUT', '/consumers/ada', admin, { scopes: ['write:orders'] });
      expect(entitle.status).toBe(200);
      expect(entitle.body).toMatchObject({
        sub: 'ada',
        scopes: ['write:orders'],
        defaultScopes: ['read:orders'],
        entitledScopes: ['read:orders', 'write:orders'],
      });
      await page.reload();
      await signIn('ada');
      await page.getByRole('button', { name: 'Create key', exact: true }).click();
      await page.getByRole('textbox', { name: 'Name', exact: true }).fill('ci writer');
      await page.getByRole('checkbox', { name: 'write:orders', exact: true }).check();
      await page.getByRole('button', { name: 'Create', exact: true }).click();
      await poll(() => page.getByRole('button', { name: 'Copy', exact: true }).count()).toBe(1);
      const writer = (await page.locator('#new-key').textContent()) ?? '';
      expect((await call(dev, 'POST', '/orders', writer)).status).toBe(201);
      await screenshot(page, 'entitled');

      const removed = await call(dev, 'PUT', '/consumers/ada', admin, { scopes: [] });
      expect(removed.body).toMatchObject({ scopes: [], entitledScopes: ['read:orders'] });
      // The existing key loses write:orders within the revocation bound; the default scope is untouched.
      await within(REVOCATION_BOUND_SECONDS + 3, async () => (await call(dev, 'POST', '/orders', writer)).status === 403);
      await page.reload();
      await signIn('ada');
      expect(await row('ci writer').getByRole('cell').nth(1).textContent()).toBe('write:orders (no longer entitled)');
    });

    it('works with the keyboard alone, and the browser console showed no errors', async () => {
      await page.reload();
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      await page.keyboard.press('Tab');
      await poll(() => page.evaluate('document.activeElement?.textContent')).toBe('Sign in');
      await page.keyboard.press('Enter');
      await page.getByRole('textbox', { name: 'Username', exact: true }).waitFor();
      await page.keyboard.type('grace');
      await page.keyboard.press('Enter');
      await poll(() => page.getByText('Signed in as grace').count()).toBe(1);
      await page.getByRole('button', { name: 'Create key', exact: true }).focus();
      await page.keyboard.press('Enter');
      await poll(() => page.evaluate('document.activeElement?.id')).toBe('key-name');
      await page.keyboard.type('keyboard key');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Space');
      await page.keyboard.press('Enter');
      await poll(() => page.evaluate('document.activeElement?.textContent')).toBe('Copy');
      expect(await page.locator('#new-key').textContent()).toMatch(/^ord_/);
      const violations = await axeViolations(page);
      expect(violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')).toEqual([]);
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await poll(() => page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
      expect(await page.content()).not.toContain('ord_');
      expect(consoleErrors).toEqual([]);
    });

    it('shows an admin (a token with the admin scope) a consumer’s entitlements, and saves a change the key API audits', async () => {
      // DUALGATE_LOCAL_PORTAL_ADMINS=root: as an IdP that grants keys:admin to admins only (portal.oidc.scopes on AWS).
      await signIn('root');
      expect(await page.getByRole('heading', { name: 'Consumers', exact: true }).count()).toBe(1);
      await page.getByRole('textbox', { name: 'Consumer', exact: true }).fill('ada');
      await page.getByRole('button', { name: 'Look up', exact: true }).click();
      await poll(() => page.getByRole('textbox', { name: 'Entitled scopes', exact: true }).count()).toBe(1);
      expect(await page.getByRole('textbox', { name: 'Entitled scopes', exact: true }).inputValue()).toBe('');
      await page.getByRole('textbox', { name: 'Entitled scopes', exact: true }).fill('write:orders');
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await poll(() => page.getByRole('status').textContent()).toBe('Consumer "ada" saved: it may grant read:orders, write:orders.');
      expect((await call(dev, 'GET', '/consumers/ada', admin)).body).toMatchObject({ scopes: ['write:orders'] });
      await screenshot(page, 'admin');
      const violations = await axeViolations(page);
      expect(violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')).toEqual([]);
      // Signed in without the admin scope, the section is not there.
      await page.reload();
      await signIn('ada');
      expect(await page.getByRole('heading', { name: 'Consumers', exact: true }).count()).toBe(0);
      expect(consoleErrors).toEqual([]);
    });

    it('checks state before anything: ignores an unsolicited error (never its description), keeps a sign-in in progress, and leaves nothing behind', async () => {
      const lure = encodeURIComponent('Your account is locked: call +1 555 0100');
      await page.goto(`${dev.portalUrl}?error=access_denied&error_description=${lure}&state=forged`);
      await poll(() => page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
      expect(await page.content()).not.toContain('account is locked');
      expect(page.url()).toBe(dev.portalUrl);
      // A sign-in in progress survives a forged answer; the matching one is told in the portal's own words.
      const pending = `sessionStorage.setItem('dualgate.portal.signin', JSON.stringify({ verifier: 'v'.repeat(43), state: 'real', nonce: 'n', startedAtMs: Date.now() }))`;
      await page.evaluate(pending);
      await page.goto(`${dev.portalUrl}?error=access_denied&error_description=${lure}&state=forged`);
      await poll(() => page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
      expect(await page.evaluate(`sessionStorage.getItem('dualgate.portal.signin') !== null`)).toBe(true);
      await page.goto(`${dev.portalUrl}?error=access_denied&error_description=${lure}&state=real`);
      await poll(() => page.getByText('Sign-in failed: Sign-in was cancelled or refused.').count()).toBe(1);
      expect(await page.content()).not.toContain('account is locked');
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
      // A sign-in abandoned at the issuer: the next visit without an answer clears it.
      await page.evaluate(pending);
      await page.goto(dev.portalUrl);
      await poll(() => page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
    });
  },
);
