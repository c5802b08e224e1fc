import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  type TokenBody,
  auditEventsOf,
  json,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import { enrolTotp } from '../../../test/mfa.js';
import {
  type PasskeyBody,
  SoftAuthenticator,
  TEST_RP_ID,
  passkeySignIn,
  passkeySignInOptions,
  registerPasskey,
} from '../../../test/webauthn.js';

const { app, deps, clock, database } = await startTestApp();

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function passkeyRows(userId: string) {
  return deps.db
    .selectFrom('passkeys')
    .select(['id', 'counter', 'last_used_at', 'counter_regressed_at', 'device_type'])
    .where('user_id', '=', userId)
    .execute();
}

/** A signed-in user with one registered passkey. */
async function userWithPasskey(authenticator = new SoftAuthenticator()) {
  const user = await signedInUser(app);
  const passkey = await registerPasskey(app, user.auth, authenticator);
  return { ...user, authenticator, passkey };
}

describe('registering and managing passkeys', () => {
  it('register → list → rename → sign out → usernameless sign-in → the token works', async () => {
    const user = await signedInUser(app);
    const authenticator = new SoftAuthenticator();

    const optionsResponse = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/options',
      headers: user.auth,
      payload: {},
    });
    expect(optionsResponse.statusCode).toBe(200);
    expect(optionsResponse.headers['cache-control']).toBe('no-store');
    const options = json<{
      rp: { id: string };
      user: { name: string };
      attestation: string;
      authenticatorSelection: { residentKey: string; userVerification: string };
      excludeCredentials: unknown[];
      challenge: string;
    }>(optionsResponse);
    expect(options.rp.id).toBe(TEST_RP_ID);
    expect(options.user.name).toBe(user.email);
    expect(options.attestation).toBe('none');
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: 'required',
      userVerification: 'preferred',
    });
    expect(options.excludeCredentials).toEqual([]);
    // Only the challenge's hash is stored.
    const stored = await deps.db.selectFrom('passkey_challenges').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(options.challenge);

    const verify = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/verify',
      headers: user.auth,
      payload: { response: authenticator.register(json(optionsResponse)) },
    });
    expect(verify.statusCode).toBe(201);
    const passkey = json<PasskeyBody>(verify);
    expect(passkey).toEqual({
      id: expect.any(String),
      name: expect.stringMatching(/^Passkey \(\d{4}-\d{2}-\d{2}\)$/),
      created_at: expect.any(String),
      last_used_at: null,
      transports: ['internal'],
      backed_up: false,
    });
    expect(await auditEventsOf(deps, user.user.id, 'passkey.registered')).toHaveLength(1);

    const list = await app.inject({ method: 'GET', url: '/api/auth/passkeys', headers: user.auth });
    expect(json(list)).toEqual({ items: [passkey] });

    const renamed = await app.inject({
      method: 'PATCH',
      url: `/api/auth/passkeys/${passkey.id}`,
      headers: user.auth,
      payload: { name: '  Work laptop ' },
    });
    expect(renamed.statusCode).toBe(200);
    expect(json<PasskeyBody>(renamed).name).toBe('Work laptop');

    const signOut = await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: user.auth,
      payload: {},
    });
    expect(signOut.statusCode).toBe(204);

    const signInOptions = await passkeySignInOptions(app);
    expect(signInOptions.allowCredentials).toEqual([]);
    expect(signInOptions.rpId).toBe(TEST_RP_ID);
    const signIn = await passkeySignIn(
      app,
      signInOptions.challenge_id,
      authenticator.assert(signInOptions),
    );
    expect(signIn.statusCode).toBe(200);
    expect(signIn.headers['cache-control']).toBe('no-store');
    const tokens = json<TokenBody>(signIn);
    expect(tokens.user.id).toBe(user.user.id);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const me = await app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: bearer(tokens.access_token),
    });
    expect(me.statusCode).toBe(200);
    expect(json<{ email: string }>(me).email).toBe(user.email);

    const [row] = await passkeyRows(user.user.id);
    expect(Number(row?.counter)).toBe(1);
    expect(row?.last_used_at).toBeInstanceOf(Date);
    expect(await auditEventsOf(deps, user.user.id, 'passkey.signin')).toHaveLength(1);
    const signIns = await auditEventsOf(deps, user.user.id, 'user.signin');
    expect(signIns.map((event) => event.data)).toContainEqual(
      expect.objectContaining({ method: 'passkey', amr: ['hwk'] }),
    );
  });

  it('several passkeys per user; the options exclude those already registered', async () => {
    const user = await userWithPasskey();
    const second = new SoftAuthenticator({ backupEligible: true, backedUp: true });
    const options = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/options',
      headers: user.auth,
      payload: { name: 'Phone' },
    });
    expect(json<{ excludeCredentials: { id: string }[] }>(options).excludeCredentials).toEqual([
      expect.objectContaining({ id: user.authenticator.id }),
    ]);
    const verify = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/verify',
      headers: user.auth,
      payload: { response: second.register(json(options)) },
    });
    expect(verify.statusCode).toBe(201);
    // The name given with the options, as verify gave none; a synced passkey is backed up.
    expect(json<PasskeyBody>(verify)).toMatchObject({ name: 'Phone', backed_up: true });
    const list = await app.inject({ method: 'GET', url: '/api/auth/passkeys', headers: user.auth });
    expect(json<{ items: unknown[] }>(list).items).toHaveLength(2);

    // A synced passkey signs in with amr swk.
    const signInOptions = await passkeySignInOptions(app);
    const signIn = await passkeySignIn(
      app,
      signInOptions.challenge_id,
      second.assert(signInOptions),
    );
    expect(signIn.statusCode).toBe(200);
    const events = await auditEventsOf(deps, user.user.id, 'user.signin');
    expect(events.map((event) => event.data)).toContainEqual(
      expect.objectContaining({ method: 'passkey', amr: ['swk'] }),
    );
  });

  it('a registration response is good once, for its own user, within 5 minutes', async () => {
    const user = await signedInUser(app);
    const other = await signedInUser(app);
    const authenticator = new SoftAuthenticator();
    const options = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/options',
      headers: user.auth,
      payload: {},
    });
    const response = authenticator.register(json(options));
    // Another user cannot answer this user's challenge.
    const stolen = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/verify',
      headers: other.auth,
      payload: { response },
    });
    expect(stolen.statusCode).toBe(400);
    expect(json(stolen)['code']).toBe('validation_failed');

    clock.advance(301);
    const late = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/verify',
      headers: user.auth,
      payload: { response },
    });
    expect(late.statusCode).toBe(400);
    expect(await passkeyRows(user.user.id)).toEqual([]);
  });

  it('a registration for another RP id or origin is refused', async () => {
    const user = await signedInUser(app);
    for (const knobs of [{ rpId: 'evil.test' }, { origin: 'http://evil.test' }]) {
      const options = await app.inject({
        method: 'POST',
        url: '/api/auth/passkeys/register/options',
        headers: user.auth,
        payload: {},
      });
      const verify = await app.inject({
        method: 'POST',
        url: '/api/auth/passkeys/register/verify',
        headers: user.auth,
        payload: { response: new SoftAuthenticator().register(json(options), knobs) },
      });
      expect(verify.statusCode).toBe(400);
    }
    expect(await passkeyRows(user.user.id)).toEqual([]);
  });

  it('a credential registered to one account cannot be registered to another (409)', async () => {
    const first = await userWithPasskey();
    const second = await signedInUser(app);
    const options = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/options',
      headers: second.auth,
      payload: {},
    });
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/verify',
      headers: second.auth,
      payload: { response: first.authenticator.register(json(options)) },
    });
    expect(response.statusCode).toBe(409);
    expect(json(response)['code']).toBe('conflict');
    expect(await passkeyRows(second.user.id)).toEqual([]);
    expect((await deps.services.accounts.getUser(second.user.id)).mfa_enabled).toBe(false);
  });

  it('another user cannot rename or delete my passkey (404)', async () => {
    const owner = await userWithPasskey();
    const other = await signedInUser(app);
    const rename = await app.inject({
      method: 'PATCH',
      url: `/api/auth/passkeys/${owner.passkey.id}`,
      headers: other.auth,
      payload: { name: 'mine now' },
    });
    expect(rename.statusCode).toBe(404);
    const remove = await app.inject({
      method: 'DELETE',
      url: `/api/auth/passkeys/${owner.passkey.id}`,
      headers: other.auth,
    });
    expect(remove.statusCode).toBe(404);
    expect(await passkeyRows(owner.user.id)).toHaveLength(1);
  });

  it('bad input is a 400 and changes nothing', async () => {
    const user = await userWithPasskey();
    const before = await deps.db.selectFrom('passkeys').selectAll().execute();
    const cases = [
      { method: 'POST', url: '/api/auth/passkeys/register/verify', payload: { response: {} } },
      {
        method: 'POST',
        url: '/api/auth/passkeys/register/verify',
        payload: { response: { id: 'x', rawId: 'x', type: 'public-key' } },
      },
      { method: 'PATCH', url: `/api/auth/passkeys/${user.passkey.id}`, payload: { name: '' } },
      { method: 'PATCH', url: `/api/auth/passkeys/${user.passkey.id}`, payload: { name: '   ' } },
      { method: 'PATCH', url: `/api/auth/passkeys/not-a-uuid`, payload: { name: 'x' } },
      {
        method: 'PATCH',
        url: `/api/auth/passkeys/${user.passkey.id}`,
        payload: { name: 'x'.repeat(101) },
      },
      { method: 'POST', url: '/api/auth/passkeys/signin/options', payload: { email: 'nope' } },
      {
        method: 'POST',
        url: '/api/auth/passkeys/signin/options',
        payload: { email: user.email, mfa_token: 'x' },
      },
      { method: 'POST', url: '/api/auth/passkeys/signin/verify', payload: { challenge_id: 'x' } },
      {
        method: 'POST',
        url: '/api/auth/passkeys/signin/verify',
        payload: { challenge_id: crypto.randomUUID(), response: { id: '!!', rawId: '!!' } },
      },
    ] as const;
    for (const request of cases) {
      const response = await app.inject({ ...request, headers: user.auth });
      expect(response.statusCode, `${request.method} ${request.url}`).toBe(400);
      expect(json(response)['code']).toBe('validation_failed');
    }
    expect(await deps.db.selectFrom('passkeys').selectAll().execute()).toEqual(before);
  });
});

