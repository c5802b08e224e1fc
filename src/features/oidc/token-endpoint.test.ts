import * as oidc from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import { addSeconds } from '../../lib/clock.js';
import { json, signIn, signUp } from '../../../test/app.js';
import {
  type OidcTestApp,
  type RegisteredClient,
  registerClient,
  relyingParty,
  startOidcApp,
} from '../../../test/oidc.js';
import { insertCode } from './authorization-codes.repository.js';

// The token side of the provider, judged by openid-client (a certified relying party): the
// code exchange, ID tokens, client-bound refresh tokens, userinfo, revocation, introspection.
// Codes are minted here as /oauth/authorize would (the browser flow has tests of its own), so
// each rule of the exchange can be set up exactly.

const REDIRECT = 'http://127.0.0.1:9/callback';
const CONTEXT = { ip: '127.0.0.1', userAgent: 'token-endpoint.test' };

let t: OidcTestApp;
let confidential: RegisteredClient;
let publicClient: RegisteredClient;
let firstParty: RegisteredClient;

beforeAll(async () => {
  t = await startOidcApp();
  const scopes = ['openid', 'profile', 'email', 'phone', 'offline_access'];
  confidential = await registerClient(t.app, t.admin, { redirect_uris: [REDIRECT], scopes });
  publicClient = await registerClient(t.app, t.admin, {
    type: 'public',
    redirect_uris: [REDIRECT],
    scopes,
  });
  firstParty = await registerClient(t.app, t.admin, {
    redirect_uris: [REDIRECT],
    scopes,
    first_party: true,
  });
});

interface Minted {
  callback: URL;
  verifier: string;
  state: string;
  nonce: string;
  userId: string;
  browserSessionId: string;
  code: string;
}

/** A signed-in browser and a code issued to it, as the authorization endpoint would. */
async function mintCode(
  client: RegisteredClient,
  scopes: string[],
  overrides: { userId?: string; browserSessionId?: string } = {},
): Promise<Minted> {
  let { userId, browserSessionId } = overrides;
  if (!userId || !browserSessionId) {
    const { user } = await signUp(t.app, { name: 'Ada Lovelace' });
    const full = await t.deps.services.accounts.getUser(user.id);
    const browser = await t.deps.services.signIn.startBrowserSession(full, CONTEXT, ['pwd']);
    userId = user.id;
    browserSessionId = browser.session.id;
  }
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const code = generateOpaqueToken();
  const now = t.clock.now();
  await insertCode(t.deps.db, {
    codeHash: hashOpaqueToken(code),
    clientId: client.client_id,
    userId,
    browserSessionId,
    redirectUri: REDIRECT,
    codeChallenge: await oidc.calculatePKCECodeChallenge(verifier),
    nonce,
    scopes,
    resource: null,
    authTime: now,
    amr: ['pwd'],
    now,
    expiresAt: addSeconds(now, t.config.authorizationCodeTtl),
  });
  const callback = new URL(REDIRECT);
  callback.search = new URLSearchParams({ code, state, iss: t.issuer }).toString();
  return { callback, verifier, state, nonce, userId, browserSessionId, code };
}

async function exchange(client: RegisteredClient, minted: Minted) {
  return oidc.authorizationCodeGrant(await relyingParty(t.issuer, client), minted.callback, {
    pkceCodeVerifier: minted.verifier,
    expectedState: minted.state,
    expectedNonce: minted.nonce,
    idTokenExpected: true,
  });
}

/** The token endpoint by hand, for the requests openid-client would refuse to make. */
async function tokenRequest(params: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/api/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(params).toString(),
  });
  return { status: response.statusCode, body: json(response), headers: response.headers };
}

