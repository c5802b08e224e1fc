import { describe, expect, it } from 'vitest';
import { auditEventsOf, signUp, startTestApp } from '../../../test/app.js';
import {
  InjectBrowser,
  type TestClient,
  authorizeUrl,
  locationParams,
  pkce,
  registerClient,
} from '../../../test/oidc-pages.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';

// The authorization code flow through the pages, at inject level: sign-in, consent, SSO and
// the prompts. OpenID "Basic OP" modules named where they apply.
const { app, deps, clock } = await startTestApp();

/** Signs in at /login for the request `start` led to; answers the response after the POST. */
async function signInThrough(
  browser: InjectBrowser,
  start: Awaited<ReturnType<InjectBrowser['get']>>,
  email: string,
  password: string,
) {
  expect(start.statusCode).toBe(303);
  const loginUrl = String(start.headers['location']);
  expect(loginUrl).toMatch(/^\/login\?request=/);
  const page = await browser.get(loginUrl);
  expect(page.statusCode).toBe(200);
  return browser.submit(page, '/login', { email, password });
}

async function allowConsent(browser: InjectBrowser, consentUrl: string) {
  const page = await browser.get(consentUrl);
  expect(page.statusCode).toBe(200);
  return browser.submit(page, '/consent', { decision: 'allow' });
}

/** A fresh user signed in (with consent given) for `client`; answers the code redirect. */
async function signedIn(client: TestClient, browser = new InjectBrowser(app)) {
  const { email, password, user } = await signUp(app);
  const { challenge } = pkce();
  const start = await browser.get(authorizeUrl(client, { code_challenge: challenge }));
  const login = await signInThrough(browser, start, email, password);
  let response = login;
  if (String(response.headers['location']).startsWith('/consent'))
    response = await allowConsent(browser, String(response.headers['location']));
  return { browser, email, password, user, challenge, login, response };
}

const codeRow = (code: string) =>
  deps.db
    .selectFrom('authorization_codes')
    .selectAll()
    .where('code_hash', '=', hashOpaqueToken(code))
    .executeTakeFirstOrThrow();

describe('sign-in and consent', () => {
  it('signs in, asks consent, and redirects with code, state and iss; the code is bound', async () => {
    const client = await registerClient(deps);
    const { browser, user, challenge, login, response } = await signedIn(client);
    expect(response.statusCode).toBe(303);
    const location = String(response.headers['location']);
    expect(location.startsWith(`${client.redirect_uri}?`)).toBe(true);
    const params = locationParams(response);
    expect(params.get('state')).toBe('st-123');
    expect(params.get('iss')).toBe('http://auth.test');
    const code = params.get('code')!;
    expect(code).toMatch(/^[\w-]{43}$/);
    const row = await codeRow(code);
    const session = await deps.db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('kind', '=', 'browser')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      client_id: client.client_id,
      user_id: user.id,
      browser_session_id: session.id,
      redirect_uri: client.redirect_uri,
      code_challenge: challenge,
      nonce: 'n-456',
      scopes: ['openid', 'email'],
      resource: null,
      amr: ['pwd'],
      spent_at: null,
    });
    expect(row.auth_time.getTime()).toBe(session.auth_time!.getTime());
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(60_000);
    // The browser cookie: HttpOnly, SameSite=Lax, the browser session's life.
    const cookie = login.cookies.find((c) => c.name === 'hyperion_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 43200 });
    expect(cookie?.secure).toBeFalsy();
    expect(browser.cookies.has('hyperion_session')).toBe(true);
    expect(await auditEventsOf(deps, user.id, 'oauth.authorized')).toHaveLength(1);
    const consentRows = await deps.db.selectFrom('oauth_consents').selectAll().execute();
    expect(consentRows.some((r) => r.user_id === user.id)).toBe(true);
  });

  it('consent is remembered: the next request gets a code at once (SSO, no password)', async () => {
    const client = await registerClient(deps);
    const { browser } = await signedIn(client);
    const again = await browser.get(authorizeUrl(client));
    expect(again.statusCode).toBe(302);
    expect(locationParams(again).get('code')).toEqual(expect.any(String));
    // oidcc-prompt-none-logged-in
    const silent = await browser.get(authorizeUrl(client, { prompt: 'none' }));
    expect(locationParams(silent).get('code')).toEqual(expect.any(String));
    // Asking for more than was granted asks again.
    const more = await browser.get(authorizeUrl(client, { scope: 'openid email profile' }));
    expect(String(more.headers['location'])).toMatch(/^\/consent\?request=/);
  });

  it('a second client: no password, only its own consent', async () => {
    const first = await registerClient(deps);
    const second = await registerClient(deps);
    const { browser } = await signedIn(first);
    const start = await browser.get(authorizeUrl(second));
    expect(String(start.headers['location'])).toMatch(/^\/consent\?request=/);
    const none = await browser.get(authorizeUrl(second, { prompt: 'none' }));
    expect(locationParams(none).get('error')).toBe('consent_required');
    expect(locationParams(none).get('iss')).toBe('http://auth.test');
    const done = await allowConsent(browser, String(start.headers['location']));
    expect(locationParams(done).get('code')).toEqual(expect.any(String));
  });

  it('prompt=consent asks again even when consent was given', async () => {
    const client = await registerClient(deps);
    const { browser } = await signedIn(client);
    const start = await browser.get(authorizeUrl(client, { prompt: 'consent' }));
    expect(String(start.headers['location'])).toMatch(/^\/consent\?request=/);
    const done = await allowConsent(browser, String(start.headers['location']));
    expect(locationParams(done).get('code')).toEqual(expect.any(String));
  });

  it('a first-party client skips consent', async () => {
    const client = await registerClient(deps, { firstParty: true });
    const { response } = await signedIn(client);
    expect(locationParams(response).get('code')).toEqual(expect.any(String));
    const rows = await deps.db
      .selectFrom('oauth_consents')
      .selectAll()
      .where('client_id', '=', client.client_id)
      .execute();
    expect(rows).toEqual([]);
  });

  it('deny → access_denied with state and iss; nothing remembered', async () => {
    const client = await registerClient(deps);
    const browser = new InjectBrowser(app);
    const { email, password } = await signUp(app);
    const consentStep = await signInThrough(
      browser,
      await browser.get(authorizeUrl(client)),
      email,
      password,
    );
    const page = await browser.get(String(consentStep.headers['location']));
    expect(page.body).toContain(`${'Test App'}`);
    expect(page.body).toContain('Your e-mail address and whether it is verified');
    expect(page.body).toContain('app');
    const denied = await browser.submit(page, '/consent', { decision: 'deny' });
    expect(denied.statusCode).toBe(303);
    const params = locationParams(denied);
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('state')).toBe('st-123');
    expect(params.get('iss')).toBe('http://auth.test');
    // The request is over: submitting again shows the error page.
    const twice = await browser.submit(page, '/consent', { decision: 'allow' });
    expect(twice.statusCode).toBe(400);
  });

  it('the consent page only in the browser session the request was made in', async () => {
    const client = await registerClient(deps);
    const first = await signedIn(await registerClient(deps));
    const start = await first.browser.get(authorizeUrl(client));
    const consentUrl = String(start.headers['location']);
    // Another browser (another person) opening the same link gets nothing.
    const other = new InjectBrowser(app);
    expect((await other.get(consentUrl)).statusCode).toBe(400);
  });
});

