import { decodeJwt } from 'jose';
import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  type TokenBody,
  auditEventsOf,
  json,
  signIn,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import type { ProblemBody } from '../../http/problem.js';
import { toEpochSeconds } from '../../lib/clock.js';

const { app, deps, clock } = await startTestApp();

type App = typeof app;
type Clock = typeof clock;

const post = (instance: App, url: string, payload?: object, headers: Record<string, string> = {}) =>
  instance.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });

const codeAt = (secret: string, at: Clock) => generate({ secret, epoch: toEpochSeconds(at.now()) });

/** A signed-in user with MFA on: their secret and recovery codes. */
async function enrolled(instance: App = app, at: Clock = clock) {
  const user = await signedInUser(instance);
  const setup = await post(instance, '/api/auth/mfa/totp/setup', undefined, user.auth);
  const { secret } = json<{ secret: string }>(setup);
  const confirm = await post(
    instance,
    '/api/auth/mfa/totp/confirm',
    { code: await codeAt(secret, at) },
    user.auth,
  );
  expect(confirm.statusCode).toBe(200);
  // Recovery codes are shown once: never kept by a browser or proxy.
  expect(confirm.headers['cache-control']).toBe('no-store');
  const { recovery_codes } = json<{ recovery_codes: string[] }>(confirm);
  // The confirming code's time step is spent; the next sign-in uses a fresh one.
  at.advance(30);
  return { ...user, secret, recoveryCodes: recovery_codes };
}

async function challenge(email: string, password = GOOD_PASSWORD, instance: App = app) {
  const response = await post(instance, '/api/auth/signin', { email, password });
  expect(response.statusCode).toBe(200);
  // The mfa_token is a credential for five minutes.
  expect(response.headers['cache-control']).toBe('no-store');
  const body = json<{ mfa_required: boolean; mfa_token: string; access_token?: string }>(response);
  expect(body.mfa_required).toBe(true);
  expect(body.access_token).toBeUndefined();
  return body.mfa_token;
}

describe('TOTP enrolment', () => {
  it('setup gives a secret and an otpauth:// URL; needs a bearer token', async () => {
    expect((await post(app, '/api/auth/mfa/totp/setup')).statusCode).toBe(401);
    const user = await signedInUser(app);
    const response = await post(app, '/api/auth/mfa/totp/setup', undefined, user.auth);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const { secret, otpauth_url } = json<{ secret: string; otpauth_url: string }>(response);
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    const url = new URL(otpauth_url);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(url.searchParams.get('secret')).toBe(secret);
    expect(url.searchParams.get('issuer')).toBe('Hyperion Auth');
    expect(decodeURIComponent(url.pathname)).toContain(user.email);
  });

  it('a wrong first code leaves MFA off; the right one turns it on with 10 recovery codes', async () => {
    const user = await signedInUser(app);
    const { secret } = json<{ secret: string }>(
      await post(app, '/api/auth/mfa/totp/setup', undefined, user.auth),
    );
    const wrong = await post(app, '/api/auth/mfa/totp/confirm', { code: '000000' }, user.auth);
    expect(wrong.statusCode).toBe(401);
    expect(json<ProblemBody>(wrong).code).toBe('invalid_mfa_code');
    expect((await deps.services.accounts.getUser(user.user.id)).mfa_enabled).toBe(false);

    const right = await post(
      app,
      '/api/auth/mfa/totp/confirm',
      { code: await codeAt(secret, clock) },
      user.auth,
    );
    expect(right.statusCode).toBe(200);
    const codes = json<{ recovery_codes: string[] }>(right).recovery_codes;
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);

    const me = await app.inject({ method: 'GET', url: '/api/auth/me', headers: user.auth });
    expect(json<{ mfa_enabled: boolean }>(me).mfa_enabled).toBe(true);
    expect(await auditEventsOf(deps, user.user.id, 'mfa.enabled')).toHaveLength(1);

    // Stored hashed only; the secret is not in any later answer.
    const stored = await deps.db
      .selectFrom('mfa_recovery_codes')
      .select('code_hash')
      .where('user_id', '=', user.user.id)
      .execute();
    expect(stored).toHaveLength(10);
    expect(JSON.stringify(stored)).not.toContain(codes[0]!.replace('-', ''));
    expect(me.body).not.toContain(secret);

    expect((await post(app, '/api/auth/mfa/totp/setup', undefined, user.auth)).statusCode).toBe(
      409,
    );
  });

  it('confirm before setup is a conflict; a malformed code a 400', async () => {
    const user = await signedInUser(app);
    expect(
      (await post(app, '/api/auth/mfa/totp/confirm', { code: '123456' }, user.auth)).statusCode,
    ).toBe(409);
    expect(
      (await post(app, '/api/auth/mfa/totp/confirm', { code: 12 }, user.auth)).statusCode,
    ).toBe(400);
  });
});

