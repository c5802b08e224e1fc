import { describe, expect, it } from 'vitest';
import { type TokenBody, signIn, signedInUser, startTestApp } from '../../../test/app.js';

// Two instances of the service on one database (and one Redis when TEST_REDIS_URL is set),
// as behind a load balancer.
const first = await startTestApp();
const second = await startTestApp({ database: first.database, clock: first.clock });

const meOn = (instance: typeof first, tokens: TokenBody) =>
  instance.app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });

/** Polls (bounded, real time) until the request is refused, returning how long it took. */
async function msUntilRefused(
  request: () => Promise<{ statusCode: number }>,
  limitMs: number,
): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if ((await request()).statusCode === 401) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Number.POSITIVE_INFINITY;
}

describe('two instances behind one database', () => {
  it('share sessions: a token issued by one is accepted by the other', async () => {
    const { tokens } = await signedInUser(first.app);
    expect((await meOn(second, tokens)).statusCode).toBe(200);
  });

  it('a sign-out on one is refused by the other within a second', async () => {
    const { tokens } = await signedInUser(first.app);
    // The second instance has seen (and, with Redis, cached) the live session.
    expect((await meOn(second, tokens)).statusCode).toBe(200);
    expect((await meOn(second, tokens)).statusCode).toBe(200);
    await first.app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(await msUntilRefused(() => meOn(second, tokens), 1_000)).toBeLessThan(1_000);
  });

  it('a sign-out of every session on one reaches every session on the other', async () => {
    const { email, password, tokens } = await signedInUser(first.app);
    const phone = await signIn(second.app, email, password);
    expect((await meOn(second, phone)).statusCode).toBe(200);
    await first.app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: { authorization: `Bearer ${tokens.access_token}` },
      payload: { all: true },
    });
    expect(await msUntilRefused(() => meOn(second, phone), 1_000)).toBeLessThan(1_000);
  });

  it('a refresh rotated on one is replayed identically on the other inside the reuse window', async () => {
    const { tokens } = await signedInUser(first.app);
    const refresh = (instance: typeof first) =>
      instance.app.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        payload: { refresh_token: tokens.refresh_token },
      });
    const [a, b] = await Promise.all([refresh(first), refresh(second)]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(a.json<TokenBody>().refresh_token).toBe(b.json<TokenBody>().refresh_token);
  });

  it('a stolen spent token whose child was used on one instance is reuse on the other', async () => {
    const { tokens } = await signedInUser(first.app);
    const refresh = (instance: typeof first, refresh_token: string) =>
      instance.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refresh_token } });
    const r1 = (await refresh(first, tokens.refresh_token)).json<TokenBody>();
    const r2 = (await refresh(first, r1.refresh_token)).json<TokenBody>();
    expect((await refresh(second, tokens.refresh_token)).statusCode).toBe(401);
    expect((await refresh(first, r1.refresh_token)).statusCode).toBe(401);
    expect(await msUntilRefused(() => meOn(first, r2), 1_000)).toBeLessThan(1_000);
    expect(await msUntilRefused(() => meOn(second, r2), 1_000)).toBeLessThan(1_000);
  });
});
