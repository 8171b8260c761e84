/**
 * The developer portal page: sign in with OIDC (authorization code + PKCE S256, state, nonce; a public client),
 * then list, create, rotate and revoke the signed-in consumer's own keys through the key API on the same origin.
 *
 * - Tokens live in this module's memory only: never in localStorage, sessionStorage or cookies. A reload asks to
 *   sign in again. Only the sign-in transaction (PKCE verifier, state, nonce) rides sessionStorage across the
 *   redirect to the issuer, and is removed the moment the page comes back, before the code is redeemed.
 * - Every text is set with textContent (no innerHTML): nothing the API or the issuer returns becomes markup.
 * - The page has no powers of its own: the key API decides what the token may grant (token scopes + entitlements).
 */

import type { PortalConfig } from '../portal-config';

interface PublicKey {
  id: string;
  start: string;
  name: string;
  scopes: string[];
  entitledScopes?: string[];
  status: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt?: string;
  rotatedTo?: string;
}

interface Consumer {
  sub: string;
  plan: string | null;
  assigned: boolean;
  usage: { date: string; used: number; remaining: number | null } | null;
  entitledScopes: string[];
}

interface Session {
  accessToken: string;
  sub: string;
  expiresAtMs: number;
  /** The access token's scopes, without the issuer's scope prefix: what the key API will see. */
  scopes: string[];
}

/** The in-flight sign-in: the only thing the page ever stores, and only between the redirect and its return. */
interface SignInTransaction {
  verifier: string;
  state: string;
  nonce: string;
  /** When the sign-in started (ms): an answer after TRANSACTION_TTL_MS is refused and the transaction dropped. */
  startedAtMs: number;
}

/** How long a started sign-in may take at the issuer. */
const TRANSACTION_TTL_MS = 10 * 60_000;

/**
 * The issuer's `error` codes (RFC 6749 §4.1.2.1, OIDC Core 3.1.2.6) in our own words: the page never shows the
 * answer's `error_description`, which anyone can put in a link to the portal.
 */
const SIGN_IN_ERRORS: Readonly<Record<string, string>> = {
  access_denied: 'Sign-in was cancelled or refused.',
  login_required: 'Sign in again.',
  interaction_required: 'Sign in again.',
  consent_required: 'Sign in again, and allow the portal.',
  invalid_scope: 'The sign-in service refused the permissions the portal asks for. Tell the API’s operator.',
  unauthorized_client: 'The sign-in service does not accept this portal. Tell the API’s operator.',
  invalid_request: 'The sign-in service refused the request. Tell the API’s operator.',
  unsupported_response_type: 'The sign-in service refused the request. Tell the API’s operator.',
  server_error: 'The sign-in service failed. Try again later.',
  temporarily_unavailable: 'The sign-in service is unavailable. Try again later.',
};

const TRANSACTION_KEY = 'dualgate.portal.signin';
const EXPIRY_CHOICES: readonly [string, number | null][] = [
  ['Never', null],
  ['1 day', 86_400],
  ['7 days', 7 * 86_400],
  ['30 days', 30 * 86_400],
  ['90 days', 90 * 86_400],
];
const GRACE_CHOICES: readonly [string, number][] = [
  ['None: the old key stops now', 0],
  ['1 hour', 3_600],
  ['24 hours', 86_400],
  ['7 days', 7 * 86_400],
];

const pageUrl = new URL('.', window.location.href);
const redirectUri = pageUrl.href;
let config: PortalConfig;
let session: Session | undefined;
let consumer: Consumer | undefined;
let keys: PublicKey[] = [];
/** The plaintext of a key just created or rotated: shown once, gone with the page. */
let revealed: { name: string; key: string } | undefined;
/** What the create form held when it was last submitted: a refused request leaves it filled in, to correct. */
let draft: { name: string; scopes: string[]; expiresIn: string } | undefined;
/** Move focus to the Name box on the next render (after Create key). */
let focusName = false;
/** Whether the create form is open: open after sign-in, closed while a new key is shown or after Cancel. */
let creating = true;

// ---------- small DOM helpers ----------

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

function button(
  label: string,
  onClick: () => void | Promise<void>,
  className?: string,
  type: 'button' | 'submit' = 'button',
): HTMLButtonElement {
  const element = h('button', { type, ...(className ? { class: className } : {}) }, label);
  if (type === 'button') element.addEventListener('click', () => void run(onClick));
  return element;
}

const byId = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;

