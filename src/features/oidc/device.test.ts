import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { json, signUp, signedInUser } from '../../../test/app.js';
import { type Device, deviceFor } from '../../../test/device.js';
import { enrolTotp } from '../../../test/mfa.js';
import { InjectBrowser, fieldOf } from '../../../test/oidc-pages.js';
import {
  type OidcTestApp,
  type RegisteredClient,
  registerClient,
  startOidcApp,
} from '../../../test/oidc.js';
import { DEVICE_CODE_GRANT_TYPE } from './oidc.types.js';
import { safeReturnPath } from './return-path.js';
import { USER_CODE_ALPHABET, generateUserCode, normalizeUserCode } from './user-code.js';

// RFC 8628 device authorization from the outside: oauth4webapi plays the device (discovery,
// the device authorization request, the polls), the inject "browser" plays the person at
// /login and /device.

const MCP = 'https://mcp.example.com/mcp';
const CODE_FORMAT = new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`);

let t: OidcTestApp;
let publicClient: RegisteredClient;
let device: Device;
// Registered up front: the admin's token expires as the tests move the clock on.
let codeOnly: RegisteredClient;
let confidential: RegisteredClient;
let otherClient: RegisteredClient;
let firstParty: RegisteredClient;

async function deviceClient(body: Record<string, unknown> = {}) {
  return registerClient(t.app, t.admin, {
    type: 'public',
    name: 'Hyperion CLI',
    redirect_uris: ['http://127.0.0.1:9/callback'],
    grant_types: [DEVICE_CODE_GRANT_TYPE, 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
    ...body,
  });
}

beforeAll(async () => {
  t = await startOidcApp();
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/admin/resources',
    headers: t.admin,
    payload: {
      identifier: MCP,
      name: 'Team MCP server',
      scopes: [
        { name: 'tools:call', description: 'Use the team tools' },
        { name: 'files:read', description: 'Read the team files' },
      ],
    },
  });
  expect(created.statusCode).toBe(201);
  publicClient = await deviceClient();
  device = await deviceFor(t.issuer, publicClient, t.clock);
  codeOnly = await deviceClient({ grant_types: ['authorization_code'] });
  confidential = await deviceClient({ type: 'confidential' });
  otherClient = await deviceClient();
  firstParty = await deviceClient({ first_party: true, name: 'Our own CLI' });
});

const pathOf = (uri: string) => {
  const url = new URL(uri);
  return url.pathname + url.search;
};

interface Person {
  email: string;
  password: string;
  userId: string;
}

async function person(): Promise<Person> {
  const { email, password, user } = await signUp(t.app);
  return { email, password, userId: String(user.id) };
}

/**
 * The person opens verification_uri_complete: not signed in, so /login first, then back to
 * /device with the code prefilled. Answers the browser, and the code page.
 */
async function signInAtDevice(uri: string, who: Person) {
  const browser = new InjectBrowser(t.app, t.issuer);
  const first = await browser.get(pathOf(uri));
  expect(first.statusCode).toBe(303);
  const login = String(first.headers['location']);
  expect(login).toMatch(/^\/login\?next=/);
  const loginPage = await browser.get(login);
  expect(loginPage.statusCode).toBe(200);
  const signedIn = await browser.submit(loginPage, '/login', {
    email: who.email,
    password: who.password,
  });
  expect(signedIn.statusCode).toBe(303);
  expect(String(signedIn.headers['location'])).toBe(pathOf(uri));
  const codePage = await browser.get(String(signedIn.headers['location']));
  expect(codePage.statusCode).toBe(200);
  return { browser, codePage };
}

/** Types the code, checks the confirmation page, answers it. */
async function answer(
  browser: InjectBrowser,
  codePage: LightMyRequestResponse,
  userCode: string,
  decision: 'allow' | 'deny',
) {
  const confirm = await browser.submit(codePage, '/device', { user_code: userCode });
  expect(confirm.statusCode, confirm.body).toBe(200);
  const done = await browser.submit(confirm, '/device/confirm', { decision });
  expect(done.statusCode, done.body).toBe(200);
  return { confirm, done };
}

async function approved(params: Record<string, string>, who?: Person) {
  const started = await device.start(params);
  const { browser, codePage } = await signInAtDevice(
    started.verification_uri_complete!,
    who ?? (await person()),
  );
  const pages = await answer(browser, codePage, started.user_code, 'allow');
  return { started, browser, ...pages };
}

describe('POST /oauth/device_authorization', () => {
  it('is advertised by discovery, with the grant type', () => {
    expect(device.as.device_authorization_endpoint).toBe(`${t.issuer}/oauth/device_authorization`);
    expect(device.as.grant_types_supported).toContain(DEVICE_CODE_GRANT_TYPE);
  });

  it('answers the codes, the /device addresses, expires_in and interval, never cached', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/device_authorization',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        client_id: publicClient.client_id,
        scope: 'openid',
      }).toString(),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = json(response);
    expect(body['user_code']).toMatch(CODE_FORMAT);
    expect(body['device_code']).toMatch(/^[\w-]{43}$/);
    expect(body['verification_uri']).toBe(`${t.issuer}/device`);
    expect(body['verification_uri_complete']).toBe(
      `${t.issuer}/device?user_code=${String(body['user_code'])}`,
    );
    expect(body['expires_in']).toBe(600);
    expect(body['interval']).toBe(5);
    // Neither code is stored as it is.
    const row = await t.deps.db
      .selectFrom('device_authorizations')
      .selectAll()
      .where(
        'device_code_hash',
        '=',
        createHash('sha256').update(String(body['device_code'])).digest('hex'),
      )
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(String(body['device_code']));
    expect(JSON.stringify(row)).not.toContain(String(body['user_code']).replace('-', ''));
    expect(row.status).toBe('pending');
  });

  it('refuses an unknown resource (invalid_target) and scopes beyond the client and the API', async () => {
    expect(
      await device.startRefused({ scope: 'openid', resource: 'https://nope.example/' }),
    ).toEqual({
      status: 400,
      error: 'invalid_target',
    });
    expect(await device.startRefused({ scope: 'openid phone' })).toEqual({
      status: 400,
      error: 'invalid_scope',
    });
    expect(await device.startRefused({ scope: 'tools:call' })).toEqual({
      status: 400,
      error: 'invalid_scope',
    });
  });

  it('refuses a client not allowed the grant, and a wrong secret', async () => {
    const other = await deviceFor(t.issuer, codeOnly, t.clock);
    expect(await other.startRefused({ scope: 'openid' })).toEqual({
      status: 400,
      error: 'unauthorized_client',
    });
    const wrong = await deviceFor(
      t.issuer,
      { ...confidential, client_secret: 'not-the-secret' },
      t.clock,
    );
    expect(await wrong.startRefused({ scope: 'openid' })).toEqual({
      status: 401,
      error: 'invalid_client',
    });
    // With the right secret it works.
    const right = await deviceFor(t.issuer, confidential, t.clock);
    expect((await right.start({ scope: 'openid' })).user_code).toMatch(CODE_FORMAT);
  });
});

describe('the device code grant', () => {
  it('pending, then approved: tokens for the API, the scopes asked, an ID token, a refresh token', async () => {
    const started = await device.start({
      scope: 'openid offline_access tools:call',
      resource: MCP,
    });
    const pending = await device.poll(started.device_code);
    expect(pending).toEqual({ kind: 'error', error: 'authorization_pending', status: 400 });

    const who = await person();
    const { browser, codePage } = await signInAtDevice(started.verification_uri_complete!, who);
    // The code is prefilled from verification_uri_complete.
    expect(fieldOf(codePage.body, 'user_code')).toBe(started.user_code);
    const { confirm, done } = await answer(browser, codePage, started.user_code, 'allow');
    // The confirmation names the app, the API and the scopes in words, and shows the code.
    expect(confirm.body).toContain('Hyperion CLI');
    expect(confirm.body).toContain('Team MCP server');
    expect(confirm.body).toContain('Use the team tools');
    expect(confirm.body).toContain('Keep access while you are away');
    expect(confirm.body).toContain(started.user_code);
    expect(confirm.headers['content-security-policy']).toContain("form-action 'self'");
    expect(done.body).toContain('Device connected');

    t.clock.advance(5);
    const result = await device.poll(started.device_code);
    if (result.kind !== 'tokens') throw new Error(`expected tokens: ${JSON.stringify(result)}`);
    const { tokens, idClaims } = result;
    expect(tokens.scope).toBe('openid offline_access tools:call');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const access = decodeJwt(tokens.access_token);
    expect(access.aud).toBe(MCP);
    expect(access.sub).toBe(who.userId);
    expect(access['client_id']).toBe(publicClient.client_id);
    expect(access['scope']).toBe('openid offline_access tools:call');
    expect(idClaims?.sub).toBe(who.userId);
    expect(idClaims?.aud).toBe(publicClient.client_id);
    expect(idClaims?.['amr']).toEqual(['pwd']);

    // Consent was recorded as /consent records it, and the approval audited.
    const consent = await t.deps.db
      .selectFrom('oauth_consents')
      .select('scopes')
      .where('user_id', '=', who.userId)
      .where('client_id', '=', publicClient.client_id)
      .executeTakeFirst();
    expect(consent?.scopes).toEqual(expect.arrayContaining(['openid', 'tools:call']));
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('type', '=', 'oauth.device_approved')
      .where('user_id', '=', who.userId)
      .execute();
    expect(events).toHaveLength(1);
    const metrics = await t.deps.metrics.render();
    for (const outcome of ['started', 'approved', 'issued'])
      expect(metrics).toContain(
        `hyperion_oauth_device_authorizations_total{client_id="${publicClient.client_id}",outcome="${outcome}"}`,
      );

    // Single use: a second redemption is refused.
    t.clock.advance(5);
    expect(await device.poll(started.device_code)).toEqual({
      kind: 'error',
      error: 'invalid_grant',
      status: 400,
    });
  });

  it('slow_down when polled faster than the interval, which then grows by 5 seconds', async () => {
    const started = await device.start({ scope: 'openid' });
    expect((await device.poll(started.device_code)).kind).toBe('error');
    expect(await device.poll(started.device_code)).toEqual({
      kind: 'error',
      error: 'slow_down',
      status: 400,
    });
    // Now 10 seconds: 5 is too soon, 10 is fine.
    t.clock.advance(5);
    expect(await device.poll(started.device_code)).toMatchObject({ error: 'slow_down' });
    t.clock.advance(15);
    expect(await device.poll(started.device_code)).toMatchObject({
      error: 'authorization_pending',
    });
  });

  it('denied at /device: access_denied', async () => {
    const started = await device.start({ scope: 'openid' });
    const { browser, codePage } = await signInAtDevice(
      started.verification_uri_complete!,
      await person(),
    );
    const { done } = await answer(browser, codePage, started.user_code, 'deny');
    expect(done.body).toContain('not connected');
    expect(await device.poll(started.device_code)).toEqual({
      kind: 'error',
      error: 'access_denied',
      status: 400,
    });
  });

  it('expired before approval: expired_token, and the code is no longer accepted at /device', async () => {
    const started = await device.start({ scope: 'openid' });
    const { browser, codePage } = await signInAtDevice(
      started.verification_uri_complete!,
      await person(),
    );
    t.clock.advance(601);
    expect(await device.poll(started.device_code)).toEqual({
      kind: 'error',
      error: 'expired_token',
      status: 400,
    });
    const again = await browser.submit(codePage, '/device', { user_code: started.user_code });
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('wrong or has expired');
    // The housekeeping job deletes it a day later.
    t.clock.advance(24 * 3600);
    await t.deps.services.devices.sweepExpired();
    const left = await t.deps.db
      .selectFrom('device_authorizations')
      .select('status')
      .where('expires_at', '<', new Date(t.clock.now().getTime() - 24 * 3600 * 1000))
      .execute();
    expect(left).toHaveLength(0);
  });

  it("another client cannot redeem a client's device code", async () => {
    const { started } = await approved({ scope: 'openid' });
    const thief = await deviceFor(t.issuer, otherClient, t.clock);
    t.clock.advance(5);
    expect(await thief.poll(started.device_code)).toEqual({
      kind: 'error',
      error: 'invalid_grant',
      status: 400,
    });
    // The rightful client still can.
    expect((await device.poll(started.device_code)).kind).toBe('tokens');
  });

  it('no refresh token without offline_access; the ID token only with openid', async () => {
    const { started } = await approved({ scope: 'email' });
    t.clock.advance(5);
    const result = await device.poll(started.device_code);
    if (result.kind !== 'tokens') throw new Error(JSON.stringify(result));
    expect(result.tokens.refresh_token).toBeUndefined();
    expect(result.tokens.id_token).toBeUndefined();
    expect(decodeJwt(result.tokens.access_token)['email']).toEqual(expect.any(String));
  });

  it('signed out between approval and poll: invalid_grant', async () => {
    const { started, browser, done } = await approved({ scope: 'openid' });
    const logout = await browser.get('/logout');
    expect((await browser.submit(logout, '/logout')).statusCode).toBe(200);
    void done;
    t.clock.advance(5);
    expect(await device.poll(started.device_code)).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('the /device pages', () => {
  it('accept the code in lower case, with spaces or without the dash', async () => {
    for (const variant of [
      (code: string) => code.toLowerCase(),
      (code: string) => code.replace('-', ''),
      (code: string) => ` ${code.replace('-', ' ')} `,
    ]) {
      const started = await device.start({ scope: 'openid' });
      const { browser, codePage } = await signInAtDevice(`${t.issuer}/device`, await person());
      const confirm = await browser.submit(codePage, '/device', {
        user_code: variant(started.user_code),
      });
      expect(confirm.statusCode).toBe(200);
      expect(confirm.body).toContain(started.user_code);
    }
  });

  it('a wrong code: the form again, saying so', async () => {
    const { browser, codePage } = await signInAtDevice(`${t.issuer}/device`, await person());
    const wrong = await browser.submit(codePage, '/device', { user_code: 'BCDF-GHJK' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toContain('role="alert"');
    expect(wrong.body).toContain('wrong or has expired');
    const junk = await browser.submit(codePage, '/device', { user_code: 'AEIOU' });
    expect(junk.statusCode).toBe(400);
  });

  it('refuse a forged post (CSRF), on both forms, and nothing is approved', async () => {
    const started = await device.start({ scope: 'openid' });
    const { browser, codePage } = await signInAtDevice(
      started.verification_uri_complete!,
      await person(),
    );
    const noToken = await browser.post('/device', { user_code: started.user_code });
    expect(noToken.statusCode).toBe(403);
    const confirm = await browser.submit(codePage, '/device', { user_code: started.user_code });
    const foreign = await browser.post(
      '/device/confirm',
      {
        csrf_token: fieldOf(confirm.body, 'csrf_token') ?? '',
        user_code: started.user_code,
        decision: 'allow',
      },
      { origin: 'https://evil.example' },
    );
    expect(foreign.statusCode).toBe(403);
    const forgedToken = await browser.post('/device/confirm', {
      csrf_token: 'forged',
      user_code: started.user_code,
      decision: 'allow',
    });
    expect(forgedToken.statusCode).toBe(403);
    expect(await device.poll(started.device_code)).toMatchObject({
      error: 'authorization_pending',
    });
  });

  it('a first-party app skips consent, not the confirmation', async () => {
    const own = await deviceFor(t.issuer, firstParty, t.clock);
    const started = await own.start({ scope: 'openid' });
    const who = await person();
    const { browser, codePage } = await signInAtDevice(started.verification_uri_complete!, who);
    const { confirm } = await answer(browser, codePage, started.user_code, 'allow');
    expect(confirm.body).toContain('Our own CLI');
    t.clock.advance(5);
    const result = await own.poll(started.device_code);
    if (result.kind !== 'tokens') throw new Error(JSON.stringify(result));
    // First-party: a refresh token without offline_access, and no consent stored.
    expect(result.tokens.refresh_token).toEqual(expect.any(String));
    const consent = await t.deps.db
      .selectFrom('oauth_consents')
      .select('scopes')
      .where('user_id', '=', who.userId)
      .executeTakeFirst();
    expect(consent).toBeUndefined();
  });

  it('with MFA: password, then the TOTP code, then back to /device', async () => {
    const user = await signedInUser(t.app);
    const code = await enrolTotp(t.app, t.clock, user.auth);
    t.clock.advance(30);
    const started = await device.start({ scope: 'openid' });
    const browser = new InjectBrowser(t.app, t.issuer);
    const first = await browser.get(pathOf(started.verification_uri_complete!));
    const loginPage = await browser.get(String(first.headers['location']));
    const mfaPage = await browser.submit(loginPage, '/login', {
      email: user.email,
      password: user.password,
    });
    expect(mfaPage.statusCode).toBe(200);
    expect(fieldOf(mfaPage.body, 'next')).toBe(pathOf(started.verification_uri_complete!));
    const signedIn = await browser.submit(mfaPage, '/login/mfa', { code: await code() });
    expect(signedIn.statusCode).toBe(303);
    const codePage = await browser.get(String(signedIn.headers['location']));
    await answer(browser, codePage, started.user_code, 'allow');
    t.clock.advance(5);
    const result = await device.poll(started.device_code);
    if (result.kind !== 'tokens') throw new Error(JSON.stringify(result));
    expect(result.idClaims?.['amr']).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('a post while not signed in goes to /login too, keeping the code', async () => {
    const browser = new InjectBrowser(t.app, t.issuer);
    const page = await browser.get('/login');
    const response = await browser.submit(page, '/device', { user_code: 'BCDF-GHJK' });
    expect(response.statusCode).toBe(303);
    expect(String(response.headers['location'])).toBe(
      `/login?next=${encodeURIComponent('/device?user_code=BCDF-GHJK')}`,
    );
  });
});

describe('code entry is rate-limited per address', () => {
  it('after 10 wrong codes: a 429 page, even for a right code', async () => {
    const limited = await startOidcApp({ env: { RATE_LIMIT: 'on' } });
    const client = await registerClient(limited.app, limited.admin, {
      type: 'public',
      redirect_uris: ['http://127.0.0.1:9/callback'],
      grant_types: [DEVICE_CODE_GRANT_TYPE],
      scopes: ['openid'],
    });
    const own = await deviceFor(limited.issuer, client, limited.clock);
    const started = await own.start({ scope: 'openid' });
    const { email, password } = await signUp(limited.app);
    const browser = new InjectBrowser(limited.app, limited.issuer);
    const login = await browser.get(`/login?next=${encodeURIComponent('/device')}`);
    const signedIn = await browser.submit(login, '/login', { email, password });
    expect(signedIn.headers['location']).toBe('/device');
    const codePage = await browser.get('/device');
    // A right code costs nothing.
    const right = await browser.submit(codePage, '/device', { user_code: started.user_code });
    expect(right.statusCode).toBe(200);
    for (let i = 0; i < 10; i += 1) {
      const wrong = await browser.submit(codePage, '/device', { user_code: 'BCDF-GHJK' });
      expect(wrong.statusCode).toBe(400);
    }
    const blocked = await browser.submit(codePage, '/device', { user_code: started.user_code });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['content-type']).toContain('text/html');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
  }, 60_000);
});

describe('user codes and the return to /device', () => {
  it('are 8 letters of the alphabet, shown XXXX-XXXX, read back however typed', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i += 1) {
      const code = generateUserCode();
      expect(code).toMatch(CODE_FORMAT);
      seen.add(code);
      expect(normalizeUserCode(code.toLowerCase())).toBe(code.replace('-', ''));
    }
    expect(seen.size).toBe(200);
    expect(normalizeUserCode('bcdf ghjk')).toBe('BCDFGHJK');
    expect(normalizeUserCode('BCDF-GHJ')).toBeUndefined();
    expect(normalizeUserCode('BCDF-GHJA')).toBeUndefined();
    expect(normalizeUserCode('B'.repeat(65))).toBeUndefined();
  });

  it('/login goes on only to /device, never elsewhere', async () => {
    expect(safeReturnPath('/device')).toBe('/device');
    expect(safeReturnPath('/device?user_code=BCDF-GHJK')).toBe('/device?user_code=BCDF-GHJK');
    for (const bad of [
      'https://evil.example/device',
      '//evil.example/device',
      '/\\evil.example/device',
      '/devices',
      '/device?user_code=x&next=https://evil.example',
      '/account',
      'device',
    ])
      expect(safeReturnPath(bad), bad).toBeUndefined();
    const page = await t.app.inject({
      method: 'GET',
      url: `/login?next=${encodeURIComponent('https://evil.example/')}`,
    });
    expect(fieldOf(page.body, 'next')).toBeUndefined();
  });
});
