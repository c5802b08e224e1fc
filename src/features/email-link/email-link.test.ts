import { describe, expect, it } from 'vitest';
import {
  type TokenBody,
  auditEventsOf,
  json,
  signUp,
  signedInAdmin,
  startTestApp,
  uniqueEmail,
} from '../../../test/app.js';
import { enrolTotp } from '../../../test/mfa.js';
import { InjectBrowser } from '../../../test/oidc-pages.js';
import { startSmtpSink } from '../../../test/smtp.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';

// Sign-in by e-mail link through the API, on a real SMTP server: the token is read from the
// mail as a person's mail client would show it.
const sink = await startSmtpSink();
const { app, deps, clock } = await startTestApp({
  env: { SMTP_URL: sink.url, EMAIL_LINK_SIGNIN: 'true' },
});

const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });
const requestLink = (email: string) => post('/api/auth/email-link/request', { email });
const verify = (token: string) => post('/api/auth/email-link/verify', { token });
const tokenFrom = (text: string) => /#token=([A-Za-z0-9_-]+)/.exec(text)?.[1];

/** The newest sign-in mail to this address after `seen` of them, and its token. */
async function linkMail(email: string, seen = 0) {
  const mail = await sink.waitForMail(
    (m) =>
      m.to === email.toLowerCase() &&
      /sign-in link/.test(m.subject) &&
      sink
        .mailTo(email.toLowerCase())
        .filter((x) => /sign-in link/.test(x.subject))
        .indexOf(m) >= seen,
    10_000,
  );
  const token = tokenFrom(mail.text);
  expect(token).toBeDefined();
  expect(mail.text).toContain(`${deps.config.publicUrl}/account/email-signin#token=${token}`);
  return token!;
}

const linkMailsTo = (email: string) =>
  sink.mailTo(email.toLowerCase()).filter((m) => /sign-in link/.test(m.subject));

const me = (tokens: { access_token: string }) =>
  app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });

