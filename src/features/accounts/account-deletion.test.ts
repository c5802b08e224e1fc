import { describe, expect, it } from 'vitest';
import { json, signIn, signedInUser, startTestApp } from '../../../test/app.js';
import { ensureBootstrapAdmin } from './bootstrap-admin.js';

const { app, deps } = await startTestApp();

const deleteMe = (accessToken: string, password: string) =>
  app.inject({
    method: 'DELETE',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${accessToken}` },
    payload: { password },
  });

describe('DELETE /api/auth/me', () => {
  it('needs the password: 400 wrong_password otherwise, and nothing is deleted', async () => {
    const { tokens, user } = await signedInUser(app);
    const response = await deleteMe(tokens.access_token, 'not-my-password');
    expect(response.statusCode).toBe(400);
    expect(json(response)['code']).toBe('wrong_password');
    expect(
      await deps.db.selectFrom('users').select('id').where('id', '=', user.id).executeTakeFirst(),
    ).toBeDefined();
  });

  it('deletes the user, sessions, tokens and profile; audit events keep only the user id', async () => {
    const { tokens, user, email, password } = await signedInUser(app);
    const other = await signIn(app, email, password);
    const response = await deleteMe(tokens.access_token, password);
    expect(response.statusCode).toBe(204);

    for (const table of ['users', 'credentials', 'profiles', 'user_roles', 'sessions'] as const) {
      const column = table === 'users' ? 'id' : 'user_id';
      const rows = await deps.db
        .selectFrom(table)
        .select(column)
        .where(column, '=', user.id)
        .execute();
      expect(rows, table).toHaveLength(0);
    }
    expect(
      (
        await app.inject({
          method: 'GET',
          url: '/api/auth/me',
          headers: { authorization: `Bearer ${other.access_token}` },
        })
      ).statusCode,
    ).toBe(401);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/api/auth/refresh',
          payload: { refresh_token: other.refresh_token },
        })
      ).statusCode,
    ).toBe(401);
    expect(
      (await app.inject({ method: 'POST', url: '/api/auth/signin', payload: { email, password } }))
        .statusCode,
    ).toBe(401);

    const events = await deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('user_id', '=', user.id)
      .execute();
    expect(events.map((e) => e.type)).toContain('user.deleted');
    for (const event of events) {
      expect(event.ip).toBeNull();
      expect(event.user_agent).toBeNull();
      expect(JSON.stringify(event.data)).not.toContain(email.toLowerCase());
    }
  });

  it('refuses to delete the last active admin (409 conflict)', async () => {
    const second = await startTestApp();
    await ensureBootstrapAdmin(second.deps.services.accounts, {
      email: 'last-admin@example.com',
      password: 'Bootstrap-Admin-2026',
    });
    const tokens = await signIn(second.app, 'last-admin@example.com', 'Bootstrap-Admin-2026');
    const response = await second.app.inject({
      method: 'DELETE',
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${tokens.access_token}` },
      payload: { password: 'Bootstrap-Admin-2026' },
    });
    expect(response.statusCode).toBe(409);
    expect(json(response)['code']).toBe('conflict');
  });
});

describe('a wrong password at DELETE /api/auth/me counts like a failed sign-in', async () => {
  const limited = await startTestApp({
    env: { RATE_LIMIT: 'on', RATE_LIMIT_SIGNIN_FAILURES: '3' },
  });

  it('beyond the limit 429, and nothing is deleted; the right password forgives', async () => {
    const remove = (accessToken: string, password: string) =>
      limited.app.inject({
        method: 'DELETE',
        url: '/api/auth/me',
        headers: { authorization: `Bearer ${accessToken}` },
        payload: { password },
      });
    const userExists = async (id: string) =>
      (await limited.deps.db.selectFrom('users').select('id').where('id', '=', id).execute())
        .length === 1;

    const victim = await signedInUser(limited.app);
    for (let i = 0; i < 3; i += 1)
      expect((await remove(victim.tokens.access_token, 'not-my-password')).statusCode).toBe(400);
    const blocked = await remove(victim.tokens.access_token, victim.password);
    expect(blocked.statusCode).toBe(429);
    expect(json(blocked)['code']).toBe('rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(await userExists(victim.user.id)).toBe(true);

    // The right password forgives: two wrong, the right one, and the account's budget is whole.
    const owner = await signedInUser(limited.app);
    for (let i = 0; i < 2; i += 1)
      expect((await remove(owner.tokens.access_token, 'not-my-password')).statusCode).toBe(400);
    expect((await remove(owner.tokens.access_token, owner.password)).statusCode).toBe(204);
    expect(await userExists(owner.user.id)).toBe(false);
    for (let i = 0; i < 3; i += 1) {
      const signin = await limited.app.inject({
        method: 'POST',
        url: '/api/auth/signin',
        payload: { email: owner.email, password: 'not-my-password' },
      });
      expect(signin.statusCode).toBe(401);
    }
  });
});
