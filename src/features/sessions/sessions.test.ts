import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  type TokenBody,
  auditEventsOf,
  json,
  signIn,
  signUp,
  startTestApp,
  uniqueEmail,
} from '../../../test/app.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';

const { app, deps } = await startTestApp();

const signin = (payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/api/auth/signin', payload, headers });

async function passwordHashOf(userId: string): Promise<string> {
  const row = await deps.db
    .selectFrom('credentials')
    .select('password_hash')
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return row.password_hash;
}

/** Counts the password verifications the hasher performs while `work` runs. */
async function countVerifications(work: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const previous = deps.hasher.onTiming;
  deps.hasher.onTiming = (operation) => {
    if (operation === 'verify') count += 1;
  };
  try {
    await work();
  } finally {
    deps.hasher.onTiming = previous;
  }
  return count;
}

describe('POST /api/auth/signin', () => {
  it('answers a token response, never cached, and opens a session with a hashed refresh token', async () => {
    const { email, password, user } = await signUp(app);
    const response = await signin(
      { email: email.toUpperCase(), password },
      { 'user-agent': 'TestAgent/1.0' },
    );
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = json<TokenBody>(response);
    expect(body.token_type).toBe('bearer');
    expect(body.expires_in).toBe(deps.config.accessTokenTtl);
    expect(body.access_token.split('.')).toHaveLength(3);
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.user).toMatchObject({ id: user.id, email: email.toLowerCase() });
    expect(body.user.last_signin_at).not.toBeNull();

    const sessions = await deps.db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', user.id)
      .execute();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ user_agent: 'TestAgent/1.0', revoked_at: null });
    // Only the SHA-256 of the refresh token is stored, never the token itself.
    const stored = await deps.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('session_id', '=', sessions[0]!.id)
      .execute();
    expect(stored.map((r) => r.token_hash)).toEqual([hashOpaqueToken(body.refresh_token)]);
    const everything = JSON.stringify(
      await deps.db.selectFrom('refresh_tokens').selectAll().execute(),
    );
    expect(everything).not.toContain(body.refresh_token);
    // The sign-in's audit event and the account's last sign-in are stored with the session.
    const events = await auditEventsOf(deps, user.id, 'user.signin');
    expect(events.map((event) => event.data)).toEqual([{ session_id: sessions[0]!.id }]);
    expect(events[0]).toMatchObject({ actor_id: user.id, user_agent: 'TestAgent/1.0' });
    const storedUser = await deps.db
      .selectFrom('users')
      .select('last_signin_at')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(storedUser.last_signin_at?.toISOString()).toBe(body.user.last_signin_at);
  });

  it('answers an unknown e-mail and a wrong password identically, after the same hashing work', async () => {
    const { email } = await signUp(app);
    let wrong: Awaited<ReturnType<typeof signin>> | undefined;
    let unknown: Awaited<ReturnType<typeof signin>> | undefined;
    const wrongWork = await countVerifications(async () => {
      wrong = await signin({ email, password: 'not-the-password-1' });
    });
    const unknownWork = await countVerifications(async () => {
      unknown = await signin({ email: uniqueEmail('ghost'), password: 'not-the-password-1' });
    });
    expect(wrong!.statusCode).toBe(401);
    expect(unknown!.statusCode).toBe(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });
    expect(strip(json(unknown!))).toEqual(strip(json(wrong!)));
    expect(json(wrong!)['code']).toBe('invalid_credentials');
    expect(Object.keys(unknown!.headers).sort()).toEqual(Object.keys(wrong!.headers).sort());
    // An argon2 verification in both cases: a dummy hash stands in for the missing account.
    expect(wrongWork).toBe(1);
    expect(unknownWork).toBe(1);
  });

  it('says an account is disabled only after the password checked out', async () => {
    const { email, password, user } = await signUp(app);
    await deps.db
      .updateTable('users')
      .set({ is_active: false })
      .where('id', '=', user.id)
      .execute();
    expect(json(await signin({ email, password: 'wrong-password-123' }))['code']).toBe(
      'invalid_credentials',
    );
    const response = await signin({ email, password });
    expect(response.statusCode).toBe(403);
    expect(json(response)['code']).toBe('account_disabled');
    const sessions = await deps.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    expect(sessions).toHaveLength(0);
  });

  it('accepts a bcrypt hash from an older service and upgrades it to argon2id', async () => {
    const { email, user } = await signUp(app);
    const legacyPassword = 'legacy-Password-from-2019';
    const legacy = (await bcrypt.hash(legacyPassword, 4)).replace(/^\$2b\$/, '$2y$');
    await deps.db
      .updateTable('credentials')
      .set({ password_hash: legacy })
      .where('user_id', '=', user.id)
      .execute();

    expect((await signin({ email, password: 'wrong-password-123' })).statusCode).toBe(401);
    expect(await passwordHashOf(user.id)).toBe(legacy);
    await signIn(app, email, legacyPassword);
    const upgraded = await passwordHashOf(user.id);
    expect(upgraded).toMatch(/^\$argon2id\$/);
    expect(await argon2.verify(upgraded, legacyPassword)).toBe(true);
    await signIn(app, email, legacyPassword);
  });

  it('re-hashes an argon2 hash made with weaker parameters than configured', async () => {
    const { email, password, user } = await signUp(app);
    const weak = await argon2.hash(password, {
      type: argon2.argon2id,
      memoryCost: 512,
      timeCost: 1,
      parallelism: 1,
    });
    await deps.db
      .updateTable('credentials')
      .set({ password_hash: weak })
      .where('user_id', '=', user.id)
      .execute();
    await signIn(app, email, password);
    const after = await passwordHashOf(user.id);
    expect(after).not.toBe(weak);
    expect(after).toContain(`m=${deps.config.passwordHashing.memoryKib}`);
  });

  it.each([
    ['no body', undefined],
    ['a missing password', { email: 'a@example.com' }],
    ['a non-string e-mail', { email: 42, password: 'x' }],
  ])('answers 400 validation_failed for %s', async (_label, payload) => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: payload as object | undefined,
      headers: { 'content-type': 'application/json' },
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)['code']).toBe('validation_failed');
  });
});

describe('EMAIL_VERIFICATION_REQUIRED=true', async () => {
  const strict = await startTestApp({ env: { EMAIL_VERIFICATION_REQUIRED: 'true' } });

  it('refuses an unverified account with 403 email_not_verified, but only after the password checked out', async () => {
    const { email, password } = await signUp(strict.app);
    const wrong = await strict.app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: 'nope-nope-nope' },
    });
    expect(json(wrong)['code']).toBe('invalid_credentials');
    const right = await strict.app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password },
    });
    expect(right.statusCode).toBe(403);
    expect(json(right)['code']).toBe('email_not_verified');
  });

  it('lets a verified account in', async () => {
    const { email, password, user } = await signUp(strict.app, { password: GOOD_PASSWORD });
    await strict.deps.db
      .updateTable('users')
      .set({ email_verified: true })
      .where('id', '=', user.id)
      .execute();
    const tokens = await signIn(strict.app, email, password);
    expect(tokens.user.id).toBe(user.id);
  });
});
