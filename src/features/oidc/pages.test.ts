import { describe, expect, it } from 'vitest';
import { enrolTotp } from '../../../test/mfa.js';
import { json, signUp, signedInUser, startTestApp, uniqueEmail } from '../../../test/app.js';
import {
  InjectBrowser,
  authorizeUrl,
  fieldOf,
  locationParams,
  registerClient,
} from '../../../test/oidc-pages.js';

// The hosted pages themselves: CSRF, the same answer for every failed sign-in, rate limits,
// the second factor, sign-out, and the headers that keep the pages safe.
const { app, deps, clock } = await startTestApp();

async function loginPage(browser = new InjectBrowser(app)) {
  const page = await browser.get('/login');
  expect(page.statusCode).toBe(200);
  return { browser, page, csrf: fieldOf(page.body, 'csrf_token')! };
}

describe('CSRF on every form', () => {
  it('the token is an HttpOnly SameSite=Strict cookie repeated in the form', async () => {
    const { page, csrf } = await loginPage();
    const cookie = page.cookies.find((c) => c.name === 'hyperion_form_csrf');
    expect(cookie).toMatchObject({ value: csrf, httpOnly: true, sameSite: 'Strict', path: '/' });
  });

  it('refuses a post without the token, with another token, or from another origin', async () => {
    const { email, password } = await signUp(app);
    const { browser, csrf } = await loginPage();
    const attempts = [
      browser.post('/login', { email, password }),
      browser.post('/login', { email, password, csrf_token: 'x'.repeat(43) }),
      browser.post(
        '/login',
        { email, password, csrf_token: csrf },
        { origin: 'https://evil.example' },
      ),
      browser.post('/login', { email, password, csrf_token: csrf }, { origin: 'null' }),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.statusCode).toBe(403);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.body).toContain('role="alert"');
      expect(response.cookies.some((c) => c.name === 'hyperion_session')).toBe(false);
    }
    // Without the cookie (another site's form cannot send a SameSite=Strict cookie).
    const bare = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ email, password, csrf_token: csrf }).toString(),
    });
    expect(bare.statusCode).toBe(403);
    // The real form works.
    const ok = await browser.post('/login', { email, password, csrf_token: csrf });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('You are signed in');
  });

  it('consent and sign-out refuse a forged post too, writing nothing', async () => {
    const client = await registerClient(deps);
    const { email, password } = await signUp(app);
    const browser = new InjectBrowser(app);
    const start = await browser.get(authorizeUrl(client));
    const page = await browser.get(String(start.headers['location']));
    const step = await browser.submit(page, '/login', { email, password });
    const consent = await browser.get(String(step.headers['location']));
    const requestId = fieldOf(consent.body, 'request')!;
    const forged = await browser.post('/consent', { request: requestId, decision: 'allow' });
    expect(forged.statusCode).toBe(403);
    const rows = await deps.db
      .selectFrom('oauth_consents')
      .selectAll()
      .where('client_id', '=', client.client_id)
      .execute();
    expect(rows).toEqual([]);
    const logout = await browser.post('/logout', {});
    expect(logout.statusCode).toBe(403);
    const still = await browser.get(authorizeUrl(client, { prompt: 'none' }));
    expect(locationParams(still).get('error')).toBe('consent_required');
  });
});

describe('sign-in failures', () => {
  it('a wrong password and an unknown account look the same: 401, one generic message', async () => {
    const { email } = await signUp(app);
    const { browser, csrf } = await loginPage();
    const wrong = await browser.post('/login', {
      email,
      password: 'not-it-at-all',
      csrf_token: csrf,
    });
    const unknown = await browser.post('/login', {
      email: uniqueEmail('nobody'),
      password: 'not-it-at-all',
      csrf_token: csrf,
    });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const strip = (html: string) => html.replace(/value="[^"]*@example\.com"/, 'value=""');
    expect(strip(wrong.body)).toBe(strip(unknown.body));
    expect(wrong.body).toContain('role="alert"');
    expect(wrong.body).toContain('aria-describedby="error"');
  });

  it('a JSON body is a 415 page', async () => {
    const response = await app.inject({ method: 'POST', url: '/login', payload: { email: 'a' } });
    expect(response.statusCode).toBe(415);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
  });

  it('an unknown or expired request id: a 400 page', async () => {
    const response = await app.inject({ method: 'GET', url: `/login?request=${'a'.repeat(43)}` });
    expect(response.statusCode).toBe(400);
  });
});