describe('signing in with a passkey', () => {
  it('two answers to one challenge at once: exactly one signs in', async () => {
    const user = await userWithPasskey();
    const options = await passkeySignInOptions(app);
    const assertion = user.authenticator.assert(options);
    const answers = await Promise.all([
      passkeySignIn(app, options.challenge_id, assertion),
      passkeySignIn(app, options.challenge_id, assertion),
    ]);
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([200, 401]);
  });

  it('e-mail first: the known address lists its passkeys; an unknown one the same shape', async () => {
    const user = await userWithPasskey();
    const known = await passkeySignInOptions(app, { email: user.email });
    expect(known.allowCredentials).toEqual([
      { id: user.authenticator.id, type: 'public-key', transports: ['internal'] },
    ]);
    const unknownEmail = `nobody.${Date.now()}@example.com`;
    const unknown = await passkeySignInOptions(app, { email: unknownEmail });
    const shape = (options: object) =>
      JSON.stringify(
        Object.entries(options).map(([key, value]) => [key, typeof value, Array.isArray(value)]),
      );
    expect(shape(unknown)).toBe(shape(known));
    expect(unknown.allowCredentials).toEqual([
      {
        id: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        type: 'public-key',
        transports: expect.any(Array),
      },
    ]);
    // Stable: asking again gives the same stand-in, as a real account's ids are stable.
    const again = await passkeySignInOptions(app, { email: unknownEmail.toUpperCase() });
    expect(again.allowCredentials).toEqual(unknown.allowCredentials);
    // Another instance on the same database gives the same stand-in.
    const second = await startTestApp({ database });
    const fromSecond = await passkeySignInOptions(second.app, { email: unknownEmail });
    expect(fromSecond.allowCredentials).toEqual(unknown.allowCredentials);
    await second.close();

    const signIn = await passkeySignIn(app, known.challenge_id, user.authenticator.assert(known));
    expect(signIn.statusCode).toBe(200);
  });

  it('cookie: true delivers the refresh token as an HttpOnly cookie, as password sign-in does', async () => {
    const user = await userWithPasskey();
    const options = await passkeySignInOptions(app);
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/signin/verify',
      payload: {
        challenge_id: options.challenge_id,
        response: user.authenticator.assert(options),
        cookie: true,
      },
    });
    expect(response.statusCode).toBe(200);
    const body = json<{ refresh_token?: string; csrf_token?: string }>(response);
    expect(body.refresh_token).toBeUndefined();
    expect(body.csrf_token).toEqual(expect.any(String));
    expect(String(response.headers['set-cookie'])).toMatch(/hyperion_refresh=[^;]+;.*HttpOnly/);
  });

  it('a challenge is good once: a replay, or a second try after a failure, is refused', async () => {
    const user = await userWithPasskey();
    const options = await passkeySignInOptions(app);
    const assertion = user.authenticator.assert(options);
    expect((await passkeySignIn(app, options.challenge_id, assertion)).statusCode).toBe(200);
    const replay = await passkeySignIn(app, options.challenge_id, assertion);
    expect(replay.statusCode).toBe(401);
    expect(json(replay)['code']).toBe('invalid_credentials');

    const next = await passkeySignInOptions(app);
    const forged = await passkeySignIn(
      app,
      next.challenge_id,
      user.authenticator.assert(next, { forgeSignature: true }),
    );
    expect(forged.statusCode).toBe(401);
    const retry = await passkeySignIn(app, next.challenge_id, user.authenticator.assert(next));
    expect(retry.statusCode).toBe(401);
  });

  it('an expired challenge is refused', async () => {
    const user = await userWithPasskey();
    const options = await passkeySignInOptions(app);
    clock.advance(301);
    const late = await passkeySignIn(app, options.challenge_id, user.authenticator.assert(options));
    expect(late.statusCode).toBe(401);
    expect(json(late)['code']).toBe('invalid_credentials');
  });

  it('refuses an assertion for another RP id, from another origin, or answering another challenge', async () => {
    const user = await userWithPasskey();
    for (const knobs of [
      { rpId: 'evil.test' },
      { origin: 'http://evil.test' },
      { origin: 'https://auth.test' },
      { challenge: 'c29tZXRoaW5nIGVsc2U' },
      { type: 'webauthn.create' },
      { userPresent: false },
      { userHandle: Buffer.from(crypto.randomUUID()).toString('base64url') },
    ]) {
      const options = await passkeySignInOptions(app);
      const response = await passkeySignIn(
        app,
        options.challenge_id,
        user.authenticator.assert(options, knobs),
      );
      expect(response.statusCode, JSON.stringify(knobs)).toBe(401);
      expect(json(response)['code']).toBe('invalid_credentials');
    }
    const failures = await auditEventsOf(deps, user.user.id, 'user.signin_failed');
    expect(failures.length).toBeGreaterThanOrEqual(7);
  });

  it('an unknown credential is refused like any other failure', async () => {
    const options = await passkeySignInOptions(app);
    const stranger = new SoftAuthenticator();
    const response = await passkeySignIn(app, options.challenge_id, stranger.assert(options));
    expect(response.statusCode).toBe(401);
    expect(json(response)['code']).toBe('invalid_credentials');
  });

  it("e-mail first: another account's passkey cannot answer the challenge", async () => {
    const alice = await userWithPasskey();
    const bob = await userWithPasskey();
    const options = await passkeySignInOptions(app, { email: alice.email });
    const response = await passkeySignIn(
      app,
      options.challenge_id,
      bob.authenticator.assert(options),
    );
    expect(response.statusCode).toBe(401);
  });

  it('a counter that goes backwards is refused, flagged and audited', async () => {
    const user = await userWithPasskey();
    for (let i = 0; i < 3; i += 1) {
      const options = await passkeySignInOptions(app);
      const ok = await passkeySignIn(app, options.challenge_id, user.authenticator.assert(options));
      expect(ok.statusCode).toBe(200);
    }
    const options = await passkeySignInOptions(app);
    const cloned = await passkeySignIn(
      app,
      options.challenge_id,
      user.authenticator.assert(options, { counter: 2 }),
    );
    expect(cloned.statusCode).toBe(401);
    const [row] = await passkeyRows(user.user.id);
    expect(Number(row?.counter)).toBe(3);
    expect(row?.counter_regressed_at).toBeInstanceOf(Date);
    const [event] = await auditEventsOf(deps, user.user.id, 'passkey.counter_regressed');
    expect(event?.data).toMatchObject({
      passkey_id: user.passkey.id,
      stored_counter: 3,
      received_counter: 2,
    });
  });

  it('a forged signature with a low counter does not flag the passkey', async () => {
    const user = await userWithPasskey();
    const first = await passkeySignInOptions(app);
    await passkeySignIn(app, first.challenge_id, user.authenticator.assert(first, { counter: 5 }));
    const options = await passkeySignInOptions(app);
    const forged = await passkeySignIn(
      app,
      options.challenge_id,
      user.authenticator.assert(options, { counter: 1, forgeSignature: true }),
    );
    expect(forged.statusCode).toBe(401);
    const [row] = await passkeyRows(user.user.id);
    expect(row?.counter_regressed_at).toBeNull();
    expect(await auditEventsOf(deps, user.user.id, 'passkey.counter_regressed')).toEqual([]);
  });

  it('a disabled account is refused after the passkey checked out', async () => {
    const user = await userWithPasskey();
    await deps.db
      .updateTable('users')
      .set({ is_active: false })
      .where('id', '=', user.user.id)
      .execute();
    await deps.services.accounts.usersChanged([user.user.id]);
    const options = await passkeySignInOptions(app);
    const response = await passkeySignIn(
      app,
      options.challenge_id,
      user.authenticator.assert(options),
    );
    expect(response.statusCode).toBe(403);
    expect(json(response)['code']).toBe('account_disabled');
  });
});