function basic(client: RegisteredClient): Record<string, string> {
  const pair = `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret ?? '')}`;
  return { authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

const userinfo = (token: string) =>
  t.app.inject({
    method: 'GET',
    url: '/oauth/userinfo',
    headers: { authorization: `Bearer ${token}` },
  });

describe('authorization_code grant', () => {
  it('exchanges a code for tokens whose ID token openid-client validates', async () => {
    const minted = await mintCode(confidential, ['openid', 'profile', 'email']);
    const tokens = await exchange(confidential, minted);
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(t.issuer);
    expect(claims.aud).toBe(confidential.client_id);
    expect(claims.sub).toBe(minted.userId);
    expect(claims.nonce).toBe(minted.nonce);
    expect(claims['sid']).toBe(minted.browserSessionId);
    expect(claims['amr']).toEqual(['pwd']);
    expect(typeof claims.auth_time).toBe('number');
    expect(typeof claims['at_hash']).toBe('string');
    expect(decodeProtectedHeader(tokens.id_token!).typ).toBe('JWT');
    expect(tokens.scope).toBe('openid profile email');
    expect(tokens.token_type).toBe('bearer');
    // No offline_access and not first-party: no refresh token.
    expect(tokens.refresh_token).toBeUndefined();
    const access = decodeJwt(tokens.access_token);
    expect(access['client_id']).toBe(confidential.client_id);
    expect(access['scope']).toBe('openid profile email');
    expect(access.aud).toBe(t.config.jwt.audience);
    expect(access['email']).toBeDefined();
  });

  it('accepts a public client by its client_id alone (none), with PKCE', async () => {
    const minted = await mintCode(publicClient, ['openid']);
    const tokens = await exchange(publicClient, minted);
    expect(tokens.claims()!.sub).toBe(minted.userId);
    expect(decodeJwt(tokens.access_token)['email']).toBeUndefined();
  });

  it('accepts client_secret_post as well as Basic', async () => {
    const minted = await mintCode(confidential, ['openid']);
    const { status, body } = await tokenRequest({
      grant_type: 'authorization_code',
      code: minted.code,
      redirect_uri: REDIRECT,
      code_verifier: minted.verifier,
      client_id: confidential.client_id,
      client_secret: confidential.client_secret!,
    });
    expect(status).toBe(200);
    expect(body['id_token']).toEqual(expect.any(String));
    expect(body['user']).toBeUndefined();
  });

  it('refuses a second use of a code and revokes what the first issued', async () => {
    const minted = await mintCode(confidential, ['openid', 'offline_access']);
    const tokens = await exchange(confidential, minted);
    expect((await userinfo(tokens.access_token)).statusCode).toBe(200);
    const again = await tokenRequest(
      {
        grant_type: 'authorization_code',
        code: minted.code,
        redirect_uri: REDIRECT,
        code_verifier: minted.verifier,
      },
      basic(confidential),
    );
    expect(again.status).toBe(400);
    expect(again.body['error']).toBe('invalid_grant');
    expect((await userinfo(tokens.access_token)).statusCode).toBe(401);
    const refreshed = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      basic(confidential),
    );
    expect(refreshed.body['error']).toBe('invalid_grant');
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select('type')
      .where('user_id', '=', minted.userId)
      .where('type', '=', 'oauth.code_reused')
      .execute();
    expect(events).toHaveLength(1);
  });

  it.each([
    ['a wrong code_verifier', { code_verifier: 'x'.repeat(43) }],
    ['another redirect_uri', { redirect_uri: 'http://127.0.0.1:9/other' }],
    ['an unknown code', { code: 'not-a-code' }],
  ])('refuses %s with invalid_grant', async (_label, change) => {
    const minted = await mintCode(confidential, ['openid']);
    const { status, body } = await tokenRequest(
      {
        grant_type: 'authorization_code',
        code: minted.code,
        redirect_uri: REDIRECT,
        code_verifier: minted.verifier,
        ...change,
      },
      basic(confidential),
    );
    expect(status).toBe(400);
    expect(body['error']).toBe('invalid_grant');
  });

  it('refuses a code issued to another client, and a code past its 60 seconds', async () => {
    const minted = await mintCode(confidential, ['openid']);
    const params = {
      grant_type: 'authorization_code',
      code: minted.code,
      redirect_uri: REDIRECT,
      code_verifier: minted.verifier,
    };
    const foreign = await tokenRequest(params, basic(firstParty));
    expect(foreign.body['error']).toBe('invalid_grant');
    t.clock.advance(61);
    try {
      const late = await tokenRequest(params, basic(confidential));
      expect(late.body['error']).toBe('invalid_grant');
    } finally {
      t.clock.advance(-61);
    }
  });

  it('refuses a malformed verifier, a missing one, and a wrong client secret', async () => {
    const minted = await mintCode(confidential, ['openid']);
    const base = { grant_type: 'authorization_code', code: minted.code, redirect_uri: REDIRECT };
    expect(
      (await tokenRequest({ ...base, code_verifier: 'short' }, basic(confidential))).body['error'],
    ).toBe('invalid_request');
    expect((await tokenRequest(base, basic(confidential))).body['error']).toBe('invalid_request');
    const wrong = await tokenRequest(
      { ...base, code_verifier: minted.verifier },
      basic({ ...confidential, client_secret: 'wrong' }),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body['error']).toBe('invalid_client');
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic/);
    const secretless = await tokenRequest({
      ...base,
      code_verifier: minted.verifier,
      client_id: confidential.client_id,
    });
    expect(secretless.status).toBe(401);
    // The code was not spent by the failures: the right request still succeeds.
    const right = await tokenRequest(
      { ...base, code_verifier: minted.verifier },
      basic(confidential),
    );
    expect(right.status).toBe(200);
  });

  it('issues nothing once the browser session behind the code has ended', async () => {
    const minted = await mintCode(confidential, ['openid']);
    await t.deps.services.sessions.revokeAllForUser(minted.userId, 'test');
    const response = await tokenRequest(
      {
        grant_type: 'authorization_code',
        code: minted.code,
        redirect_uri: REDIRECT,
        code_verifier: minted.verifier,
      },
      basic(confidential),
    );
    expect(response.body['error']).toBe('invalid_grant');
  });
});