describe('signing in with MFA', () => {
  it('the password gives an mfa_token; a TOTP code then gives the tokens', async () => {
    const user = await enrolled();
    const mfaToken = await challenge(user.email);
    const wrong = await post(app, '/api/auth/mfa/verify', { mfa_token: mfaToken, code: '000000' });
    expect(wrong.statusCode).toBe(401);
    expect(json<ProblemBody>(wrong).code).toBe('invalid_mfa_code');
    const right = await post(app, '/api/auth/mfa/verify', {
      mfa_token: mfaToken,
      code: await codeAt(user.secret, clock),
    });
    expect(right.statusCode).toBe(200);
    expect(right.headers['cache-control']).toBe('no-store');
    const tokens = json<TokenBody>(right);
    expect(tokens.user.id).toBe(user.user.id);
    const me = await app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(me.statusCode).toBe(200);
    const [event] = (await auditEventsOf(deps, user.user.id, 'user.signin')).slice(-1);
    expect(event?.data).toMatchObject({ mfa: 'totp' });
    // The token was single use.
    const again = await post(app, '/api/auth/mfa/verify', {
      mfa_token: mfaToken,
      code: await codeAt(user.secret, clock),
    });
    expect(again.statusCode).toBe(401);
    expect(json<ProblemBody>(again).code).toBe('unauthorized');
  });

  it('a TOTP code cannot be replayed inside its window', async () => {
    const user = await enrolled();
    const code = await codeAt(user.secret, clock);
    const first = await post(app, '/api/auth/mfa/verify', {
      mfa_token: await challenge(user.email),
      code,
    });
    expect(first.statusCode).toBe(200);
    const replay = await post(app, '/api/auth/mfa/verify', {
      mfa_token: await challenge(user.email),
      code,
    });
    expect(replay.statusCode).toBe(401);
    expect(json<ProblemBody>(replay).code).toBe('invalid_mfa_code');
    clock.advance(30);
    const next = await post(app, '/api/auth/mfa/verify', {
      mfa_token: await challenge(user.email),
      code: await codeAt(user.secret, clock),
    });
    expect(next.statusCode).toBe(200);
  });

  it('two requests with the same code at once: one wins', async () => {
    const user = await enrolled();
    const code = await codeAt(user.secret, clock);
    const tokens = [await challenge(user.email), await challenge(user.email)];
    const results = await Promise.all(
      tokens.map((mfaToken) => post(app, '/api/auth/mfa/verify', { mfa_token: mfaToken, code })),
    );
    expect(results.map((response) => response.statusCode).sort()).toEqual([200, 401]);
  });

  it('each recovery code works once, and its use is audited', async () => {
    const user = await enrolled();
    const [recovery] = user.recoveryCodes;
    const first = await post(app, '/api/auth/mfa/verify', {
      mfa_token: await challenge(user.email),
      code: recovery!.toUpperCase(),
    });
    expect(first.statusCode).toBe(200);
    const again = await post(app, '/api/auth/mfa/verify', {
      mfa_token: await challenge(user.email),
      code: recovery!,
    });
    expect(again.statusCode).toBe(401);
    const [used] = await auditEventsOf(deps, user.user.id, 'mfa.recovery_code_used');
    expect(used?.data).toEqual({ remaining: 9 });
  });

  it('an mfa_token expires after 5 minutes', async () => {
    const user = await enrolled();
    const mfaToken = await challenge(user.email);
    clock.advance(301);
    const response = await post(app, '/api/auth/mfa/verify', {
      mfa_token: mfaToken,
      code: await codeAt(user.secret, clock),
    });
    expect(response.statusCode).toBe(401);
    expect(json<ProblemBody>(response).code).toBe('unauthorized');
  });

  it('the token endpoint answers an MFA account with 403 mfa_required and an mfa_token', async () => {
    const user = await enrolled();
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { grant_type: 'password', username: user.email, password: GOOD_PASSWORD },
    });
    expect(response.statusCode).toBe(403);
    const body = json<{ error: string; mfa_token: string }>(response);
    expect(body.error).toBe('mfa_required');
    const verified = await post(app, '/api/auth/mfa/verify', {
      mfa_token: body.mfa_token,
      code: await codeAt(user.secret, clock),
    });
    expect(verified.statusCode).toBe(200);
  });
});

