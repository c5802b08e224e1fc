import { describe, expect, it } from 'vitest';
import { json, signedInAdmin, signedInUser, startTestApp } from '../../../test/app.js';

// The revocation feed a resource server follows: a service account with the scope
// `revocations:read` polls it and learns of a sign-out at its next poll.
const { app, deps, clock } = await startTestApp();
const admin = await signedInAdmin(app, deps);

async function serviceToken(scopes: string[]): Promise<string> {
  return tokenOf(await serviceAccount(scopes));
}

async function serviceAccount(scopes: string[]) {
  return json<{ client_id: string; client_secret: string }>(
    await app.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: admin.auth,
      payload: { name: `feed ${scopes.join(' ')}`, scopes },
    }),
  );
}

async function tokenOf(created: { client_id: string; client_secret: string }): Promise<string> {
  const token = await app.inject({
    method: 'POST',
    url: '/api/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: created.client_id,
      client_secret: created.client_secret,
    }).toString(),
  });
  return json<{ access_token: string }>(token).access_token;
}

interface Feed {
  items: { session_id: string; revoked_at: string }[];
  next_cursor: string;
}

const feed = async (token: string, since?: string) =>
  app.inject({
    url: `/api/auth/revocations${since ? `?since=${since}` : ''}`,
    headers: { authorization: `Bearer ${token}` },
  });

describe('GET /api/auth/revocations', () => {
  it('lists sign-outs since the last poll, oldest first, and hands the next cursor', async () => {
    const reader = await serviceToken(['revocations:read']);
    const first = json<Feed>(await feed(reader));
    const alice = await signedInUser(app);
    const bob = await signedInUser(app);
    clock.advance(1);
    await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: alice.auth,
      payload: {},
    });
    clock.advance(1);
    await app.inject({ method: 'POST', url: '/api/auth/signout', headers: bob.auth, payload: {} });
    const next = json<Feed>(await feed(reader, first.next_cursor));
    const sid = (token: string) =>
      JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())['sid'] as string;
    expect(next.items.map((item) => item.session_id)).toEqual([
      sid(alice.tokens.access_token),
      sid(bob.tokens.access_token),
    ]);
    // Nothing new: no items, and the same place to ask from.
    const quiet = json<Feed>(await feed(reader, next.next_cursor));
    expect(quiet).toEqual({ items: [], next_cursor: next.next_cursor });
  });

  it('without a cursor starts ACCESS_TOKEN_TTL ago', async () => {
    const account = await serviceAccount(['revocations:read']);
    const carol = await signedInUser(app);
    await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: carol.auth,
      payload: {},
    });
    const now = json<Feed>(await feed(await tokenOf(account)));
    expect(now.items.length).toBeGreaterThan(0);
    clock.advance(deps.config.accessTokenTtl + 60);
    try {
      // A token taken now: the one before has expired with the clock.
      const later = json<Feed>(await feed(await tokenOf(account)));
      expect(later.items).toEqual([]);
      expect(later.next_cursor).toEqual(expect.any(String));
    } finally {
      clock.advance(-(deps.config.accessTokenTtl + 60));
    }
  });

  it('is for revocations:read only; a bad cursor is a 400', async () => {
    const other = await serviceToken(['users:read']);
    expect((await feed(other)).statusCode).toBe(403);
    const user = await signedInUser(app);
    expect((await feed(user.tokens.access_token)).statusCode).toBe(403);
    expect((await app.inject({ url: '/api/auth/revocations' })).statusCode).toBe(401);
    const reader = await serviceToken(['revocations:read']);
    expect((await feed(reader, 'not-a-cursor')).statusCode).toBe(400);
  });
});
