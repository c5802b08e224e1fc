import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { signUp, startTestApp } from '../../../test/app.js';
import { InjectBrowser, fieldOf } from '../../../test/oidc-pages.js';
import { OPERATOR } from '../../lib/actor.js';
import { BROWSER_COOKIE } from './browser-cookie.js';

// OpenID Connect RP-Initiated Logout 1.0 at /oauth/logout: an app sends the browser here to
// end the sign-in, and gets it back at a URI it registered, with its state.
const { app, deps, config } = await startTestApp();

const APP = 'https://notes.example';
const client = await deps.services.oauthClients.create(
  {
    name: 'Notes <b>',
    type: 'public',
    redirect_uris: [`${APP}/callback`],
    post_logout_redirect_uris: [`${APP}/signed-out`],
  },
  OPERATOR,
);

/** A person signed in at /login (no app involved), with their browser session's id. */
async function signedInBrowser() {
  const { email, password, user } = await signUp(app);
  const browser = new InjectBrowser(app);
  const page = await browser.get('/login');
  const signedIn = await browser.submit(page, '/login', { email, password });
  expect(signedIn.statusCode).toBe(200);
  expect(browser.cookies.has(BROWSER_COOKIE)).toBe(true);
  const session = await deps.db
    .selectFrom('sessions')
    .select('id')
    .where('user_id', '=', user.id)
    .where('kind', '=', 'browser')
    .executeTakeFirstOrThrow();
  return { browser, userId: user.id, sessionId: session.id };
}

async function idTokenFor(userId: string, sid: string, audience = client.client_id) {
  return deps.idTokens.sign({
    sub: userId,
    aud: audience,
    authTime: new Date(),
    nonce: null,
    sid,
    amr: ['pwd'],
  });
}

const revokedAt = async (sessionId: string) =>
  (
    await deps.db
      .selectFrom('sessions')
      .select('revoked_at')
      .where('id', '=', sessionId)
      .executeTakeFirstOrThrow()
  ).revoked_at;

/** The end-session URL exactly as openid-client builds it for an app. */
async function endSessionUrl(params: Record<string, string>): Promise<string> {
  const metadata = {
    issuer: config.publicUrl,
    end_session_endpoint: `${config.publicUrl}/oauth/logout`,
  };
  const rp = new oidc.Configuration(metadata, client.client_id);
  // The test app's issuer is http://auth.test; openid-client wants HTTPS unless told.
  oidc.allowInsecureRequests(rp);
  const url = oidc.buildEndSessionUrl(rp, params);
  return `${url.pathname}${url.search}`;
}

describe('RP-initiated logout', () => {
  it('with the id_token_hint of the signed-in person: signs out at once and returns with state', async () => {
    const { browser, userId, sessionId } = await signedInBrowser();
    const url = await endSessionUrl({
      id_token_hint: await idTokenFor(userId, sessionId),
      post_logout_redirect_uri: `${APP}/signed-out`,
      state: 'xyz 1',
    });
    const response = await browser.get(url);
    expect(response.statusCode).toBe(303);
    expect(response.headers['location']).toBe(`${APP}/signed-out?state=xyz+1`);
    expect(await revokedAt(sessionId)).not.toBeNull();
    expect(browser.cookies.has(BROWSER_COOKIE)).toBe(false);
  });

  it('without a hint: asks first; the confirmation (CSRF-checked) signs out and returns', async () => {
    const { browser, sessionId } = await signedInBrowser();
    const page = await browser.get(
      `/oauth/logout?client_id=${client.client_id}&post_logout_redirect_uri=${encodeURIComponent(`${APP}/signed-out`)}&state=s1`,
    );
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Notes &lt;b&gt;');
    expect(page.headers['content-security-policy']).toContain(`form-action 'self' ${APP}`);
    expect(await revokedAt(sessionId)).toBeNull();
    const fields = Object.fromEntries(
      ['client_id', 'post_logout_redirect_uri', 'state', 'confirm'].map((name) => [
        name,
        fieldOf(page.body, name) ?? '',
      ]),
    );
    const forged = await browser.post('/oauth/logout', fields);
    expect(forged.statusCode).toBe(403);
    expect(await revokedAt(sessionId)).toBeNull();
    const confirmed = await browser.post('/oauth/logout', {
      ...fields,
      csrf_token: fieldOf(page.body, 'csrf_token') ?? '',
    });
    expect(confirmed.statusCode).toBe(303);
    expect(confirmed.headers['location']).toBe(`${APP}/signed-out?state=s1`);
    expect(await revokedAt(sessionId)).not.toBeNull();
  });

  it('a hint naming someone else than the signed-in person: asks, signs no one out', async () => {
    const { browser, sessionId } = await signedInBrowser();
    const other = await signedInBrowser();
    const response = await browser.get(
      await endSessionUrl({ id_token_hint: await idTokenFor(other.userId, other.sessionId) }),
    );
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('name="confirm"');
    expect(await revokedAt(sessionId)).toBeNull();
    expect(await revokedAt(other.sessionId)).toBeNull();
  });

  it.each([
    [
      'an unregistered post_logout_redirect_uri',
      { client_id: 'x', post_logout_redirect_uri: 'https://evil.example/' },
    ],
    [
      'a post_logout_redirect_uri of another app',
      { post_logout_redirect_uri: 'https://evil.example/' },
    ],
    ['a hint that is not our ID token', { id_token_hint: 'e30.e30.sig' }],
    ['an unknown client', { client_id: 'nobody' }],
  ])('refuses %s with an error page, never a redirect', async (_label, params) => {
    const { browser, sessionId } = await signedInBrowser();
    const query = new URLSearchParams(
      'client_id' in params && params.client_id === 'x'
        ? { ...params, client_id: client.client_id }
        : params,
    );
    const response = await browser.get(`/oauth/logout?${query.toString()}`);
    expect(response.statusCode).toBe(400);
    expect(response.headers['location']).toBeUndefined();
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toContain('role="alert"');
    expect(await revokedAt(sessionId)).toBeNull();
  });

  it('signed out already (no cookie) with a hint: the signed-out page, or back to the app', async () => {
    const { userId, sessionId } = await signedInBrowser();
    const stranger = new InjectBrowser(app);
    const hint = await idTokenFor(userId, sessionId);
    const page = await stranger.get(await endSessionUrl({ id_token_hint: hint }));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('You are signed out');
    // The hint's session stays: a browser without its cookie does not end it.
    expect(await revokedAt(sessionId)).toBeNull();
  });
});
