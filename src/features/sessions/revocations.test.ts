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

const sidOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())['sid'] as string;

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

  it('lists revocations in the order they committed, whatever the clocks of the instances said', async () => {
    // Two instances whose clocks disagree: the second revokes after the first, stamped
    // earlier. A follower already past the first must still be told of the second.
    const reader = await serviceToken(['revocations:read']);
    const start = json<Feed>(await feed(reader)).next_cursor;
    const dave = await signedInUser(app);
    const erin = await signedInUser(app);
    await app.inject({ method: 'POST', url: '/api/auth/signout', headers: dave.auth, payload: {} });
    const afterDave = json<Feed>(await feed(reader, start));
    clock.advance(-30);
    try {
      await app.inject({
        method: 'POST',
        url: '/api/auth/signout',
        headers: erin.auth,
        payload: {},
      });
    } finally {
      clock.advance(30);
    }
    const next = json<Feed>(await feed(reader, afterDave.next_cursor));
    expect(next.items.map((item) => item.session_id)).toEqual([sidOf(erin.tokens.access_token)]);
  });

  // Only a server database can interleave transactions: the embedded one has one connection,
  // so there the scenario cannot arise (and holding A open would block the sign-out).
  it.runIf(process.env['TEST_DATABASE_URL'])(
    'on a server database, a revocation committed after a later-stamped one is not passed over',
    async () => {
      // Transaction A revokes first but commits last; B revokes and commits in between, and a
      // follower reads then. Numbered at commit, A comes after B in the feed, not before it.
      const reader = await serviceToken(['revocations:read']);
      const start = json<Feed>(await feed(reader)).next_cursor;
      const frank = await signedInUser(app);
      const gina = await signedInUser(app);
      let releaseA!: () => void;
      const aMayCommit = new Promise<void>((resolve) => (releaseA = resolve));
      let aRevoked!: () => void;
      const aHasRevoked = new Promise<void>((resolve) => (aRevoked = resolve));
      const a = deps.db.transaction().execute(async (trx) => {
        await deps.services.sessions.revokeAllForUserWithin(trx, frank.user.id, 'test');
        aRevoked();
        await aMayCommit;
      });
      await aHasRevoked;
      clock.advance(1);
      await app.inject({
        method: 'POST',
        url: '/api/auth/signout',
        headers: gina.auth,
        payload: {},
      });
      const seen = json<Feed>(await feed(reader, start));
      expect(seen.items.map((item) => item.session_id)).toEqual([sidOf(gina.tokens.access_token)]);
      releaseA();
      await a;
      const next = json<Feed>(await feed(reader, seen.next_cursor));
      expect(next.items.map((item) => item.session_id)).toEqual([sidOf(frank.tokens.access_token)]);
    },
  );

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
