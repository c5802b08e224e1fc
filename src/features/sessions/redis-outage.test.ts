import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type TokenBody,
  json,
  signIn,
  signUp,
  signedInAdmin,
  signedInUser,
  type TestApp,
  startTestApp,
} from '../../../test/app.js';
import { startRedisProcess } from '../../../test/redis-process.js';
import type { ProblemBody } from '../../http/problem.js';
import { eventually } from '../../../test/eventually.js';

const bearer = (tokens: TokenBody) => ({ authorization: `Bearer ${tokens.access_token}` });

const meOn = (instance: TestApp, tokens: TokenBody) =>
  instance.app.inject({ method: 'GET', url: '/api/auth/me', headers: bearer(tokens) });

const sessionIdOf = (tokens: TokenBody) => String(decodeJwt(tokens.access_token)['sid']);

const redisCheckOf = async (instance: TestApp) => {
  const response = await instance.app.inject({ method: 'GET', url: '/ready' });
  return { status: response.statusCode, redis: json<{ checks: { redis: string } }>(response) };
};

/** Times one request: nothing on the revocation path may wait on the missing Redis. */
async function timed<T>(request: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await request();
  return { result, ms: performance.now() - started };
}

describe('with Redis stopped', async () => {
  // Two instances on one database and one Redis of this file's own, which the tests stop and
  // start again (the shared Redis of TEST_REDIS_URL is never touched). Limits are on, and
  // shared while Redis is up.
  const redis = await startRedisProcess();
  const env = { REDIS_URL: redis.url, RATE_LIMIT: 'on' };
  const rateLimitPrefix = `test:${randomUUID()}`;
  const first = await startTestApp({ redis: false, env, rateLimitPrefix });
  const second = await startTestApp({
    redis: false,
    env,
    rateLimitPrefix,
    database: first.database,
    clock: first.clock,
  });
  const instances = [first, second];

  async function stopRedis(): Promise<void> {
    await redis.stop();
    // Both instances have noticed: their clients are down and their caches untrusted.
    expect(
      await eventually(async () => {
        for (const instance of instances) {
          if (instance.deps.guard.trustsCache) return false;
          if ((await redisCheckOf(instance)).redis.checks.redis !== 'down') return false;
        }
        return true;
      }),
    ).toBe(true);
  }

  async function startRedis(): Promise<void> {
    await redis.start();
    expect(
      await eventually(() => instances.every((instance) => instance.deps.guard.trustsCache)),
    ).toBe(true);
  }

  // Each test starts with Redis up and both instances subscribed.
  afterEach(async () => {
    if (!redis.running) await startRedis();
  });

  it('the instances start out trusting their caches', async () => {
    expect(await eventually(() => instances.every((i) => i.deps.guard.trustsCache))).toBe(true);
  });

  it('sign-out, session deletion, admin sign-out and deactivation succeed, and both instances refuse the tokens', async () => {
    const { auth: admin } = await signedInAdmin(first.app, first.deps);
    const signingOut = await signedInUser(first.app);
    const deleting = await signedInUser(first.app);
    const deletedSession = await signIn(first.app, deleting.email, deleting.password);
    const signedOutByAdmin = await signedInUser(first.app);
    const deactivated = await signedInUser(first.app);
    const all = [signingOut.tokens, deletedSession, signedOutByAdmin.tokens, deactivated.tokens];
    // Seen live by the second instance while Redis was up: cached, and trusted then.
    for (const tokens of all) expect((await meOn(second, tokens)).statusCode).toBe(200);

    await stopRedis();

    const signOut = await timed(() =>
      first.app.inject({
        method: 'POST',
        url: '/api/auth/signout',
        headers: bearer(signingOut.tokens),
      }),
    );
    expect(signOut.result.statusCode, signOut.result.body).toBe(204);
    // Generous for a loaded machine: the failure it guards against is a wait for Redis.
    expect(signOut.ms).toBeLessThan(2_000);

    const deletion = await first.app.inject({
      method: 'DELETE',
      url: `/api/auth/sessions/${sessionIdOf(deletedSession)}`,
      headers: deleting.auth,
    });
    expect(deletion.statusCode, deletion.body).toBe(204);

    const adminSignOut = await first.app.inject({
      method: 'POST',
      url: `/api/admin/users/${signedOutByAdmin.user.id}/signout`,
      headers: admin,
    });
    expect(adminSignOut.statusCode, adminSignOut.body).toBe(204);

    const deactivation = await first.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${deactivated.user.id}`,
      headers: admin,
      payload: { is_active: false },
    });
    expect(deactivation.statusCode, deactivation.body).toBe(200);

    for (const tokens of all) {
      // The instance that took the revocation knows at once; the other asks the database
      // because it cannot hear revocations.
      expect((await meOn(first, tokens)).statusCode).toBe(401);
      expect((await meOn(second, tokens)).statusCode).toBe(401);
    }
    // The session that was not deleted is untouched.
    expect((await meOn(second, deleting.tokens)).statusCode).toBe(200);
  });

  it('/ready reports Redis down on both instances', async () => {
    await stopRedis();
    for (const instance of instances) {
      const check = await redisCheckOf(instance);
      expect(check.status).toBe(503);
      expect(check.redis.checks.redis).toBe('down');
    }
  });

  it('sign-in works, counted by an in-memory limiter that still refuses past the limit', async () => {
    await stopRedis();
    const { email, password } = await signUp(first.app);
    expect((await signIn(second.app, email, password)).access_token).toBeTypeOf('string');
    const wrong = () =>
      first.app.inject({
        method: 'POST',
        url: '/api/auth/signin',
        remoteAddress: '10.13.0.1',
        payload: { email, password: 'not-the-password-1' },
      });
    for (let i = 0; i < 10; i += 1) expect((await wrong()).statusCode).toBe(401);
    const refused = await wrong();
    expect(refused.statusCode, refused.body).toBe(429);
    expect(json<ProblemBody>(refused).code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('when Redis returns, what was revoked or cached during the outage is refused everywhere, and the cache is trusted again', async () => {
    // Live before the outage and cached by the second instance then.
    const before = await signedInUser(first.app);
    expect((await meOn(second, before.tokens)).statusCode).toBe(200);
    await stopRedis();
    // Signed in, and cached by the second instance, during the outage.
    const during = await signedInUser(first.app);
    expect((await meOn(second, during.tokens)).statusCode).toBe(200);
    const sessionIdDuring = sessionIdOf(during.tokens);
    expect(
      (
        await first.app.inject({
          method: 'POST',
          url: '/api/auth/signout',
          headers: bearer(before.tokens),
        })
      ).statusCode,
    ).toBe(204);
    // A revocation no instance announces (as if its message were lost): only the database knows.
    await first.deps.db
      .updateTable('sessions')
      .set({ revoked_at: new Date() })
      .where('id', '=', sessionIdDuring)
      .execute();

    await startRedis();

    expect((await meOn(second, before.tokens)).statusCode).toBe(401);
    expect((await meOn(second, during.tokens)).statusCode).toBe(401);

    // The cache answers again: a session read after the return stays accepted on the second
    // instance when the database alone changes...
    const after = await signedInUser(first.app);
    expect((await meOn(second, after.tokens)).statusCode).toBe(200);
    await first.deps.db
      .updateTable('sessions')
      .set({ revoked_at: new Date() })
      .where('id', '=', sessionIdOf(after.tokens))
      .execute();
    expect((await meOn(second, after.tokens)).statusCode).toBe(200);
    // ...and revocations fan out through Redis again.
    const fannedOut = await signedInUser(first.app);
    expect((await meOn(second, fannedOut.tokens)).statusCode).toBe(200);
    await first.app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: bearer(fannedOut.tokens),
    });
    expect(
      await eventually(
        async () => (await meOn(second, fannedOut.tokens)).statusCode === 401,
        1_000,
      ),
    ).toBe(true);
    for (const instance of instances) expect((await redisCheckOf(instance)).status).toBe(200);
  });
});
