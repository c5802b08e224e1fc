import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { json, signedInUser, startTestApp } from '../../../test/app.js';
import { openEventStream } from '../../../test/event-stream.js';
import { freePort } from '../../../test/free-port.js';
import { startOidcApp } from '../../../test/oidc.js';

// The live revocation feed (Accept: text/event-stream) over real HTTP: the backlog, then each
// sign-out within a second — on this instance, and on another one sharing the database (and
// Redis, when TEST_REDIS_URL is set) — resumed with Last-Event-ID, refused without the scope,
// and ended by the token's expiry, its session's revocation, or the server's shutdown.

const t = await startOidcApp();
afterAll(async () => t.close());
const feedUrl = (base = t.issuer) => `${base}/api/auth/revocations`;

async function serviceAccount(scopes: string[]) {
  return json<{ client_id: string; client_secret: string }>(
    await t.app.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: t.admin,
      payload: { name: `stream ${scopes.join(' ')}`, scopes },
    }),
  );
}

async function serviceToken(scopes: string[]): Promise<string> {
  const account = await serviceAccount(scopes);
  const response = await fetch(`${t.issuer}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: account.client_id,
      client_secret: account.client_secret,
    }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

const sidOf = (accessToken: string) => decodeJwt(accessToken)['sid'] as string;

async function signOut(accessToken: string, base = t.issuer): Promise<void> {
  // The feed is ordered by (revoked_at, id): a later revocation needs a later time, and the
  // test clock only moves when told.
  t.clock.advance(1);
  const response = await fetch(`${base}/api/auth/signout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(response.status).toBe(204);
}

const revokedIds = (events: { event?: string | undefined; data: string }[]) =>
  events
    .filter((event) => event.event === 'revoked')
    .map((event) => (JSON.parse(event.data) as { session_id: string }).session_id);

const reader = await serviceToken(['revocations:read']);
const bearer = { authorization: `Bearer ${reader}` };

describe('GET /api/auth/revocations as an event stream', () => {
  it('sends the backlog, ids that are the feed cursors, then each sign-out within a second', async () => {
    const alice = await signedInUser(t.app);
    await signOut(alice.tokens.access_token);
    const stream = await openEventStream(feedUrl(), bearer);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.response.headers.get('cache-control')).toBe('no-store');
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
    await stream.until(() => stream.comments.includes('backlog sent'));
    expect(stream.retry).toBe(1000);
    expect(revokedIds(stream.events)).toContain(sidOf(alice.tokens.access_token));
    // Each event's id is the JSON feed's next_cursor after that item.
    const last = stream.events[stream.events.length - 1]!;
    const page = json<{ items: unknown[]; next_cursor: string }>(
      await t.app.inject({ url: '/api/auth/revocations', headers: bearer }),
    );
    expect(last.id).toBe(page.next_cursor);

    const bob = await signedInUser(t.app);
    const before = stream.events.length;
    await signOut(bob.tokens.access_token);
    const waited = await stream.until(() => stream.events.length > before, 1_000);
    expect(waited).toBeLessThan(1_000);
    const event = stream.events[before]!;
    expect(event.event).toBe('revoked');
    expect(JSON.parse(event.data)).toEqual({
      session_id: sidOf(bob.tokens.access_token),
      revoked_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    stream.close();
  });

  it('resumes after Last-Event-ID (which wins over since) with what was missed only', async () => {
    const start = json<{ next_cursor: string }>(
      await t.app.inject({ url: '/api/auth/revocations', headers: bearer }),
    ).next_cursor;
    const dave = await signedInUser(t.app);
    await signOut(dave.tokens.access_token);
    const first = await openEventStream(`${feedUrl()}?since=${start}`, bearer);
    await first.until(() => revokedIds(first.events).includes(sidOf(dave.tokens.access_token)));
    const lastId = first.events[first.events.length - 1]!.id!;
    first.close();
    const erin = await signedInUser(t.app);
    await signOut(erin.tokens.access_token);
    const resumed = await openEventStream(`${feedUrl()}?since=${start}`, {
      ...bearer,
      'last-event-id': lastId,
    });
    await resumed.until(() => resumed.comments.includes('backlog sent'));
    expect(revokedIds(resumed.events)).toEqual([sidOf(erin.tokens.access_token)]);
    resumed.close();
  });

  it('is refused without revocations:read (403), without a token (401), with a bad id (400)', async () => {
    const other = await serviceToken(['users:read']);
    const refused = await fetch(feedUrl(), {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${other}` },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await fetch(feedUrl(), { headers: { accept: 'text/event-stream' } })).status).toBe(401);
    const bad = await fetch(feedUrl(), {
      headers: { accept: 'text/event-stream', 'last-event-id': 'nonsense', ...bearer },
    });
    expect(bad.status).toBe(400);
  });

  it("ends at the token's expiry", async () => {
    const account = await serviceAccount(['revocations:read']);
    const shortLived = await t.deps.tokens.sign(
      { sub: account.client_id, client_id: account.client_id, scope: 'revocations:read' },
      2,
    );
    const stream = await openEventStream(feedUrl(), { authorization: `Bearer ${shortLived}` });
    expect(stream.response.status).toBe(200);
    const started = Date.now();
    await stream.ended;
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("ends when the reader's own session is revoked (a user token with the permission)", async () => {
    const { tokens } = await signedInUser(t.app);
    await t.app.inject({
      method: 'POST',
      url: '/api/admin/roles',
      headers: t.admin,
      payload: { name: 'feed-reader', permissions: ['revocations:read'] },
    });
    const me = decodeJwt(tokens.access_token)['sub'] as string;
    const granted = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${me}`,
      headers: t.admin,
      payload: { roles: ['user', 'feed-reader'] },
    });
    expect(granted.statusCode).toBe(200);
    const stream = await openEventStream(feedUrl(), {
      authorization: `Bearer ${tokens.access_token}`,
    });
    expect(stream.response.status).toBe(200);
    await signOut(tokens.access_token);
    await stream.ended;
    expect(revokedIds(stream.events)).toContain(sidOf(tokens.access_token));
  });
});

describe('two instances, one database (and Redis when set)', () => {
  it.each([
    { redis: undefined, how: 'by Redis when set' },
    { redis: false as const, how: 'by its timer alone, without Redis' },
  ])(
    'a sign-out on one reaches a stream on the other within a second ($how)',
    async ({ redis }) => {
      const second = await startTestApp({
        database: t.database,
        clock: t.clock,
        env: { PUBLIC_URL: t.issuer },
        ...(redis === false ? { redis } : {}),
      });
      const port = await freePort();
      await second.app.listen({ port, host: '127.0.0.1' });
      try {
        const stream = await openEventStream(feedUrl(`http://127.0.0.1:${port}`), bearer);
        await stream.until(() => stream.comments.includes('backlog sent'));
        const { tokens } = await signedInUser(t.app);
        const before = stream.events.length;
        await signOut(tokens.access_token);
        const waited = await stream.until(() => stream.events.length > before, 1_000);
        expect(waited).toBeLessThan(1_000);
        expect(revokedIds(stream.events.slice(before))).toContain(sidOf(tokens.access_token));
        stream.close();
      } finally {
        await second.close();
      }
    },
  );

  it('shutting an instance down ends its open streams instead of hanging', async () => {
    const third = await startTestApp({
      database: t.database,
      clock: t.clock,
      env: { PUBLIC_URL: t.issuer },
    });
    const port = await freePort();
    await third.app.listen({ port, host: '127.0.0.1' });
    const stream = await openEventStream(feedUrl(`http://127.0.0.1:${port}`), bearer);
    await stream.until(() => stream.comments.includes('backlog sent'));
    const started = Date.now();
    await third.close();
    await stream.ended;
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
