import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  type TokenBody,
  json,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import {
  SoftAuthenticator,
  passkeySignIn,
  passkeySignInOptions,
  registerPasskey,
} from '../../../test/webauthn.js';
import { counterRegressed } from './passkey-ceremonies.js';

// The passkey rules that depend on configuration, each on an app of its own.

describe('the signature counter rule (WebAuthn §7.2 step 21)', () => {
  it.each([
    [0, 0, false], // no counter on either side (synced passkeys): fine
    [0, 1, false],
    [4, 5, false],
    [5, 5, true], // the same value again
    [5, 4, true],
    [5, 0, true], // a counter that was there, gone
  ])('stored %i, received %i → regressed %s', (stored, received, regressed) => {
    expect(counterRegressed(stored, received)).toBe(regressed);
  });
});

describe('WEBAUTHN_USER_VERIFICATION', () => {
  it('required: the options ask for it, and an assertion or registration without UV is refused', async () => {
    const { app } = await startTestApp({ env: { WEBAUTHN_USER_VERIFICATION: 'required' } });
    const user = await signedInUser(app);

    const options = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/options',
      headers: user.auth,
      payload: {},
    });
    expect(
      json<{ authenticatorSelection: { userVerification: string } }>(options).authenticatorSelection
        .userVerification,
    ).toBe('required');
    const unverified = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/verify',
      headers: user.auth,
      payload: {
        response: new SoftAuthenticator().register(json(options), { userVerified: false }),
      },
    });
    expect(unverified.statusCode).toBe(400);

    const authenticator = new SoftAuthenticator();
    await registerPasskey(app, user.auth, authenticator);
    const signInOptions = await passkeySignInOptions(app);
    expect(signInOptions.userVerification).toBe('required');
    const refused = await passkeySignIn(
      app,
      signInOptions.challenge_id,
      authenticator.assert(signInOptions, { userVerified: false }),
    );
    expect(refused.statusCode).toBe(401);
    expect(json(refused)['code']).toBe('invalid_credentials');

    const next = await passkeySignInOptions(app);
    const verified = await passkeySignIn(app, next.challenge_id, authenticator.assert(next));
    expect(verified.statusCode).toBe(200);
  });

  it('preferred (the default): an assertion without UV is accepted', async () => {
    const { app } = await startTestApp();
    const user = await signedInUser(app);
    const authenticator = new SoftAuthenticator();
    await registerPasskey(app, user.auth, authenticator);
    const options = await passkeySignInOptions(app);
    expect(options.userVerification).toBe('preferred');
    const response = await passkeySignIn(
      app,
      options.challenge_id,
      authenticator.assert(options, { userVerified: false }),
    );
    expect(response.statusCode).toBe(200);
  });
});

describe('WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS', () => {
  it('a passkey for the parent domain works from a listed origin only', async () => {
    const { app } = await startTestApp({
      env: {
        PUBLIC_URL: 'https://login.example.test',
        WEBAUTHN_RP_ID: 'example.test',
        WEBAUTHN_ORIGINS: 'https://login.example.test,https://app.example.test',
      },
    });
    const user = await signedInUser(app);
    const authenticator = new SoftAuthenticator();
    const options = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/options',
      headers: user.auth,
      payload: {},
    });
    expect(json<{ rp: { id: string } }>(options).rp.id).toBe('example.test');
    const registered = await app.inject({
      method: 'POST',
      url: '/api/auth/passkeys/register/verify',
      headers: user.auth,
      payload: {
        response: authenticator.register(json(options), { origin: 'https://app.example.test' }),
      },
    });
    expect(registered.statusCode).toBe(201);

    const listed = await passkeySignInOptions(app);
    const fromListed = await passkeySignIn(
      app,
      listed.challenge_id,
      authenticator.assert(listed, { origin: 'https://login.example.test' }),
    );
    expect(fromListed.statusCode).toBe(200);
    const other = await passkeySignInOptions(app);
    const fromOther = await passkeySignIn(
      app,
      other.challenge_id,
      authenticator.assert(other, { origin: 'https://evil.example.test' }),
    );
    expect(fromOther.statusCode).toBe(401);
  });
});

describe('MFA_REQUIRED_ROLES', () => {
  it("a passkey satisfies it: the admin's roles claim carries the role, the admin API answers", async () => {
    const { app, deps } = await startTestApp({ env: { MFA_REQUIRED_ROLES: 'admin' } });
    const admin = await signedInAdmin(app, deps);
    expect(decodeJwt(admin.tokens.access_token)['roles']).not.toContain('admin');
    const authenticator = new SoftAuthenticator();
    await registerPasskey(app, admin.auth, authenticator);

    const options = await passkeySignInOptions(app);
    const signIn = await passkeySignIn(app, options.challenge_id, authenticator.assert(options));
    expect(signIn.statusCode).toBe(200);
    const tokens = json<TokenBody>(signIn);
    expect(decodeJwt(tokens.access_token)['roles']).toContain('admin');
    const users = await app.inject({
      method: 'GET',
      url: '/api/admin/users',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(users.statusCode).toBe(200);
  });
});

describe('failure limits', () => {
  it("wrong passkey answers count against the owner's budget, shared with passwords (429)", async () => {
    const { app } = await startTestApp({
      env: { RATE_LIMIT: 'on', RATE_LIMIT_SIGNIN_FAILURES: '3' },
    });
    const user = await signedInUser(app);
    const authenticator = new SoftAuthenticator();
    await registerPasskey(app, user.auth, authenticator);
    for (let i = 0; i < 3; i += 1) {
      const options = await passkeySignInOptions(app);
      const wrong = await passkeySignIn(
        app,
        options.challenge_id,
        authenticator.assert(options, { forgeSignature: true }),
      );
      expect(wrong.statusCode).toBe(401);
    }
    const options = await passkeySignInOptions(app);
    const limited = await passkeySignIn(app, options.challenge_id, authenticator.assert(options));
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    // The same budget as the password's.
    const password = await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email: user.email, password: GOOD_PASSWORD },
    });
    expect(password.statusCode).toBe(429);
  });

  it('answers with unknown credentials are counted per source address', async () => {
    const { app } = await startTestApp({
      env: { RATE_LIMIT: 'on', RATE_LIMIT_SIGNIN_FAILURES: '3' },
    });
    for (let i = 0; i < 3; i += 1) {
      const options = await passkeySignInOptions(app);
      const wrong = await passkeySignIn(
        app,
        options.challenge_id,
        new SoftAuthenticator().assert(options),
      );
      expect(wrong.statusCode).toBe(401);
    }
    const options = await passkeySignInOptions(app);
    const limited = await passkeySignIn(
      app,
      options.challenge_id,
      new SoftAuthenticator().assert(options),
    );
    expect(limited.statusCode).toBe(429);
  });
});
