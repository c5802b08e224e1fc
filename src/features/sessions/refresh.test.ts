import { describe, expect, it } from 'vitest';
import { type TokenBody, json, signedInUser, startTestApp } from '../../../test/app.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { rotateUnspentRefreshToken } from './sessions.repository.js';

const { app, deps, clock } = await startTestApp();

const refresh = (refresh_token: string) =>
  app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refresh_token } });
const me = (accessToken: string) =>
  app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${accessToken}` },
  });

async function sessionOf(refreshToken: string) {
  const row = await deps.db
    .selectFrom('refresh_tokens')
    .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
    .select([
      'sessions.id',
      'sessions.revoked_at',
      'sessions.revoked_reason',
      'sessions.expires_at',
    ])
    .where('refresh_tokens.token_hash', '=', hashOpaqueToken(refreshToken))
    .executeTakeFirstOrThrow();
  return row;
}

describe('POST /api/auth/refresh', () => {
  it('spends the token and returns a new pair for the same session, never cached', async () => {
    const { tokens, user } = await signedInUser(app);
    clock.advance(60);
    const response = await refresh(tokens.refresh_token);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const next = json<TokenBody>(response);
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(next.access_token).not.toBe(tokens.access_token);
    expect(next.user.id).toBe(user.id);
    expect((await me(next.access_token)).statusCode).toBe(200);
    expect((await sessionOf(next.refresh_token)).id).toBe(
      (await sessionOf(tokens.refresh_token)).id,
    );
    const parent = await deps.db
      .selectFrom('refresh_tokens')
      .select(['spent_at', 'replaced_by'])
      .where('token_hash', '=', hashOpaqueToken(tokens.refresh_token))
      .executeTakeFirstOrThrow();
    expect(parent.spent_at).not.toBeNull();
    expect(parent.replaced_by).toBe(hashOpaqueToken(next.refresh_token));
  });

  it('answers a retry inside REFRESH_REUSE_INTERVAL with the very same pair (two tabs stay signed in)', async () => {
    const { tokens } = await signedInUser(app);
    const first = json<TokenBody>(await refresh(tokens.refresh_token));
    clock.advance(deps.config.refreshReuseInterval - 1);
    const retry = await refresh(tokens.refresh_token);
    expect(retry.statusCode).toBe(200);
    const second = json<TokenBody>(retry);
    expect(second.refresh_token).toBe(first.refresh_token);
    expect(second.access_token).toBe(first.access_token);
    // The child still works: nobody was signed out.
    const onward = await refresh(first.refresh_token);
    expect(onward.statusCode).toBe(200);
    expect((await sessionOf(first.refresh_token)).revoked_at).toBeNull();
  });

  it('serializes two concurrent refreshes of one token: both succeed with the same pair', async () => {
    const { tokens } = await signedInUser(app);
    const [a, b] = await Promise.all([
      refresh(tokens.refresh_token),
      refresh(tokens.refresh_token),
    ]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(json<TokenBody>(a).refresh_token).toBe(json<TokenBody>(b).refresh_token);
    const children = await deps.db
      .selectFrom('refresh_tokens')
      .select('token_hash')
      .where('session_id', '=', (await sessionOf(tokens.refresh_token)).id)
      .execute();
    expect(children).toHaveLength(2);
  });

  it('treats a spent token presented after the window as reuse: 401, session revoked, event recorded', async () => {
    const { tokens, user } = await signedInUser(app);
    const child = json<TokenBody>(await refresh(tokens.refresh_token));
    clock.advance(deps.config.refreshReuseInterval + 1);
    const reuse = await refresh(tokens.refresh_token);
    expect(reuse.statusCode).toBe(401);
    expect(json(reuse)['code']).toBe('unauthorized');
    const session = await sessionOf(tokens.refresh_token);
    expect(session.revoked_at).not.toBeNull();
    expect(session.revoked_reason).toBe('refresh_reused');
    // Everything of that session stops: the child refresh token and its access token.
    expect((await refresh(child.refresh_token)).statusCode).toBe(401);
    expect((await me(child.access_token)).statusCode).toBe(401);
    const events = await deps.db
      .selectFrom('audit_events')
      .select(['type', 'data'])
      .where('user_id', '=', user.id)
      .where('type', '=', 'session.refresh_reused')
      .execute();
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({ session_id: session.id });
  });

  // An attacker holding stolen earlier tokens of a chain the client has moved along.
  it('refuses the walk down a chain: a spent token whose child was used is reuse, even inside the window', async () => {
    const { tokens } = await signedInUser(app);
    const r1 = json<TokenBody>(await refresh(tokens.refresh_token));
    const r2 = json<TokenBody>(await refresh(r1.refresh_token));
    clock.advance(1);
    const stolen = await refresh(tokens.refresh_token);
    expect(stolen.statusCode).toBe(401);
    expect(JSON.stringify(json(stolen))).not.toContain(r1.refresh_token);
    const session = await sessionOf(tokens.refresh_token);
    expect(session.revoked_at).not.toBeNull();
    expect(session.revoked_reason).toBe('refresh_reused');
    // The next step of the walk, and the legitimate client's current pair, are dead too.
    expect((await refresh(r1.refresh_token)).statusCode).toBe(401);
    expect((await refresh(r2.refresh_token)).statusCode).toBe(401);
    expect((await me(r2.access_token)).statusCode).toBe(401);
  });

  it('treats a retry after the child was used as reuse, and a retry while it is unspent as a retry', async () => {
    const { tokens } = await signedInUser(app);
    const r1 = json<TokenBody>(await refresh(tokens.refresh_token));
    // The child is still unspent: the retry gets it (a lost response, a second tab).
    const retry = json<TokenBody>(await refresh(tokens.refresh_token));
    expect(retry.refresh_token).toBe(r1.refresh_token);
    // The client moves on with the child; a retry of the parent now can only be a copy.
    expect((await refresh(r1.refresh_token)).statusCode).toBe(200);
    const late = await refresh(tokens.refresh_token);
    expect(late.statusCode).toBe(401);
    expect((await sessionOf(tokens.refresh_token)).revoked_reason).toBe('refresh_reused');
  });

  it('refuses unknown, expired and missing refresh tokens', async () => {
    expect((await refresh('not-a-real-token')).statusCode).toBe(401);
    const missing = await app.inject({ method: 'POST', url: '/api/auth/refresh', payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(json(missing)['code']).toBe('validation_failed');

    const { tokens } = await signedInUser(app);
    clock.advance(deps.config.refreshTokenTtl + 1);
    expect((await refresh(tokens.refresh_token)).statusCode).toBe(401);
  });

  it('slides the session expiry with use but never past its absolute lifetime', async () => {
    const { tokens } = await signedInUser(app);
    let current = tokens.refresh_token;
    const step = Math.floor(deps.config.refreshTokenTtl * 0.9);
    const steps = Math.ceil(deps.config.sessionMaxLifetime / step) + 1;
    let lastStatus = 200;
    for (let i = 0; i < steps && lastStatus === 200; i += 1) {
      clock.advance(step);
      const response = await refresh(current);
      lastStatus = response.statusCode;
      if (lastStatus === 200) current = json<TokenBody>(response).refresh_token;
    }
    // Used within every inactivity window, yet ended by the absolute lifetime.
    expect(lastStatus).toBe(401);
  });

  it('refuses a refresh once the user is deactivated', async () => {
    const { tokens, user } = await signedInUser(app);
    await deps.db
      .updateTable('users')
      .set({ is_active: false })
      .where('id', '=', user.id)
      .execute();
    expect((await refresh(tokens.refresh_token)).statusCode).toBe(401);
  });
});

describe('rotating an unspent refresh token in one statement', () => {
  const rotationOf = async (refreshToken: string, childHash: string) => {
    const session = await sessionOf(refreshToken);
    const now = clock.now();
    return {
      parentHash: hashOpaqueToken(refreshToken),
      childHash,
      childSealed: 'sealed',
      sessionId: session.id,
      now,
      expiresAt: new Date(now.getTime() + 60_000),
      client: { ip: null, userAgent: null },
    };
  };
  const rowExists = async (tokenHash: string) =>
    (await deps.db
      .selectFrom('refresh_tokens')
      .select('token_hash')
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst()) !== undefined;

  // The race it settles: a concurrent refresh or a sign-out lands between the unlocked read
  // and the write. The write itself must then spend nothing, so the locked path decides.
  it('spends nothing and stores no child once the token is spent', async () => {
    const { tokens } = await signedInUser(app);
    expect((await refresh(tokens.refresh_token)).statusCode).toBe(200);
    const rotation = await rotationOf(tokens.refresh_token, hashOpaqueToken('late-child'));
    expect(await rotateUnspentRefreshToken(deps.db, rotation)).toBe(false);
    expect(await rowExists(rotation.childHash)).toBe(false);
  });

  it('spends nothing and stores no child once the session is revoked', async () => {
    const { tokens } = await signedInUser(app);
    const rotation = await rotationOf(tokens.refresh_token, hashOpaqueToken('revoked-child'));
    await deps.db
      .updateTable('sessions')
      .set({ revoked_at: clock.now(), revoked_reason: 'signout' })
      .where('id', '=', rotation.sessionId)
      .execute();
    expect(await rotateUnspentRefreshToken(deps.db, rotation)).toBe(false);
    expect(await rowExists(rotation.childHash)).toBe(false);
    expect((await refresh(tokens.refresh_token)).statusCode).toBe(401);
  });
});