describe('refresh tokens of clients', () => {
  it('come with offline_access, rotate, and carry a fresh ID token', async () => {
    const minted = await mintCode(confidential, ['openid', 'offline_access']);
    const rp = await relyingParty(t.issuer, confidential);
    const tokens = await exchange(confidential, minted);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()!.sub).toBe(minted.userId);
    expect(refreshed.scope).toBe('openid offline_access');
    expect(decodeJwt(refreshed.access_token)['client_id']).toBe(confidential.client_id);
  });

  it('go to a first-party client without offline_access', async () => {
    const tokens = await exchange(firstParty, await mintCode(firstParty, ['openid']));
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('are bound to their client: another client, the API, and no client are refused', async () => {
    const minted = await mintCode(confidential, ['openid', 'offline_access']);
    const tokens = await exchange(confidential, minted);
    const other = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      basic(firstParty),
    );
    expect(other.body['error']).toBe('invalid_grant');
    const bare = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
    });
    expect(bare.body['error']).toBe('invalid_grant');
    const api = await t.app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refresh_token: tokens.refresh_token },
    });
    expect(api.statusCode).toBe(401);
    // None of those revoked anything: the rightful client still refreshes.
    const own = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      basic(confidential),
    );
    expect(own.status).toBe(200);
  });

  it('an API refresh token is not a client token', async () => {
    const { email, password } = await signUp(t.app);
    const apiTokens = await signIn(t.app, email, password);
    const response = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: apiTokens.refresh_token },
      basic(confidential),
    );
    expect(response.body['error']).toBe('invalid_grant');
  });

  it('reuse past the window revokes the grant and the browser session it came from', async () => {
    const minted = await mintCode(confidential, ['openid', 'offline_access']);
    const tokens = await exchange(confidential, minted);
    const first = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      basic(confidential),
    );
    expect(first.status).toBe(200);
    t.clock.advance(t.config.refreshReuseInterval + 1);
    const reused = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      basic(confidential),
    );
    expect(reused.body['error']).toBe('invalid_grant');
    const browser = await t.deps.db
      .selectFrom('sessions')
      .select(['revoked_at', 'revoked_reason'])
      .where('id', '=', minted.browserSessionId)
      .executeTakeFirstOrThrow();
    expect(browser.revoked_reason).toBe('refresh_reused');
  });
});