describe('a passkey as the second factor', () => {
  it('password + passkey: mfa_required lists passkey; the passkey answers it', async () => {
    const user = await userWithPasskey();
    const me = await deps.services.accounts.getUser(user.user.id);
    expect(me.mfa_enabled).toBe(true);

    const first = await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email: user.email, password: GOOD_PASSWORD },
    });
    const challenge = json<{ mfa_required: boolean; mfa_token: string; factors: string[] }>(first);
    expect(challenge.mfa_required).toBe(true);
    expect(challenge.factors).toEqual(['passkey']);

    const options = await passkeySignInOptions(app, { mfa_token: challenge.mfa_token });
    expect(options.allowCredentials).toEqual([
      expect.objectContaining({ id: user.authenticator.id }),
    ]);
    // The MFA challenge cannot be used for a primary sign-in.
    const misuse = await passkeySignIn(
      app,
      options.challenge_id,
      user.authenticator.assert(options),
    );
    expect(misuse.statusCode).toBe(401);

    const options2 = await passkeySignInOptions(app, { mfa_token: challenge.mfa_token });
    const verify = await app.inject({
      method: 'POST',
      url: '/api/auth/mfa/verify',
      payload: {
        mfa_token: challenge.mfa_token,
        passkey: {
          challenge_id: options2.challenge_id,
          response: user.authenticator.assert(options2),
        },
      },
    });
    expect(verify.statusCode).toBe(200);
    expect(json<TokenBody>(verify).user.id).toBe(user.user.id);
    const events = await auditEventsOf(deps, user.user.id, 'user.signin');
    expect(events.map((event) => event.data)).toContainEqual(
      expect.objectContaining({ mfa: 'passkey', amr: ['pwd', 'hwk', 'mfa'] }),
    );
  });

  it('an MFA passkey challenge is bound to its mfa_token', async () => {
    const user = await userWithPasskey();
    const signIn = () =>
      app
        .inject({
          method: 'POST',
          url: '/api/auth/signin',
          payload: { email: user.email, password: GOOD_PASSWORD },
        })
        .then((response) => json<{ mfa_token: string }>(response).mfa_token);
    const tokenA = await signIn();
    const tokenB = await signIn();
    const optionsForA = await passkeySignInOptions(app, { mfa_token: tokenA });
    const crossed = await app.inject({
      method: 'POST',
      url: '/api/auth/mfa/verify',
      payload: {
        mfa_token: tokenB,
        passkey: {
          challenge_id: optionsForA.challenge_id,
          response: user.authenticator.assert(optionsForA),
        },
      },
    });
    expect(crossed.statusCode).toBe(401);
    expect(json(crossed)['code']).toBe('invalid_mfa_code');

    const unknownToken = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/signin/options',
      payload: { mfa_token: 'not-a-live-token' },
    });
    expect(unknownToken.statusCode).toBe(401);
  });

  it('/api/auth/mfa/verify takes exactly one of code and passkey', async () => {
    const both = await app.inject({
      method: 'POST',
      url: '/api/auth/mfa/verify',
      payload: { mfa_token: 'x' },
    });
    expect(both.statusCode).toBe(400);
    expect(json(both)['code']).toBe('validation_failed');
  });

  it('TOTP removed while a passkey remains keeps MFA on; removing the last passkey turns it off', async () => {
    const user = await signedInUser(app);
    const code = await enrolTotp(app, clock, user.auth);
    const passkey = await registerPasskey(app, user.auth, new SoftAuthenticator());
    const challenge = await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email: user.email, password: GOOD_PASSWORD },
    });
    expect(json<{ factors: string[] }>(challenge).factors).toEqual([
      'totp',
      'passkey',
      'recovery_code',
    ]);

    clock.advance(30);
    const off = await app.inject({
      method: 'POST',
      url: '/api/auth/mfa/totp/disable',
      headers: user.auth,
      payload: { code: await code() },
    });
    expect(off.statusCode).toBe(204);
    expect((await deps.services.accounts.getUser(user.user.id)).mfa_enabled).toBe(true);

    const removed = await app.inject({
      method: 'DELETE',
      url: `/api/auth/passkeys/${passkey.id}`,
      headers: user.auth,
    });
    expect(removed.statusCode).toBe(204);
    expect((await deps.services.accounts.getUser(user.user.id)).mfa_enabled).toBe(false);
    const me = await app.inject({ method: 'GET', url: '/api/auth/me', headers: user.auth });
    expect(json<{ mfa_enabled: boolean }>(me).mfa_enabled).toBe(false);
    expect(await auditEventsOf(deps, user.user.id, 'passkey.removed')).toHaveLength(1);
    const disabled = await auditEventsOf(deps, user.user.id, 'mfa.disabled');
    expect(disabled.map((event) => event.data)).toContainEqual(
      expect.objectContaining({ method: 'passkey' }),
    );
    // The recovery codes went with MFA.
    const codes = await deps.db
      .selectFrom('mfa_recovery_codes')
      .select('code_hash')
      .where('user_id', '=', user.user.id)
      .execute();
    expect(codes).toEqual([]);
  });
});