describe('turning MFA off', () => {
  it('takes a valid code; then sign-in gives tokens directly again', async () => {
    const user = await enrolled();
    const refused = await post(app, '/api/auth/mfa/totp/disable', { code: '000000' }, user.auth);
    expect(refused.statusCode).toBe(401);
    const response = await post(
      app,
      '/api/auth/mfa/totp/disable',
      { code: await codeAt(user.secret, clock) },
      user.auth,
    );
    expect(response.statusCode).toBe(204);
    expect((await signIn(app, user.email, GOOD_PASSWORD)).access_token).toBeTruthy();
    expect(await auditEventsOf(deps, user.user.id, 'mfa.disabled')).toHaveLength(1);
    expect(
      (await post(app, '/api/auth/mfa/totp/disable', { code: '123456' }, user.auth)).statusCode,
    ).toBe(409);
  });
});

describe('MFA_REQUIRED_ROLES', () => {
  it('an admin must enrol before the admin API answers; then their token works', async () => {
    const {
      app: strict,
      deps: strictDeps,
      clock: strictClock,
    } = await startTestApp({
      env: { MFA_REQUIRED_ROLES: 'admin' },
    });
    const admin = await signedInAdmin(strict, strictDeps);
    const refused = await strict.inject({
      method: 'GET',
      url: '/api/admin/users',
      headers: admin.auth,
    });
    expect(refused.statusCode).toBe(403);
    expect(json<ProblemBody>(refused).code).toBe('mfa_required');
    const { secret } = json<{ secret: string }>(
      await post(strict, '/api/auth/mfa/totp/setup', undefined, admin.auth),
    );
    await post(
      strict,
      '/api/auth/mfa/totp/confirm',
      { code: await codeAt(secret, strictClock) },
      admin.auth,
    );
    const allowed = await strict.inject({
      method: 'GET',
      url: '/api/admin/users',
      headers: admin.auth,
    });
    expect(allowed.statusCode).toBe(200);
  });
});