describe('userinfo', () => {
  it('releases claims by scope, by GET and by POST (header or form body)', async () => {
    const minted = await mintCode(confidential, ['openid', 'email']);
    const rp = await relyingParty(t.issuer, confidential);
    const tokens = await exchange(confidential, minted);
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, minted.userId);
    expect(info.sub).toBe(minted.userId);
    expect(info.email).toEqual(expect.stringContaining('@'));
    expect(info.email_verified).toBe(false);
    expect(info.name).toBeUndefined();
    const posted = await t.app.inject({
      method: 'POST',
      url: '/oauth/userinfo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${encodeURIComponent(tokens.access_token)}`,
    });
    expect(posted.statusCode).toBe(200);
    expect(json(posted)['sub']).toBe(minted.userId);
  });

  it('releases the profile and phone claims with their scopes', async () => {
    const minted = await mintCode(confidential, ['openid', 'profile', 'phone']);
    await t.deps.services.profiles.updateProfile(minted.userId, {
      full_name: 'Ada King',
      phone: '+442071234567',
      locale: 'en-GB',
      timezone: 'Europe/London',
    });
    const tokens = await exchange(confidential, minted);
    const info = json(await userinfo(tokens.access_token));
    expect(info).toMatchObject({
      sub: minted.userId,
      name: 'Ada King',
      phone_number: '+442071234567',
      locale: 'en-GB',
      zoneinfo: 'Europe/London',
      updated_at: expect.any(Number),
    });
    expect(info['email']).toBeUndefined();
  });

  it('refuses a token without openid (403), no token and a bad one (401, WWW-Authenticate)', async () => {
    const { email, password } = await signUp(t.app);
    const apiTokens = await signIn(t.app, email, password);
    const noScope = await userinfo(apiTokens.access_token);
    expect(noScope.statusCode).toBe(403);
    expect(noScope.headers['www-authenticate']).toContain('insufficient_scope');
    const none = await t.app.inject({ method: 'GET', url: '/oauth/userinfo' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const bad = await userinfo('not.a.token');
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['www-authenticate']).toContain('invalid_token');
  });
});