describe('the last way to sign in', () => {
  it('removing a passkey while a password remains is fine; the last way in is refused (409)', async () => {
    const user = await userWithPasskey();
    const second = await registerPasskey(app, user.auth, new SoftAuthenticator());
    // Stand in for an account without a password (none can be made through the API today).
    await deps.db.deleteFrom('credentials').where('user_id', '=', user.user.id).execute();

    const other = await app.inject({
      method: 'DELETE',
      url: `/api/auth/passkeys/${second.id}`,
      headers: user.auth,
    });
    expect(other.statusCode).toBe(204);
    const last = await app.inject({
      method: 'DELETE',
      url: `/api/auth/passkeys/${user.passkey.id}`,
      headers: user.auth,
    });
    expect(last.statusCode).toBe(409);
    expect(json(last)['code']).toBe('conflict');
    expect(await passkeyRows(user.user.id)).toHaveLength(1);
  });

  it('with a password, the only passkey can be removed', async () => {
    const user = await userWithPasskey();
    const response = await app.inject({
      method: 'DELETE',
      url: `/api/auth/passkeys/${user.passkey.id}`,
      headers: user.auth,
    });
    expect(response.statusCode).toBe(204);
    expect(await passkeyRows(user.user.id)).toEqual([]);
  });
});

describe('administration', () => {
  it("an admin lists and removes a user's passkeys, audited as the actor; the user view shows factors", async () => {
    const admin = await signedInAdmin(app, deps);
    const user = await userWithPasskey();
    const view = await app.inject({
      method: 'GET',
      url: `/api/admin/users/${user.user.id}`,
      headers: admin.auth,
    });
    expect(json<{ factors: string[] }>(view).factors).toEqual(['passkey']);

    const list = await app.inject({
      method: 'GET',
      url: `/api/admin/users/${user.user.id}/passkeys`,
      headers: admin.auth,
    });
    expect(list.statusCode).toBe(200);
    expect(json<{ items: PasskeyBody[] }>(list).items.map((p) => p.id)).toEqual([user.passkey.id]);

    const forbidden = await app.inject({
      method: 'DELETE',
      url: `/api/admin/users/${user.user.id}/passkeys/${user.passkey.id}`,
      headers: user.auth,
    });
    expect(forbidden.statusCode).toBe(403);

    const removed = await app.inject({
      method: 'DELETE',
      url: `/api/admin/users/${user.user.id}/passkeys/${user.passkey.id}`,
      headers: admin.auth,
    });
    expect(removed.statusCode).toBe(204);
    const [event] = await auditEventsOf(deps, user.user.id, 'passkey.removed');
    expect(event?.actor_id).toBe(admin.user.id);
    expect((await deps.services.accounts.getUser(user.user.id)).mfa_enabled).toBe(false);

    const again = await app.inject({
      method: 'DELETE',
      url: `/api/admin/users/${user.user.id}/passkeys/${user.passkey.id}`,
      headers: admin.auth,
    });
    expect(again.statusCode).toBe(404);
    const unknownUser = await app.inject({
      method: 'GET',
      url: `/api/admin/users/${crypto.randomUUID()}/passkeys`,
      headers: admin.auth,
    });
    expect(unknownUser.statusCode).toBe(404);
  });

  it('deleting a user deletes their passkeys', async () => {
    const admin = await signedInAdmin(app, deps);
    const user = await userWithPasskey();
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/api/admin/users/${user.user.id}`,
      headers: admin.auth,
    });
    expect(deleted.statusCode).toBe(204);
    expect(await passkeyRows(user.user.id)).toEqual([]);
    const options = await passkeySignInOptions(app);
    const response = await passkeySignIn(
      app,
      options.challenge_id,
      user.authenticator.assert(options),
    );
    expect(response.statusCode).toBe(401);
  });
});

describe('the hosted sign-in service (what /login calls)', () => {
  const client = { ip: '127.0.0.1', userAgent: 'test' };

  it('passkey(): a browser session whose amr is the passkey kind', async () => {
    const user = await userWithPasskey(new SoftAuthenticator({ backupEligible: true }));
    const options = await passkeySignInOptions(app);
    const step = await deps.services.hostedSignIn.passkey(
      options.challenge_id,
      user.authenticator.assert(options),
      undefined,
      client,
    );
    expect(step.kind).toBe('signed_in');
    if (step.kind !== 'signed_in') return;
    expect(step.browser.session).toMatchObject({ userId: user.user.id, amr: ['swk'] });
  });

  it('secondFactor() with a passkey proof: amr pwd, hwk, mfa', async () => {
    const user = await userWithPasskey();
    const first = await deps.services.hostedSignIn.password(
      user.email,
      GOOD_PASSWORD,
      undefined,
      client,
    );
    expect(first.kind).toBe('mfa');
    if (first.kind !== 'mfa') return;
    const options = await passkeySignInOptions(app, { mfa_token: first.mfaToken });
    const step = await deps.services.hostedSignIn.secondFactor(
      first.mfaToken,
      {
        passkey: {
          challenge_id: options.challenge_id,
          response: user.authenticator.assert(options),
        },
      },
      undefined,
      client,
    );
    expect(step.kind).toBe('signed_in');
    if (step.kind !== 'signed_in') return;
    expect(step.browser.session.amr).toEqual(['pwd', 'hwk', 'mfa']);
  });
});

describe('housekeeping', () => {
  it('expired challenges are swept; live ones stay', async () => {
    const expired = await passkeySignInOptions(app);
    clock.advance(301);
    const live = await passkeySignInOptions(app);
    await deps.services.passkeys.sweepExpired();
    const ids = (await deps.db.selectFrom('passkey_challenges').select('id').execute()).map(
      (row) => row.id,
    );
    expect(ids).toContain(live.challenge_id);
    expect(ids).not.toContain(expired.challenge_id);
  });
});