describe('rate limits (the API sign-in’s)', () => {
  it('failed sign-ins per account and source: 429 with Retry-After', async () => {
    const limited = await startTestApp({
      env: { RATE_LIMIT: 'on', RATE_LIMIT_SIGNIN_FAILURES: '3' },
    });
    const { email } = await signUp(limited.app);
    const browser = new InjectBrowser(limited.app);
    const page = await browser.get('/login');
    const csrf = fieldOf(page.body, 'csrf_token')!;
    const statuses: number[] = [];
    let last = page;
    for (let i = 0; i < 4; i += 1) {
      last = await browser.post('/login', { email, password: 'wrong-wrong', csrf_token: csrf });
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    expect(last.headers['content-type']).toMatch(/^text\/html/);
  });

  it('requests per address: /login posts count like /api/auth posts', async () => {
    const limited = await startTestApp({
      env: { RATE_LIMIT: 'on', RATE_LIMIT_AUTH_PER_MINUTE: '2' },
    });
    const browser = new InjectBrowser(limited.app);
    const page = await browser.get('/login');
    const csrf = fieldOf(page.body, 'csrf_token')!;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const email = uniqueEmail();
      statuses.push(
        (await browser.post('/login', { email, password: 'x', csrf_token: csrf })).statusCode,
      );
    }
    expect(statuses).toEqual([401, 401, 429]);
  });
});

describe('the second factor', () => {
  it('TOTP: a wrong code shows the form again (401); the right one signs in with amr otp', async () => {
    const user = await signedInUser(app);
    const code = await enrolTotp(app, clock, user.auth);
    clock.advance(30);
    const client = await registerClient(deps, { firstParty: true });
    const browser = new InjectBrowser(app);
    const start = await browser.get(authorizeUrl(client));
    const page = await browser.get(String(start.headers['location']));
    const mfa = await browser.submit(page, '/login', {
      email: user.email,
      password: user.password,
    });
    expect(mfa.statusCode).toBe(200);
    expect(mfa.body).toContain('action="/login/mfa"');
    expect(mfa.cookies.some((c) => c.name === 'hyperion_session')).toBe(false);
    const wrong = await browser.submit(mfa, '/login/mfa', { code: '000000' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('role="alert"');
    const done = await browser.submit(wrong, '/login/mfa', { code: await code() });
    expect(done.statusCode).toBe(303);
    const issued = locationParams(done).get('code')!;
    expect(issued).toEqual(expect.any(String));
    const session = await deps.db
      .selectFrom('sessions')
      .select('amr')
      .where('user_id', '=', user.user.id)
      .where('kind', '=', 'browser')
      .executeTakeFirstOrThrow();
    expect(session.amr).toEqual(['pwd', 'otp', 'mfa']);
  });
});

describe('sign-out and headers', () => {
  it('/logout ends the browser session and clears the cookie', async () => {
    const client = await registerClient(deps, { firstParty: true });
    const { email, password } = await signUp(app);
    const browser = new InjectBrowser(app);
    const start = await browser.get(authorizeUrl(client));
    const page = await browser.get(String(start.headers['location']));
    await browser.submit(page, '/login', { email, password });
    const form = await browser.get('/logout');
    expect(form.body).toContain('Sign out?');
    const out = await browser.submit(form, '/logout');
    expect(out.statusCode).toBe(200);
    expect(out.body).toContain('You are signed out');
    expect(browser.cookies.has('hyperion_session')).toBe(false);
    const none = await browser.get(authorizeUrl(client, { prompt: 'none' }));
    expect(locationParams(none).get('error')).toBe('login_required');
  });

  it('pages: strict CSP (form-action us and the redirect target), no-store, same-origin referrer', async () => {
    const client = await registerClient(deps, { redirectUri: 'https://rp.example/cb' });
    const browser = new InjectBrowser(app);
    const start = await browser.get(authorizeUrl(client));
    const page = await browser.get(String(start.headers['location']));
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self' https://rp.example");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("base-uri 'none'");
    // The one script (the passkey ceremony) is allowed by its hash, and talks only to us.
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+=*'(;|$)/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('same-origin');
    expect(page.body).toContain('<label for="email">');
    expect(page.body).toContain('<label for="password">');
  });
});