describe('revocation and introspection', () => {
  async function post(url: string, params: Record<string, string>, client: RegisteredClient) {
    const response = await t.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic(client) },
      payload: new URLSearchParams(params).toString(),
    });
    return { status: response.statusCode, body: json(response) };
  }

  it('introspects an active access token, then sees it inactive once its refresh token is revoked', async () => {
    const minted = await mintCode(confidential, ['openid', 'offline_access']);
    const tokens = await exchange(confidential, minted);
    const rp = await relyingParty(t.issuer, confidential);
    const active = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(active).toMatchObject({
      active: true,
      sub: minted.userId,
      client_id: confidential.client_id,
      scope: 'openid offline_access',
      iss: t.issuer,
      token_type: 'bearer',
    });
    expect(active.exp).toEqual(expect.any(Number));
    expect(active.iat).toEqual(expect.any(Number));
    const refresh = await oidc.tokenIntrospection(rp, tokens.refresh_token!);
    expect(refresh.active).toBe(true);
    // Another client may not revoke it: 200, and nothing happens.
    expect((await post('/oauth/revoke', { token: tokens.refresh_token! }, firstParty)).status).toBe(
      200,
    );
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).active).toBe(true);
    await oidc.tokenRevocation(rp, tokens.refresh_token!);
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).active).toBe(false);
    expect((await oidc.tokenIntrospection(rp, tokens.refresh_token!)).active).toBe(false);
    expect((await userinfo(tokens.access_token)).statusCode).toBe(401);
  });

  it('revokes a grant by its access token, and answers 200 for a token it does not know', async () => {
    const tokens = await exchange(confidential, await mintCode(confidential, ['openid']));
    expect((await post('/oauth/revoke', { token: tokens.access_token }, confidential)).status).toBe(
      200,
    );
    expect((await userinfo(tokens.access_token)).statusCode).toBe(401);
    expect((await post('/oauth/revoke', { token: 'unknown' }, confidential)).status).toBe(200);
  });

  it('keeps introspection for confidential clients and wants client authentication', async () => {
    const publicCall = await t.app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=x&client_id=${publicClient.client_id}`,
    });
    expect(publicCall.statusCode).toBe(401);
    expect(json(publicCall)['error']).toBe('invalid_client');
    const anonymous = await t.app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token=x',
    });
    expect(anonymous.statusCode).toBe(401);
    const inactive = await post('/oauth/introspect', { token: 'garbage' }, confidential);
    expect(inactive.body).toEqual({ active: false });
  });
});

describe('discovery', () => {
  it('serves one document at both well-known addresses, as openid-client reads it', async () => {
    const rp = await relyingParty(t.issuer, confidential);
    const metadata = rp.serverMetadata();
    expect(metadata.issuer).toBe(t.issuer);
    expect(metadata).toMatchObject({
      authorization_endpoint: `${t.issuer}/oauth/authorize`,
      token_endpoint: `${t.issuer}/api/auth/token`,
      userinfo_endpoint: `${t.issuer}/oauth/userinfo`,
      end_session_endpoint: `${t.issuer}/oauth/logout`,
      revocation_endpoint: `${t.issuer}/oauth/revoke`,
      introspection_endpoint: `${t.issuer}/oauth/introspect`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      subject_types_supported: ['public'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'none']),
    );
    expect(metadata.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token']),
    );
    expect(metadata.registration_endpoint).toBeUndefined();
    const oauth = await t.app.inject({ url: '/.well-known/oauth-authorization-server' });
    const openid = await t.app.inject({ url: '/.well-known/openid-configuration' });
    expect(json(oauth)).toEqual(json(openid));
  });
});

describe('metrics', () => {
  it('counts authorizations and code exchanges by registered client and outcome', async () => {
    await exchange(confidential, await mintCode(confidential, ['openid']));
    const rp = await relyingParty(t.issuer, confidential);
    const silent = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      prompt: 'none',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const refused = await t.app.inject({ url: `${silent.pathname}${silent.search}` });
    expect(new URL(String(refused.headers['location'])).searchParams.get('error')).toBe(
      'login_required',
    );
    const scrape = (await t.app.inject({ url: '/metrics' })).body;
    expect(scrape).toMatch(
      new RegExp(
        `hyperion_oauth_code_exchanges_total\\{client_id="${confidential.client_id}",outcome="success"\\} [1-9]`,
      ),
    );
    expect(scrape).toContain(
      `hyperion_oauth_authorizations_total{client_id="${confidential.client_id}",outcome="login_required"} 1`,
    );
  });
});

describe('housekeeping', () => {
  it('deletes codes a day after they expired, and keeps younger ones (replays still recognised)', async () => {
    const old = await mintCode(confidential, ['openid']);
    const rowOf = (code: string) =>
      t.deps.db
        .selectFrom('authorization_codes')
        .select('code_hash')
        .where('code_hash', '=', hashOpaqueToken(code))
        .executeTakeFirst();
    t.clock.advance(3600);
    const young = await mintCode(confidential, ['openid']);
    t.clock.advance(24 * 3600 - 3600 + t.config.authorizationCodeTtl + 1);
    try {
      await t.deps.services.authorize.sweepExpired();
      expect(await rowOf(old.code)).toBeUndefined();
      expect(await rowOf(young.code)).toBeDefined();
    } finally {
      t.clock.advance(-(24 * 3600 + t.config.authorizationCodeTtl + 1));
    }
  });
});

describe("an application's token on this service's own API", () => {
  const call = (method: 'GET' | 'POST', url: string, token: string) =>
    t.app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });

  it('reads the account, but changes nothing and reaches no admin route (third-party)', async () => {
    const minted = await mintCode(confidential, ['openid']);
    await t.deps.db
      .insertInto('user_roles')
      .values({ user_id: minted.userId, role_name: 'admin' })
      .execute();
    const { access_token } = await exchange(confidential, minted);
    expect((await call('GET', '/api/auth/me', access_token)).statusCode).toBe(200);
    const enrol = await call('POST', '/api/auth/mfa/totp/setup', access_token);
    expect(enrol.statusCode).toBe(403);
    expect((await call('GET', '/api/admin/users', access_token)).statusCode).toBe(403);
    expect(
      await t.deps.db
        .selectFrom('mfa_totp')
        .select('user_id')
        .where('user_id', '=', minted.userId)
        .execute(),
    ).toHaveLength(0);
  });

  it('a first-party application acts as the person does', async () => {
    const { access_token } = await exchange(firstParty, await mintCode(firstParty, ['openid']));
    expect((await call('POST', '/api/auth/mfa/totp/setup', access_token)).statusCode).toBe(200);
  });
});