describe('prompts, max_age and id_token_hint force a new sign-in', () => {
  it('prompt=login: a new sign-in, with a later auth_time (oidcc-prompt-login)', async () => {
    const client = await registerClient(deps, { firstParty: true });
    const { browser, email, password, response } = await signedIn(client);
    const firstAuth = (await codeRow(locationParams(response).get('code')!)).auth_time;
    clock.advance(10);
    const start = await browser.get(authorizeUrl(client, { prompt: 'login' }));
    const after = await signInThrough(browser, start, email, password);
    const secondAuth = (await codeRow(locationParams(after).get('code')!)).auth_time;
    expect(secondAuth.getTime()).toBeGreaterThan(firstAuth.getTime());
  });

  it('max_age exceeded: a new sign-in (oidcc-max-age-1); within it, none', async () => {
    const client = await registerClient(deps, { firstParty: true });
    const { browser, email, password, response } = await signedIn(client);
    const firstAuth = (await codeRow(locationParams(response).get('code')!)).auth_time;
    clock.advance(120);
    const within = await browser.get(authorizeUrl(client, { max_age: '600' }));
    expect(locationParams(within).get('code')).toEqual(expect.any(String));
    const none = await browser.get(authorizeUrl(client, { max_age: '60', prompt: 'none' }));
    expect(locationParams(none).get('error')).toBe('login_required');
    const start = await browser.get(authorizeUrl(client, { max_age: '60' }));
    const after = await signInThrough(browser, start, email, password);
    const secondAuth = (await codeRow(locationParams(after).get('code')!)).auth_time;
    expect(secondAuth.getTime()).toBeGreaterThan(firstAuth.getTime());
  });

  it('an id_token_hint naming another user: sign in again (oidcc-id-token-hint)', async () => {
    const client = await registerClient(deps, { firstParty: true });
    const { browser, user } = await signedIn(client);
    const other = await signUp(app);
    const hintFor = (sub: string) =>
      deps.idTokens.sign({
        sub,
        aud: client.client_id,
        authTime: clock.now(),
        nonce: null,
        sid: 'x',
        amr: ['pwd'],
      });
    const mine = await browser.get(
      authorizeUrl(client, { id_token_hint: await hintFor(user.id), prompt: 'none' }),
    );
    expect(locationParams(mine).get('code')).toEqual(expect.any(String));
    const theirs = await hintFor(other.user.id);
    const none = await browser.get(authorizeUrl(client, { id_token_hint: theirs, prompt: 'none' }));
    expect(locationParams(none).get('error')).toBe('login_required');
    const start = await browser.get(authorizeUrl(client, { id_token_hint: theirs }));
    expect(String(start.headers['location'])).toMatch(/^\/login\?request=/);
  });

  it('a deactivated user’s browser session no longer counts', async () => {
    const client = await registerClient(deps, { firstParty: true });
    const { browser, user } = await signedIn(client);
    await deps.db
      .updateTable('users')
      .set({ is_active: false })
      .where('id', '=', user.id)
      .execute();
    const none = await browser.get(authorizeUrl(client, { prompt: 'none' }));
    expect(locationParams(none).get('error')).toBe('login_required');
  });

  it('a pending request lives 10 minutes', async () => {
    const client = await registerClient(deps);
    const browser = new InjectBrowser(app);
    const start = await browser.get(authorizeUrl(client));
    const loginUrl = String(start.headers['location']);
    clock.advance(590);
    expect((await browser.get(loginUrl)).statusCode).toBe(200);
    clock.advance(20);
    const expired = await browser.get(loginUrl);
    expect(expired.statusCode).toBe(400);
    expect(expired.body).toContain('expired');
  });

  it('login_hint prefills the e-mail address', async () => {
    const client = await registerClient(deps);
    const browser = new InjectBrowser(app);
    const start = await browser.get(authorizeUrl(client, { login_hint: 'ada@example.com' }));
    const page = await browser.get(String(start.headers['location']));
    expect(page.body).toContain('value="ada@example.com"');
  });
});