describe('MFA_REQUIRED_ROLES in the access token', async () => {
  const {
    app: strict,
    deps: strictDeps,
    clock: strictClock,
  } = await startTestApp({ env: { MFA_REQUIRED_ROLES: 'admin' } });
  const rolesClaim = (accessToken: string) => decodeJwt(accessToken)['roles'] as string[];

  async function forwardAuthRoles(instance: App, accessToken: string) {
    const response = await instance.inject({
      method: 'GET',
      url: '/api/auth/verify',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(response.statusCode).toBe(200);
    return String(response.headers['x-user-roles']).split(',');
  }

  it('the roles claim and X-User-Roles lack the role until MFA is on; then refresh and sign-in carry it', async () => {
    const admin = await signedInAdmin(strict, strictDeps);
    // The user object tells the truth; the claim, which others believe, waits for MFA.
    expect(admin.tokens.user.roles).toContain('admin');
    expect(rolesClaim(admin.tokens.access_token)).not.toContain('admin');
    expect(await forwardAuthRoles(strict, admin.tokens.access_token)).not.toContain('admin');

    const { secret } = json<{ secret: string }>(
      await post(strict, '/api/auth/mfa/totp/setup', undefined, admin.auth),
    );
    const confirmed = await post(
      strict,
      '/api/auth/mfa/totp/confirm',
      { code: await codeAt(secret, strictClock) },
      admin.auth,
    );
    expect(confirmed.statusCode).toBe(200);

    const refreshed = await post(strict, '/api/auth/refresh', {
      refresh_token: admin.tokens.refresh_token,
    });
    expect(refreshed.statusCode).toBe(200);
    const refreshedToken = json<TokenBody>(refreshed).access_token;
    expect(rolesClaim(refreshedToken)).toContain('admin');
    expect(await forwardAuthRoles(strict, refreshedToken)).toContain('admin');

    strictClock.advance(30);
    const mfaToken = await challenge(admin.email, GOOD_PASSWORD, strict);
    const signedIn = await post(strict, '/api/auth/mfa/verify', {
      mfa_token: mfaToken,
      code: await codeAt(secret, strictClock),
    });
    expect(signedIn.statusCode).toBe(200);
    expect(rolesClaim(json<TokenBody>(signedIn).access_token)).toContain('admin');
  });

  it('without MFA_REQUIRED_ROLES an admin token carries admin from the start', async () => {
    const admin = await signedInAdmin(app, deps);
    expect(rolesClaim(admin.tokens.access_token)).toContain('admin');
  });
});

describe('wrong MFA codes count against the limits', () => {
  it('the 11th wrong code from one source is refused with 429', async () => {
    const { app: limited, clock: limitedClock } = await startTestApp({
      env: { RATE_LIMIT: 'on' },
    });
    const user = await enrolled(limited, limitedClock);
    const mfaToken = await challenge(user.email, GOOD_PASSWORD, limited);
    for (let i = 0; i < 9; i += 1) {
      const response = await post(limited, '/api/auth/mfa/verify', {
        mfa_token: mfaToken,
        code: '000000',
      });
      expect(response.statusCode).toBe(401);
    }
    // The password's own attempt was forgiven, so ten wrong codes fit; the eleventh does not.
    await post(limited, '/api/auth/mfa/verify', { mfa_token: mfaToken, code: '000000' });
    const blocked = await post(limited, '/api/auth/mfa/verify', {
      mfa_token: mfaToken,
      code: await codeAt(user.secret, limitedClock),
    });
    expect(blocked.statusCode).toBe(429);
  });

  describe('at confirm and disable, which a stolen session could otherwise guess at', async () => {
    // Three failures per account and source: small enough to reach, the same counters as
    // sign-in. Each test has its own user, so its own counters.
    const {
      app: limited,
      deps: limitedDeps,
      clock: limitedClock,
    } = await startTestApp({ env: { RATE_LIMIT: 'on', RATE_LIMIT_SIGNIN_FAILURES: '3' } });
    const expectRateLimited = (response: Awaited<ReturnType<typeof post>>) => {
      expect(response.statusCode).toBe(429);
      expect(json<ProblemBody>(response).code).toBe('rate_limited');
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    };

    it('wrong confirm codes count: beyond the limit even the right one gets 429', async () => {
      const user = await signedInUser(limited);
      const { secret } = json<{ secret: string }>(
        await post(limited, '/api/auth/mfa/totp/setup', undefined, user.auth),
      );
      for (let i = 0; i < 3; i += 1) {
        const wrong = await post(
          limited,
          '/api/auth/mfa/totp/confirm',
          { code: '000000' },
          user.auth,
        );
        expect(wrong.statusCode).toBe(401);
      }
      expectRateLimited(
        await post(
          limited,
          '/api/auth/mfa/totp/confirm',
          { code: await codeAt(secret, limitedClock) },
          user.auth,
        ),
      );
      expect((await limitedDeps.services.accounts.getUser(user.user.id)).mfa_enabled).toBe(false);
    });

    it('wrong disable codes count like failed sign-ins: MFA stays on, sign-in is refused too', async () => {
      const user = await enrolled(limited, limitedClock);
      for (let i = 0; i < 3; i += 1) {
        const wrong = await post(
          limited,
          '/api/auth/mfa/totp/disable',
          { code: '000000' },
          user.auth,
        );
        expect(wrong.statusCode).toBe(401);
      }
      expectRateLimited(
        await post(
          limited,
          '/api/auth/mfa/totp/disable',
          { code: await codeAt(user.secret, limitedClock) },
          user.auth,
        ),
      );
      // A recovery code is a guess like any other.
      expectRateLimited(
        await post(
          limited,
          '/api/auth/mfa/totp/disable',
          { code: user.recoveryCodes[0]! },
          user.auth,
        ),
      );
      expect((await limitedDeps.services.accounts.getUser(user.user.id)).mfa_enabled).toBe(true);
      expectRateLimited(
        await post(limited, '/api/auth/signin', { email: user.email, password: GOOD_PASSWORD }),
      );
    });

    it('the right code forgives the wrong ones before it', async () => {
      const user = await signedInUser(limited);
      const { secret } = json<{ secret: string }>(
        await post(limited, '/api/auth/mfa/totp/setup', undefined, user.auth),
      );
      for (let i = 0; i < 2; i += 1)
        await post(limited, '/api/auth/mfa/totp/confirm', { code: '000000' }, user.auth);
      const confirmed = await post(
        limited,
        '/api/auth/mfa/totp/confirm',
        { code: await codeAt(secret, limitedClock) },
        user.auth,
      );
      expect(confirmed.statusCode).toBe(200);
      limitedClock.advance(30);
      // Forgiven: two more wrong codes and then the right one still fit in the budget of three.
      for (let i = 0; i < 2; i += 1) {
        const wrong = await post(
          limited,
          '/api/auth/mfa/totp/disable',
          { code: '000000' },
          user.auth,
        );
        expect(wrong.statusCode).toBe(401);
      }
      const disabled = await post(
        limited,
        '/api/auth/mfa/totp/disable',
        { code: await codeAt(secret, limitedClock) },
        user.auth,
      );
      expect(disabled.statusCode).toBe(204);
      // And forgiven again: three wrong passwords are answered 401, not 429.
      for (let i = 0; i < 3; i += 1) {
        const wrong = await post(limited, '/api/auth/signin', {
          email: user.email,
          password: 'not-the-password-at-all',
        });
        expect(wrong.statusCode).toBe(401);
      }
    });
  });
});
