import { describe, expect, it } from 'vitest';
import { type TokenBody, json, signIn, signedInUser, startTestApp } from '../../../test/app.js';

const { app, deps } = await startTestApp();

const me = (accessToken: string) =>
  app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${accessToken}` },
  });
const refresh = (refresh_token: string) =>
  app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refresh_token } });
const bearer = (tokens: TokenBody) => ({ authorization: `Bearer ${tokens.access_token}` });

describe('POST /api/auth/signout', () => {
  it('ends this session at once: its access and refresh tokens stop working, others do not', async () => {
    const { email, password, tokens } = await signedInUser(app);
    const other = await signIn(app, email, password);
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: bearer(tokens),
    });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await me(tokens.access_token)).statusCode).toBe(401);
    expect((await refresh(tokens.refresh_token)).statusCode).toBe(401);
    expect((await me(other.access_token)).statusCode).toBe(200);
  });

  it('with {"all": true} ends every session of the user', async () => {
    const { email, password, tokens } = await signedInUser(app);
    const other = await signIn(app, email, password);
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: bearer(tokens),
      payload: { all: true },
    });
    expect(response.statusCode).toBe(204);
    for (const t of [tokens, other]) {
      expect((await me(t.access_token)).statusCode).toBe(401);
      expect((await refresh(t.refresh_token)).statusCode).toBe(401);
    }
    const events = await deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('type', '=', 'user.signout')
      .where('user_id', '=', tokens.user.id)
      .execute();
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ all: true });
  });

  it('needs a token: 401 without one', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/auth/signout' });
    expect(response.statusCode).toBe(401);
    expect(json(response)['code']).toBe('unauthorized');
  });
});

describe('GET /api/auth/sessions', () => {
  it('lists the live sessions, newest first, marking the current one', async () => {
    const { email, password, tokens } = await signedInUser(app);
    const second = await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password },
      headers: { 'user-agent': 'Phone/2.0' },
    });
    const phone = json<TokenBody>(second);
    const ended = await signIn(app, email, password);
    await app.inject({ method: 'POST', url: '/api/auth/signout', headers: bearer(ended) });

    const response = await app.inject({
      method: 'GET',
      url: '/api/auth/sessions',
      headers: bearer(tokens),
    });
    expect(response.statusCode).toBe(200);
    const body = json<{ items: Record<string, unknown>[]; next_cursor: string | null }>(response);
    expect(body.next_cursor).toBeNull();
    expect(body.items).toHaveLength(2);
    for (const item of body.items) {
      expect(Object.keys(item).sort()).toEqual([
        'created_at',
        'current',
        'id',
        'ip',
        'last_used_at',
        'user_agent',
      ]);
    }
    expect(body.items.filter((s) => s['current'])).toHaveLength(1);
    const phoneItem = body.items.find((s) => s['user_agent'] === 'Phone/2.0');
    expect(phoneItem).toMatchObject({ current: false, ip: '127.0.0.1' });
    expect(JSON.stringify(body)).not.toContain(phone.refresh_token);
  });

  it('pages with limit and cursor without skipping or repeating', async () => {
    const { email, password, tokens } = await signedInUser(app);
    for (let i = 0; i < 4; i += 1) await signIn(app, email, password);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/auth/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = json<{ items: { id: string }[]; next_cursor: string | null }>(
        await app.inject({ method: 'GET', url, headers: bearer(tokens) }),
      );
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });

  it('refuses a forged cursor and an out-of-range limit with 400', async () => {
    const { tokens } = await signedInUser(app);
    for (const query of ['cursor=garbage', 'limit=0', 'limit=101']) {
      const response = await app.inject({
        method: 'GET',
        url: `/api/auth/sessions?${query}`,
        headers: bearer(tokens),
      });
      expect(response.statusCode).toBe(400);
      expect(json(response)['code']).toBe('validation_failed');
    }
  });
});

describe('DELETE /api/auth/sessions/{id}', () => {
  it("ends one of the user's sessions", async () => {
    const { email, password, tokens } = await signedInUser(app);
    const other = await signIn(app, email, password);
    const list = json<{ items: { id: string; current: boolean }[] }>(
      await app.inject({ method: 'GET', url: '/api/auth/sessions', headers: bearer(tokens) }),
    );
    const target = list.items.find((s) => !s.current)!;
    const response = await app.inject({
      method: 'DELETE',
      url: `/api/auth/sessions/${target.id}`,
      headers: bearer(tokens),
    });
    expect(response.statusCode).toBe(204);
    expect((await me(other.access_token)).statusCode).toBe(401);
    expect((await me(tokens.access_token)).statusCode).toBe(200);
  });

  it("answers 404 for someone else's session and leaves it alone", async () => {
    const alice = await signedInUser(app);
    const bob = await signedInUser(app);
    const bobs = json<{ items: { id: string }[] }>(
      await app.inject({ method: 'GET', url: '/api/auth/sessions', headers: bearer(bob.tokens) }),
    );
    const response = await app.inject({
      method: 'DELETE',
      url: `/api/auth/sessions/${bobs.items[0]!.id}`,
      headers: bearer(alice.tokens),
    });
    expect(response.statusCode).toBe(404);
    expect((await me(bob.tokens.access_token)).statusCode).toBe(200);
    const badId = await app.inject({
      method: 'DELETE',
      url: '/api/auth/sessions/not-a-uuid',
      headers: bearer(alice.tokens),
    });
    expect(badId.statusCode).toBe(400);
  });
});

describe('GET /api/auth/verify (forward auth)', () => {
  it('answers 200 with the user headers a gateway copies upstream', async () => {
    const { tokens, user, email } = await signedInUser(app);
    const response = await app.inject({
      method: 'GET',
      url: '/api/auth/verify',
      headers: bearer(tokens),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-user-id']).toBe(user.id);
    expect(response.headers['x-user-email']).toBe(email.toLowerCase());
    expect(response.headers['x-user-roles']).toBe('user');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('answers 401 with WWW-Authenticate for a missing, bad, revoked or expired token', async () => {
    const { tokens } = await signedInUser(app);
    const noToken = await app.inject({ method: 'GET', url: '/api/auth/verify' });
    expect(noToken.statusCode).toBe(401);
    expect(noToken.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(noToken.headers['x-user-id']).toBeUndefined();
    const bad = await app.inject({
      method: 'GET',
      url: '/api/auth/verify',
      headers: { authorization: 'Bearer x.y.z' },
    });
    expect(bad.statusCode).toBe(401);
    await app.inject({ method: 'POST', url: '/api/auth/signout', headers: bearer(tokens) });
    const revoked = await app.inject({
      method: 'GET',
      url: '/api/auth/verify',
      headers: bearer(tokens),
    });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.headers['x-user-id']).toBeUndefined();
  });
});
