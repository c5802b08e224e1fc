import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  json,
  signIn,
  signUp,
  signedInUser,
  startTestApp,
  uniqueEmail,
} from '../../../test/app.js';

const { app, deps, clock } = await startTestApp();

const signup = (payload: unknown) =>
  app.inject({ method: 'POST', url: '/api/auth/signup', payload: payload as object });

describe('POST /api/auth/signup', () => {
  it('creates a user and answers 201 with the user object only', async () => {
    const email = uniqueEmail('New');
    const response = await signup({
      email: `  ${email.toUpperCase()} `,
      password: GOOD_PASSWORD,
      name: 'Ada',
    });
    expect(response.statusCode).toBe(201);
    const user = json(response);
    expect(Object.keys(user).sort()).toEqual(
      [
        'created_at',
        'email',
        'email_verified',
        'id',
        'is_active',
        'last_signin_at',
        'mfa_enabled',
        'name',
        'roles',
      ].sort(),
    );
    expect(user).toMatchObject({
      email: email.toLowerCase(),
      email_verified: false,
      name: 'Ada',
      roles: ['user'],
      is_active: true,
      mfa_enabled: false,
      last_signin_at: null,
    });
    expect(user['id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(user['created_at'] as string).toISOString()).toBe(user['created_at']);
    expect(response.body).not.toContain('argon2');

    const stored = await deps.db
      .selectFrom('credentials')
      .select('password_hash')
      .where('user_id', '=', user['id'] as string)
      .executeTakeFirstOrThrow();
    expect(stored.password_hash).toMatch(/^\$argon2id\$/);
    const profile = await deps.db
      .selectFrom('profiles')
      .selectAll()
      .where('user_id', '=', user['id'] as string)
      .executeTakeFirst();
    expect(profile).toBeDefined();
  });

  it('treats e-mail addresses case-insensitively: a second sign-up is 409 email_taken', async () => {
    const { email } = await signUp(app);
    const response = await signup({ email: email.toUpperCase(), password: GOOD_PASSWORD });
    expect(response.statusCode).toBe(409);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(json(response)['code']).toBe('email_taken');
    const count = await deps.db
      .selectFrom('users')
      .select(deps.db.fn.countAll<number>().as('n'))
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it('settles two simultaneous sign-ups with one address: one 201, one 409', async () => {
    const email = uniqueEmail('race');
    const [a, b] = await Promise.all([
      signup({ email, password: GOOD_PASSWORD }),
      signup({ email, password: GOOD_PASSWORD }),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
  });

  it.each([
    ['too short', 'Ab1!xyz', 'must be at least 8 characters'],
    ['common', 'password123', 'is too common'],
    ['common, any case', 'PassWord1234', 'is too common'],
    ['too long', 'x'.repeat(129), 'must be at most 128 characters'],
  ])('refuses a %s password with weak_password and a reason', async (_label, password, reason) => {
    const email = uniqueEmail('weak');
    const response = await signup({ email, password });
    expect(response.statusCode).toBe(400);
    const body = json<{ code: string; errors: { field: string; message: string }[] }>(response);
    expect(body.code).toBe('weak_password');
    expect(body.errors).toContainEqual({ field: 'password', message: reason });
    const user = await deps.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirst();
    expect(user).toBeUndefined();
  });

  it('refuses a password that contains the e-mail address', async () => {
    const email = uniqueEmail('marguerite');
    const local = email.split('@')[0]!;
    const response = await signup({ email, password: `${local}-Secret` });
    expect(json(response)['code']).toBe('weak_password');
    expect(json<{ errors: { message: string }[] }>(response).errors).toContainEqual({
      field: 'password',
      message: 'must not contain the e-mail address',
    });
  });

  it.each([
    ['a missing password', { email: 'x@example.com' }, 'password'],
    ['a malformed e-mail', { email: 'not-an-email', password: GOOD_PASSWORD }, 'email'],
    ['a number as password', { email: 'y@example.com', password: 12345678 }, 'password'],
    [
      'an absurdly long name',
      { email: 'z@example.com', password: GOOD_PASSWORD, name: 'n'.repeat(5000) },
      'name',
    ],
  ])('answers 400 validation_failed for %s, naming the field', async (_label, payload, field) => {
    const response = await signup(payload);
    expect(response.statusCode).toBe(400);
    const body = json<{ code: string; errors: { field: string }[] }>(response);
    expect(body.code).toBe('validation_failed');
    expect(body.errors.map((e) => e.field)).toContain(field);
  });

  it('drops unknown fields instead of storing them (no role escalation through the body)', async () => {
    const email = uniqueEmail('sneaky');
    const response = await signup({
      email,
      password: GOOD_PASSWORD,
      roles: ['admin'],
      is_active: false,
      email_verified: true,
    });
    expect(response.statusCode).toBe(201);
    expect(json(response)).toMatchObject({
      roles: ['user'],
      is_active: true,
      email_verified: false,
    });
  });
});

describe('GET /api/auth/me', () => {
  it('returns the signed-in user', async () => {
    const { user, auth } = await signedInUser(app);
    const response = await app.inject({ method: 'GET', url: '/api/auth/me', headers: auth });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toMatchObject({ id: user.id, email: user.email, roles: ['user'] });
    expect(json(response)['last_signin_at']).not.toBeNull();
  });

  it('answers 401 unauthorized without a token, with a garbage token and with a tampered token', async () => {
    const { tokens } = await signedInUser(app);
    const [header, payload, signature] = tokens.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString(
      'base64url',
    );
    for (const authorization of [
      undefined,
      'Bearer nonsense',
      `Bearer ${header}.${forged}.${signature}`,
      `Basic abc`,
    ]) {
      const response = await app.inject({
        method: 'GET',
        url: '/api/auth/me',
        headers: authorization ? { authorization } : {},
      });
      expect(response.statusCode).toBe(401);
      expect(json(response)['code']).toBe('unauthorized');
    }
  });

  it('refuses the token of a user deleted since it was issued', async () => {
    const { user, auth } = await signedInUser(app);
    await deps.db.deleteFrom('users').where('id', '=', user.id).execute();
    const response = await app.inject({ method: 'GET', url: '/api/auth/me', headers: auth });
    expect(response.statusCode).toBe(401);
  });

  it('answers 401 token_expired once the access token has expired', async () => {
    const { auth } = await signedInUser(app);
    clock.advance(deps.config.accessTokenTtl + 1);
    const response = await app.inject({ method: 'GET', url: '/api/auth/me', headers: auth });
    expect(response.statusCode).toBe(401);
    expect(json(response)['code']).toBe('token_expired');
  });
});

it('signs in with the password chosen at sign-up', async () => {
  const { email, password } = await signUp(app);
  const tokens = await signIn(app, email, password);
  expect(tokens.token_type).toBe('bearer');
});