describe('sign-in by e-mail link (API)', () => {
  it('request → mail → verify gives a working token pair, audited with the method', async () => {
    const { email, user } = await signUp(app);
    const requested = await requestLink(email.toUpperCase());
    expect(requested.statusCode).toBe(202);
    expect(json(requested)).toEqual({ status: 'accepted' });
    const token = await linkMail(email);
    // Stored only as its SHA-256.
    const rows = await deps.db
      .selectFrom('email_tokens')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('purpose', '=', 'email_signin')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(hashOpaqueToken(token));
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows[0]!.binding_hash).toBeNull();
    expect(rows[0]!.expires_at.getTime() - rows[0]!.created_at.getTime()).toBe(15 * 60_000);

    const verified = await verify(token);
    expect(verified.statusCode).toBe(200);
    expect(verified.headers['cache-control']).toBe('no-store');
    const tokens = json<TokenBody>(verified);
    expect(tokens).toMatchObject({ token_type: 'bearer', user: { id: user.id, email } });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect((await me(tokens)).statusCode).toBe(200);
    const refreshed = await post('/api/auth/refresh', { refresh_token: tokens.refresh_token });
    expect(refreshed.statusCode).toBe(200);
    const signins = await auditEventsOf(deps, user.id, 'user.signin');
    expect(signins.at(-1)?.data).toMatchObject({ method: 'email_link' });
  });

  it('works once', async () => {
    const { email } = await signUp(app);
    await requestLink(email);
    const token = await linkMail(email);
    expect((await verify(token)).statusCode).toBe(200);
    const again = await verify(token);
    expect(again.statusCode).toBe(400);
    expect(json(again)['code']).toBe('invalid_token');
  });

  it('answers an unknown address 202 too, and sends nothing', async () => {
    const ghost = uniqueEmail('ghost');
    const { email } = await signUp(app);
    const unknown = await requestLink(ghost);
    const known = await requestLink(email);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);
    await linkMail(email);
    const queued = await deps.db
      .selectFrom('mail_outbox')
      .select('id')
      .where('recipient', '=', ghost)
      .execute();
    expect(queued).toEqual([]);
    expect(sink.mailTo(ghost)).toEqual([]);
  });

  it('expires after 15 minutes', async () => {
    const { email } = await signUp(app);
    await requestLink(email);
    const token = await linkMail(email);
    clock.advance(15 * 60);
    const late = await verify(token);
    expect(late.statusCode).toBe(400);
    expect(json(late)['code']).toBe('invalid_token');
  });

  it('a newer link spends the older one', async () => {
    const { email } = await signUp(app);
    await requestLink(email);
    const first = await linkMail(email);
    await requestLink(email);
    const second = await linkMail(email, 1);
    expect(second).not.toBe(first);
    expect(json(await verify(first))['code']).toBe('invalid_token');
    expect((await verify(second)).statusCode).toBe(200);
  });

  it('asks a user with MFA for the second factor, which then signs them in', async () => {
    const { email, user } = await signUp(app);
    const signedIn = await post('/api/auth/signin', { email, password: 'violet-Harbor-917-quiet' });
    const auth = { authorization: `Bearer ${json<TokenBody>(signedIn).access_token}` };
    const code = await enrolTotp(app, clock, auth);
    await requestLink(email);
    const token = await linkMail(email);
    const sessionsBefore = await deps.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    const first = await verify(token);
    expect(first.statusCode).toBe(200);
    const challenge = json<{ mfa_required: boolean; mfa_token: string; factors: string[] }>(first);
    expect(challenge).toMatchObject({ mfa_required: true, mfa_token: expect.any(String) });
    expect(challenge.factors).toContain('totp');
    expect(json(first)['access_token']).toBeUndefined();
    // Nothing opened before the second factor.
    const sessionsAfter = await deps.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    expect(sessionsAfter).toHaveLength(sessionsBefore.length);
    clock.advance(30);
    const second = await post('/api/auth/mfa/verify', {
      mfa_token: challenge.mfa_token,
      code: await code(),
    });
    expect(second.statusCode).toBe(200);
    expect(json(second)['access_token']).toEqual(expect.any(String));
    // The sign-in began with the link, not a password: so say its record and its methods.
    const signins = await auditEventsOf(deps, user.id, 'user.signin');
    expect(signins.at(-1)?.data).toMatchObject({
      method: 'email_link',
      mfa: 'totp',
      amr: ['otp', 'mfa'],
    });
  });

  it('refuses a disabled account: no mail for a request, 403 for a link sent before, unspent', async () => {
    const admin = await signedInAdmin(app, deps);
    const { email, user } = await signUp(app);
    await requestLink(email);
    const token = await linkMail(email);
    const setActive = (is_active: boolean) =>
      app.inject({
        method: 'PATCH',
        url: `/api/admin/users/${user.id}`,
        headers: admin.auth,
        payload: { is_active },
      });
    expect((await setActive(false)).statusCode).toBe(200);
    const refused = await verify(token);
    expect(refused.statusCode).toBe(403);
    expect(json(refused)['code']).toBe('account_disabled');
    const failures = await auditEventsOf(deps, user.id, 'user.signin_failed');
    expect(failures.at(-1)?.data).toMatchObject({ reason: 'account_disabled' });

    expect((await requestLink(email)).statusCode).toBe(202);
    const other = uniqueEmail('after');
    await signUp(app, { email: other });
    await requestLink(other);
    await linkMail(other);
    expect(linkMailsTo(email)).toHaveLength(1);

    // The refusal spent nothing: enabled again, the link still works.
    expect((await setActive(true)).statusCode).toBe(200);
    expect((await verify(token)).statusCode).toBe(200);
  });

  it('proves the address: an unverified account becomes verified', async () => {
    const { email, user } = await signUp(app);
    const before = await deps.db
      .selectFrom('users')
      .select('email_verified')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(before.email_verified).toBe(false);
    await requestLink(email);
    const tokens = json<TokenBody & { user: { email_verified: boolean } }>(
      await verify(await linkMail(email)),
    );
    expect(tokens.user.email_verified).toBe(true);
    expect(json(await me(tokens))['email_verified']).toBe(true);
    expect(await auditEventsOf(deps, user.id, 'email.verified')).toHaveLength(1);
  });

  it('refuses a token that names nothing', async () => {
    const response = await verify('x'.repeat(43));
    expect(response.statusCode).toBe(400);
    expect(json(response)['code']).toBe('invalid_token');
  });

  it('GET of the link page signs no one in (a mail scanner fetching it spends nothing)', async () => {
    const { email, user } = await signUp(app);
    await requestLink(email);
    const token = await linkMail(email);
    const page = await app.inject({ method: 'GET', url: `/account/email-signin#token=${token}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const sessions = await deps.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    expect(sessions).toEqual([]);
    // Still usable.
    expect((await verify(token)).statusCode).toBe(200);
  });
});

describe('EMAIL_LINK_SIGNIN off (the default)', async () => {
  const off = await startTestApp({ env: { SMTP_URL: sink.url } });

  it('answers 404 at both endpoints and at the pages, and /login offers no link', async () => {
    for (const url of ['/api/auth/email-link/request', '/api/auth/email-link/verify']) {
      const response = await off.app.inject({
        method: 'POST',
        url,
        payload: url.endsWith('request') ? { email: 'a@example.com' } : { token: 'x' },
      });
      expect(response.statusCode, url).toBe(404);
      expect(json(response)['code']).toBe('not_found');
    }
    for (const url of ['/login/email-link', '/account/email-signin'])
      expect((await off.app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    const login = await off.app.inject({ method: 'GET', url: '/login' });
    expect(login.body).not.toContain('E-mail me a sign-in link');
  });
});

describe('rate limits (RATE_LIMIT on)', async () => {
  const limited = await startTestApp({
    env: { SMTP_URL: sink.url, EMAIL_LINK_SIGNIN: 'true', RATE_LIMIT: 'on' },
  });

  it('caps link requests per address and source as password reset does, unknown ones alike', async () => {
    const ask = (email: string) =>
      limited.app.inject({
        method: 'POST',
        url: '/api/auth/email-link/request',
        remoteAddress: '10.9.0.1',
        payload: { email },
      });
    const ghost = uniqueEmail('ghost');
    for (let i = 0; i < 5; i += 1) expect((await ask(ghost)).statusCode).toBe(202);
    const refused = await ask(ghost);
    expect(refused.statusCode).toBe(429);
    expect(json(refused)['code']).toBe('rate_limited');
    expect(refused.headers['retry-after']).toEqual(expect.any(String));

    const { email } = await signUp(limited.app);
    for (let i = 0; i < 5; i += 1) expect((await ask(email)).statusCode).toBe(202);
    expect((await ask(email)).statusCode).toBe(429);
  });
});

describe('links asked for at /login (bound to the browser)', () => {
  /** /login → "E-mail me a sign-in link" → the form, sent; the browser keeps the cookies. */
  async function askInBrowser(email: string, query = '') {
    const browser = new InjectBrowser(app);
    const login = await browser.get(`/login${query}`);
    const href = /<a href="([^"]+)">E-mail me a sign-in link<\/a>/.exec(login.body)?.[1];
    expect(href).toBeDefined();
    const form = await browser.get(href!.replace(/&amp;/g, '&'));
    expect(form.statusCode).toBe(200);
    const sent = await browser.submit(form, '/login/email-link', { email });
    expect(sent.statusCode).toBe(200);
    expect(sent.body).toContain('Check your inbox');
    const binding = sent.cookies.find((c) => c.name === 'hyperion_email_link');
    expect(binding).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    return { browser, sent };
  }

  const usedAt = async (token: string) =>
    (
      await deps.db
        .selectFrom('email_tokens')
        .select('used_at')
        .where('token_hash', '=', hashOpaqueToken(token))
        .executeTakeFirstOrThrow()
    ).used_at;

  it('answers "Check your inbox" alike for an unknown address, and sends nothing', async () => {
    const ghost = uniqueEmail('ghost');
    const { sent } = await askInBrowser(ghost);
    const { email } = await signUp(app);
    const known = await askInBrowser(email);
    expect(sent.body).toBe(known.sent.body);
    await linkMail(email);
    expect(sink.mailTo(ghost)).toEqual([]);
  });

  it('stores only hashes and sealed data, and mails no bare token for a bound link', async () => {
    const { email, user } = await signUp(app);
    const { browser } = await askInBrowser(email, '?next=%2Fdevice');
    const token = await linkMail(email);
    const mail = linkMailsTo(email).at(-1)!;
    expect(mail.text).not.toContain(`\n${token}\n`);
    const row = await deps.db
      .selectFrom('email_tokens')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('purpose', '=', 'email_signin')
      .executeTakeFirstOrThrow();
    const nonce = browser.cookies.get('hyperion_email_link')!.split('.')[0]!;
    expect(row.binding_hash).toBe(hashOpaqueToken(nonce));
    expect(row.binding_sealed).toEqual(expect.any(String));
    expect(row.binding_sealed).not.toContain('device');
    expect(JSON.stringify(row)).not.toContain(nonce);
  });

  it('the API verify refuses a bound link without its cookie (unspent), and takes it with', async () => {
    const { email } = await signUp(app);
    const { browser } = await askInBrowser(email);
    const token = await linkMail(email);
    const bare = await verify(token);
    expect(bare.statusCode).toBe(400);
    expect(json(bare)['code']).toBe('invalid_token');
    expect(await usedAt(token)).toBeNull();
    const withCookie = await browser.request({
      method: 'POST',
      url: '/api/auth/email-link/verify',
      payload: { token },
    });
    expect(withCookie.statusCode).toBe(200);
    expect(json(withCookie)['access_token']).toEqual(expect.any(String));
  });

  it('confirming in another browser shows a clear page and spends nothing; in the right one, signs in', async () => {
    const { email, user } = await signUp(app);
    const { browser } = await askInBrowser(email);
    const token = await linkMail(email);

    const other = new InjectBrowser(app);
    const otherPage = await other.get('/account/email-signin');
    const refused = await other.submit(otherPage, '/account/email-signin', { token });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('Open the link in the browser where you asked for it');
    expect(await usedAt(token)).toBeNull();
    expect(other.cookies.has('hyperion_session')).toBe(false);

    const page = await browser.get('/account/email-signin');
    // The GET alone opened nothing.
    expect(await usedAt(token)).toBeNull();
    const signedIn = await browser.submit(page, '/account/email-signin', { token });
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.body).toContain('You are signed in');
    expect(browser.cookies.has('hyperion_session')).toBe(true);
    expect(browser.cookies.has('hyperion_email_link')).toBe(false);
    const session = await deps.db
      .selectFrom('sessions')
      .select(['kind', 'amr'])
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(session).toEqual({ kind: 'browser', amr: ['otp'] });

    // Spent: a second confirmation is refused.
    const again = await browser.submit(
      await browser.get('/account/email-signin'),
      '/account/email-signin',
      {
        token,
      },
    );
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('spent or expired');
  });

  it('goes on to the return path it was asked with (/login?next=/device)', async () => {
    const { email } = await signUp(app);
    const { browser } = await askInBrowser(email, '?next=%2Fdevice%3Fuser_code%3DABCD-EFGH');
    const token = await linkMail(email);
    const confirmed = await browser.submit(
      await browser.get('/account/email-signin'),
      '/account/email-signin',
      {
        token,
      },
    );
    expect(confirmed.statusCode).toBe(303);
    expect(confirmed.headers['location']).toBe('/device?user_code=ABCD-EFGH');
  });

  it('an unbound link (asked through the API) signs in in any browser', async () => {
    const { email } = await signUp(app);
    await requestLink(email);
    const token = await linkMail(email);
    const browser = new InjectBrowser(app);
    const page = await browser.get('/account/email-signin');
    expect(page.body).toContain('>Sign in</button>');
    const confirmed = await browser.submit(page, '/account/email-signin', { token });
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.body).toContain('You are signed in');
  });

  it('refuses a form post without the CSRF token, spending nothing', async () => {
    const { email } = await signUp(app);
    await requestLink(email);
    const token = await linkMail(email);
    const browser = new InjectBrowser(app);
    const forged = await browser.post('/account/email-signin', { token });
    expect(forged.statusCode).toBe(403);
    expect(await usedAt(token)).toBeNull();
  });
});