function showError(message: string): void {
  byId('error').textContent = message;
}

function showStatus(message: string): void {
  byId('status').textContent = message;
}

/** Run an action: clear the last error, show a new one as text (never a blank screen), re-render. */
async function run(action: () => void | Promise<void>): Promise<void> {
  showError('');
  try {
    await action();
  } catch (error) {
    showError(error instanceof Error ? error.message : String(error));
  }
  render();
}

// ---------- base64url, PKCE, JWT payloads ----------

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomToken(byteCount = 32): string {
  const bytes = new Uint8Array(byteCount);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** A JWT's claims, unverified: the token came straight from the token endpoint over TLS (OIDC Core 3.1.3.7). */
function claimsOf(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1];
  if (!payload) throw new Error('The issuer returned a token that is not a JWT.');
  const padded = payload
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(payload.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

// ---------- HTTP ----------

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  429: 'Too many requests',
  503: 'Unavailable',
};

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { message: text.slice(0, 300) };
  }
}

/** A key API call with the signed-in token; a failure becomes an Error whose message is fit to show. */
async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  if (!session) throw new Error('Sign in first.');
  if (Date.now() >= session.expiresAtMs) {
    session = undefined;
    throw new Error('Your session has expired: sign in again.');
  }
  let response: Response;
  try {
    response = await fetch(new URL(path.slice(1), new URL('../', pageUrl)), {
      method,
      headers: { authorization: `Bearer ${session.accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new Error('Could not reach the API: check your connection and try again.');
  }
  const payload = await readJson(response);
  if (!response.ok) {
    const message =
      typeof (payload as { message?: unknown })?.message === 'string' ? (payload as { message: string }).message : 'no details';
    if (response.status === 401) session = undefined;
    throw new Error(`${response.status} ${STATUS_TEXT[response.status] ?? 'Error'}: ${message}`);
  }
  return payload as T;
}

// ---------- sign-in ----------

/** The issuer's endpoints: always in config.json (given, or found by the portal function's discovery at cold start). */
function endpoints(): { authorization: string; token: string } {
  if (config.authorizationEndpoint && config.tokenEndpoint)
    return { authorization: config.authorizationEndpoint, token: config.tokenEndpoint };
  throw new Error(`The portal does not know the sign-in service's endpoints (${config.issuer}). Tell the API's operator.`);
}

async function signIn(): Promise<void> {
  const { authorization } = endpoints();
  const transaction: SignInTransaction = {
    verifier: randomToken(32),
    state: randomToken(16),
    nonce: randomToken(16),
    startedAtMs: Date.now(),
  };
  sessionStorage.setItem(TRANSACTION_KEY, JSON.stringify(transaction));
  const url = new URL(authorization);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri,
    scope: config.scopes.join(' '),
    state: transaction.state,
    nonce: transaction.nonce,
    code_challenge: await s256(transaction.verifier),
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.href);
}

/** The sign-in started in this tab, if any (undefined for a missing, unreadable or expired one, which is dropped). */
function pendingTransaction(): SignInTransaction | undefined {
  let transaction: Partial<SignInTransaction> | undefined;
  try {
    transaction = JSON.parse(sessionStorage.getItem(TRANSACTION_KEY) ?? 'null') as Partial<SignInTransaction> | undefined;
  } catch {
    transaction = undefined;
  }
  const fresh = typeof transaction?.startedAtMs === 'number' && Date.now() - transaction.startedAtMs < TRANSACTION_TTL_MS;
  if (
    !transaction ||
    !fresh ||
    typeof transaction.state !== 'string' ||
    typeof transaction.verifier !== 'string' ||
    typeof transaction.nonce !== 'string'
  ) {
    sessionStorage.removeItem(TRANSACTION_KEY);
    return undefined;
  }
  return transaction as SignInTransaction;
}

/**
 * Back from the issuer: check state first, then the answer (an error in our own words), redeem the code with the
 * verifier, check the id token's iss, aud and nonce. An answer whose state matches no sign-in started here was not
 * asked for (a crafted link): an error is ignored, a code refused, and a sign-in still in progress is left alone.
 */
async function completeSignIn(params: URLSearchParams): Promise<void> {
  // The code must not stay in the address bar or the history.
  window.history.replaceState(null, '', redirectUri);
  const pending = pendingTransaction();
  const error = params.get('error');
  if (!pending || params.get('state') !== pending.state) {
    if (error !== null) return;
    throw new Error('Sign-in failed: the answer does not match a sign-in started here. Sign in again.');
  }
  sessionStorage.removeItem(TRANSACTION_KEY);
  const transaction = pending;
  if (error !== null)
    throw new Error(`Sign-in failed: ${SIGN_IN_ERRORS[error] ?? 'the sign-in service refused. Try again, or tell the API’s operator.'}`);
  const { token } = endpoints();
  let response: Response;
  try {
    response = await fetch(token, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code') ?? '',
        redirect_uri: redirectUri,
        client_id: config.clientId,
        code_verifier: transaction.verifier,
      }),
      credentials: 'omit',
    });
  } catch {
    throw new Error('Sign-in failed: could not reach the token endpoint.');
  }
  const tokens = (await readJson(response)) as
    | { access_token?: unknown; id_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown }
    | undefined;
  if (!response.ok || typeof tokens?.access_token !== 'string' || typeof tokens.id_token !== 'string') {
    throw new Error(`Sign-in failed: ${String(tokens?.error_description ?? tokens?.error ?? response.status)}`);
  }
  const id = claimsOf(tokens.id_token);
  const audiences = Array.isArray(id['aud']) ? id['aud'] : [id['aud']];
  if (id['iss'] !== config.issuer || !audiences.includes(config.clientId) || id['nonce'] !== transaction.nonce)
    throw new Error('Sign-in failed: the id token is not for this portal (issuer, audience or nonce).');
  const access = claimsOf(tokens.access_token);
  const sub = typeof access['sub'] === 'string' ? access['sub'] : undefined;
  if (!sub || sub !== id['sub']) throw new Error('Sign-in failed: the tokens name different users.');
  const expSeconds = typeof access['exp'] === 'number' ? access['exp'] : Date.now() / 1000 + Number(tokens.expires_in ?? 300);
  const claimed =
    typeof access['scope'] === 'string' ? access['scope'].split(' ') : Array.isArray(access['scp']) ? access['scp'].map(String) : [];
  const prefix = config.scopePrefix ?? '';
  const scopes = claimed.filter((scope) => scope.startsWith(prefix)).map((scope) => scope.slice(prefix.length));
  session = { accessToken: tokens.access_token, sub, expiresAtMs: expSeconds * 1000, scopes };
}

function signOut(): void {
  session = undefined;
  inspected = undefined;
  consumer = undefined;
  keys = [];
  revealed = undefined;
  creating = true;
  showStatus('You are signed out. Your keys keep working until they expire or are revoked.');
  // Cognito's hosted UI keeps its own session: end it too, or the next sign-in would skip the password.
  if (config.logoutEndpoint) {
    const url = new URL(config.logoutEndpoint);
    url.search = new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri }).toString();
    window.location.assign(url.href);
  }
}

// ---------- data ----------

async function refresh(): Promise<void> {
  if (!session) return;
  const sub = session.sub;
  const [me, page] = await Promise.all([
    api<Consumer>('GET', `${config.consumersPath}/${encodeURIComponent(sub)}`),
    api<{ items: PublicKey[]; nextCursor: string | null }>('GET', `${config.keysPath}?limit=100`),
  ]);
  consumer = me;
  const all = [...page.items];
  let cursor = page.nextCursor;
  // A consumer with very many keys: the first thousand are enough for one page.
  for (let pages = 1; cursor && pages < 10; pages++) {
    const next = await api<{ items: PublicKey[]; nextCursor: string | null }>(
      'GET',
      `${config.keysPath}?limit=100&cursor=${encodeURIComponent(cursor)}`,
    );
    all.push(...next.items);
    cursor = next.nextCursor;
  }
  keys = all;
}

async function createKey(form: HTMLFormElement): Promise<void> {
  const data = new FormData(form);
  const name = String(data.get('name') ?? '').trim();
  if (name === '') throw new Error('Give the key a name.');
  const scopes = data.getAll('scope').map(String);
  const expiresIn = Number(data.get('expiresIn'));
  draft = { name, scopes, expiresIn: String(data.get('expiresIn') ?? '0') };
  const created = await api<PublicKey & { key: string }>('POST', config.keysPath, {
    name,
    scopes,
    ...(expiresIn > 0 ? { expiresIn } : {}),
  });
  revealed = { name: created.name, key: created.key };
  creating = false;
  draft = undefined;
  showStatus(`Key "${created.name}" created. Copy it now: it is shown only once.`);
  await refresh();
}

async function rotateKey(key: PublicKey): Promise<void> {
  const grace = Number((document.getElementById('grace') as HTMLSelectElement | null)?.value ?? 86_400);
  const graceText = GRACE_CHOICES.find(([, seconds]) => seconds === grace)?.[0] ?? `${grace} seconds`;
  if (!window.confirm(`Rotate key "${key.name}"? You get a new key; the old one keeps working for: ${graceText}.`)) return;
  const rotated = await api<PublicKey & { key: string }>('POST', `${config.keysPath}/${encodeURIComponent(key.id)}/rotate`, {
    gracePeriodSeconds: grace,
  });
  revealed = { name: rotated.name, key: rotated.key };
  showStatus(`Key "${key.name}" rotated. Copy the new key now: it is shown only once.`);
  await refresh();
}

async function revokeKey(key: PublicKey): Promise<void> {
  if (!window.confirm(`Revoke key "${key.name}" (${key.start}…)? Requests made with it will be refused. This cannot be undone.`)) return;
  await api<unknown>('DELETE', `${config.keysPath}/${encodeURIComponent(key.id)}`);
  showStatus(`Key "${key.name}" revoked.`);
  await refresh();
}

async function copyKey(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    showStatus('Key copied to the clipboard.');
  } catch {
    showStatus('Copying is not allowed here: select the key and copy it by hand.');
  }
}

// ---------- rendering ----------

function when(iso: string | null | undefined, none: string): string {
  if (!iso) return none;
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function accountBar(): HTMLElement {
  if (!session) return h('span', { class: 'muted' }, 'Not signed in');
  return h('div', { class: 'row' }, h('span', {}, 'Signed in as ', h('strong', {}, session.sub)), button('Sign out', signOut, 'secondary'));
}

function signedOutView(): HTMLElement {
  return h(
    'section',
    { 'aria-labelledby': 'signin-heading' },
    h('h2', { id: 'signin-heading' }, 'Sign in'),
    h('p', {}, 'Sign in to create, rotate and revoke the API keys of your account.'),
    button('Sign in', signIn),
  );
}

function accountSection(): HTMLElement {
  const facts = h('dl', { class: 'facts' }, h('dt', {}, 'Subject (sub)'), h('dd', {}, h('code', {}, session?.sub ?? '')));
  if (consumer && config.plans) {
    facts.append(
      h('dt', {}, 'Plan'),
      h('dd', {}, consumer.plan === null ? 'none (shared limits)' : `${consumer.plan}${consumer.assigned ? '' : ' (default, shared)'}`),
    );
    if (consumer.usage) {
      const left = consumer.usage.remaining === null ? '' : `, ${consumer.usage.remaining} left in the quota`;
      facts.append(h('dt', {}, 'Usage today'), h('dd', {}, `${consumer.usage.used} requests on ${consumer.usage.date}${left}`));
    }
  }
  facts.append(
    h('dt', {}, 'Scopes you may grant'),
    h('dd', {}, consumer && consumer.entitledScopes.length > 0 ? consumer.entitledScopes.join(', ') : 'none yet: ask the API owner'),
  );
  return h('section', { 'aria-labelledby': 'account-heading' }, h('h2', { id: 'account-heading' }, 'Your account'), facts);
}

function createForm(): HTMLElement {
  const entitled = consumer?.entitledScopes ?? [];
  const form = h('form', { 'aria-labelledby': 'create-heading', class: 'panel' });
  const scopeBoxes = entitled.map((scope, index) =>
    h(
      'label',
      {},
      h('input', { type: 'checkbox', name: 'scope', value: scope, id: `scope-${index}`, checked: draft?.scopes.includes(scope) ?? false }),
      scope,
    ),
  );
  const expiry = h(
    'select',
    { name: 'expiresIn', id: 'expires' },
    ...EXPIRY_CHOICES.map(([label, seconds]) =>
      h('option', { value: String(seconds ?? 0), selected: draft?.expiresIn === String(seconds ?? 0) }, label),
    ),
  );
  form.append(
    h('h3', { id: 'create-heading' }, 'New key'),
    h(
      'div',
      { class: 'row' },
      h('label', { for: 'key-name' }, 'Name'),
      h('input', {
        type: 'text',
        id: 'key-name',
        name: 'name',
        required: true,
        maxlength: '128',
        autocomplete: 'off',
        value: draft?.name ?? '',
      }),
    ),
    entitled.length > 0
      ? h('fieldset', {}, h('legend', {}, 'Scopes'), ...scopeBoxes)
      : h('p', { class: 'muted' }, 'You are not entitled to any scope yet: a key without scopes can call only routes that need none.'),
    h('div', { class: 'row' }, h('label', { for: 'expires' }, 'Expires'), expiry),
    h(
      'div',
      { class: 'row' },
      button('Create', () => undefined, undefined, 'submit'),
      button(
        'Cancel',
        () => {
          creating = false;
          draft = undefined;
        },
        'secondary',
      ),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(() => createKey(form));
  });
  return form;
}

function revealedPanel(secret: { name: string; key: string }): HTMLElement {
  return h(
    'div',
    { class: 'panel', role: 'region', 'aria-labelledby': 'revealed-heading' },
    h('h3', { id: 'revealed-heading' }, `Your new key "${secret.name}"`),
    h('p', {}, 'Copy it now and keep it secret: it is shown only once, and is gone when you leave or reload this page.'),
    h('code', { class: 'secret', id: 'new-key' }, secret.key),
    h(
      'div',
      { class: 'row' },
      button('Copy', () => copyKey(secret.key)),
      button(
        'Done',
        () => {
          revealed = undefined;
        },
        'secondary',
      ),
    ),
  );
}

function keyRow(key: PublicKey): HTMLTableRowElement {
  const live = key.status === 'active' && key.rotatedTo === undefined;
  const status = key.rotatedTo !== undefined && key.status === 'active' ? 'rotated (grace period)' : key.status;
  const lapsed = (key.entitledScopes ?? []).filter((scope) => !(consumer?.entitledScopes ?? []).includes(scope));
  const scopes =
    key.scopes.length === 0
      ? 'none'
      : key.scopes.map((scope) => (lapsed.includes(scope) ? `${scope} (no longer entitled)` : scope)).join(', ');
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, key.name),
    h('td', {}, h('code', {}, `${key.start}…`)),
    h('td', {}, scopes),
    h('td', {}, when(key.createdAt, '')),
    h('td', {}, when(key.expiresAt, 'never')),
    h('td', {}, when(key.lastUsedAt, 'never')),
    h('td', {}, status),
    h(
      'td',
      { class: 'actions' },
      live ? button('Rotate', () => rotateKey(key), 'secondary') : null,
      live ? button('Revoke', () => revokeKey(key), 'danger') : null,
    ),
  );
}

function keysSection(): HTMLElement {
  const section = h('section', { 'aria-labelledby': 'keys-heading' }, h('h2', { id: 'keys-heading' }, 'Your keys'));
  // Opens the form (or, when it is open, takes the user to it): never closes it, so pressing it twice is harmless.
  const open = button('Create key', () => {
    creating = true;
    revealed = undefined;
    focusName = true;
  });
  section.append(h('div', { class: 'row' }, open));
  if (creating) section.append(createForm());
  if (revealed) section.append(revealedPanel(revealed));
  const grace = h(
    'select',
    { id: 'grace' },
    ...GRACE_CHOICES.map(([label, seconds]) =>
      h('option', { value: String(seconds), ...(seconds === 86_400 ? { selected: true } : {}) }, label),
    ),
  );
  section.append(h('div', { class: 'row' }, h('label', { for: 'grace' }, 'When rotating, the old key keeps working for'), grace));
  if (keys.length === 0) {
    section.append(h('p', {}, 'You have no keys yet.'));
    return section;
  }
  const header = ['Name', 'Key', 'Scopes', 'Created', 'Expires', 'Last used', 'Status', 'Actions'].map((title) =>
    h('th', { scope: 'col' }, title),
  );
  section.append(
    h(
      'table',
      {},
      h('caption', {}, 'API keys of your account'),
      h('thead', {}, h('tr', {}, ...header)),
      h('tbody', {}, ...keys.map(keyRow)),
    ),
  );
  return section;
}

/** Admin only (a token with the admin scope): one consumer's plan and entitlements, looked up and changed. */
let inspected: (Consumer & { scopes: string[]; defaultScopes: string[] }) | undefined;

async function lookUpConsumer(form: HTMLFormElement): Promise<void> {
  const sub = String(new FormData(form).get('sub') ?? '').trim();
  if (sub === '') throw new Error("Give the consumer's sub.");
  inspected = await api('GET', `${config.consumersPath}/${encodeURIComponent(sub)}`);
}

async function saveConsumer(form: HTMLFormElement): Promise<void> {
  if (!inspected) return;
  const data = new FormData(form);
  const scopes = String(data.get('entitlements') ?? '')
    .split(/[\s,]+/)
    .filter((scope) => scope.length > 0);
  const plan = String(data.get('plan') ?? '').trim();
  const changePlan = config.plans && plan !== '' && plan !== (inspected.assigned ? inspected.plan : '');
  inspected = await api('PUT', `${config.consumersPath}/${encodeURIComponent(inspected.sub)}`, { scopes, ...(changePlan ? { plan } : {}) });
  showStatus(`Consumer "${inspected?.sub ?? ''}" saved: it may grant ${inspected?.entitledScopes.join(', ') || 'no scope'}.`);
  if (inspected?.sub === session?.sub) await refresh();
}

function adminSection(): HTMLElement {
  const section = h('section', { 'aria-labelledby': 'admin-heading' }, h('h2', { id: 'admin-heading' }, 'Consumers'));
  const lookUp = h(
    'form',
    { 'aria-label': 'Look up a consumer', class: 'row' },
    h('label', { for: 'consumer-sub' }, 'Consumer'),
    h('input', { type: 'text', id: 'consumer-sub', name: 'sub', required: true, autocomplete: 'off', value: inspected?.sub ?? '' }),
    button('Look up', () => undefined, 'secondary', 'submit'),
  );
  lookUp.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(() => lookUpConsumer(lookUp));
  });
  section.append(lookUp);
  if (!inspected) return section;
  const edit = h(
    'form',
    { 'aria-label': `Consumer ${inspected.sub}`, class: 'panel' },
    h(
      'p',
      {},
      'Everyone may grant: ',
      inspected.defaultScopes.join(', ') || 'nothing',
      '. Removing a scope here takes it, within the revocation bound, off the keys that hold it through this entitlement (those the consumer granted itself beyond its token); keys an admin granted it keep their scopes: narrow or revoke those by hand.',
    ),
    h(
      'div',
      { class: 'row' },
      h('label', { for: 'entitlements' }, 'Entitled scopes'),
      h('input', { type: 'text', id: 'entitlements', name: 'entitlements', autocomplete: 'off', value: inspected.scopes.join(' ') }),
    ),
    config.plans
      ? h(
          'div',
          { class: 'row' },
          h('label', { for: 'plan' }, 'Plan'),
          h('input', {
            type: 'text',
            id: 'plan',
            name: 'plan',
            autocomplete: 'off',
            value: inspected.assigned && inspected.plan ? inspected.plan : '',
          }),
          h('span', { class: 'muted' }, inspected.usage ? `${inspected.usage.used} requests today` : 'default plan'),
        )
      : null,
    h(
      'div',
      { class: 'row' },
      button('Save', () => undefined, undefined, 'submit'),
    ),
  );
  edit.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(() => saveConsumer(edit));
  });
  section.append(edit);
  return section;
}

/** Draw the whole page from state, keeping focus on the control the user was on where it still exists. */
function render(): void {
  const focused = document.activeElement;
  const focusKey = focused instanceof HTMLElement ? focused.id || focused.textContent || '' : '';
  byId('account-bar').replaceChildren(accountBar());
  const view = byId('view');
  view.replaceChildren(
    ...(session
      ? [accountSection(), keysSection(), ...(session.scopes.includes(config.adminScope) ? [adminSection()] : [])]
      : [signedOutView()]),
  );
  if (creating && focusName) {
    focusName = false;
    (document.getElementById('key-name') as HTMLInputElement | null)?.focus();
    return;
  }
  const again =
    focusKey === ''
      ? undefined
      : [...view.querySelectorAll<HTMLElement>('button, input, select')].find(
          (element) => (element.id || element.textContent || '') === focusKey,
        );
  if (revealed) (view.querySelector('.panel button') as HTMLElement | null)?.focus();
  else again?.focus();
}

async function start(): Promise<void> {
  const response = await fetch(new URL('config.json', pageUrl), { credentials: 'omit', cache: 'no-store' });
  config = (await response.json()) as PortalConfig;
  const params = new URLSearchParams(window.location.search);
  if (params.has('code') || params.has('error')) {
    await completeSignIn(params);
    await refresh();
  } else {
    // No answer from the issuer: a sign-in abandoned there leaves nothing behind (verifier, state, nonce).
    sessionStorage.removeItem(TRANSACTION_KEY);
  }
}

void run(start);
