import type { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { signedInUser, startTestApp } from '../../../test/app.js';
import { cleanUpAfter } from '../../../test/cleanup.js';
import { startRedisProcess } from '../../../test/redis-process.js';
import { AppError } from '../../errors.js';
import { Broadcast } from '../../lib/broadcast.js';
import { SessionGuard } from './session-guard.js';
import { eventually } from '../../../test/eventually.js';

const isLive = (guard: SessionGuard, sessionId: string, userId: string) =>
  guard.assertActive(sessionId, userId).then(
    () => true,
    (error: unknown) => {
      if (error instanceof AppError && error.code === 'unauthorized') return false;
      throw error;
    },
  );

describe('SessionGuard and its subscription', async () => {
  // Guards built by hand on a redis-server of this file's own, over the database of an app
  // that has no Redis (so that nothing but these guards publishes or subscribes).
  const app = await startTestApp({ redis: false });
  const redis = await startRedisProcess();

  /** A guard on a broadcast of its own over this client, as one instance's would be. */
  async function startGuard(redisClient: Redis): Promise<SessionGuard> {
    const broadcast = new Broadcast({ redis: redisClient });
    const guard = new SessionGuard({ db: app.deps.db, clock: app.clock, broadcast });
    cleanUpAfter(() => broadcast.close());
    await broadcast.start();
    return guard;
  }

  async function liveSession() {
    const { user, tokens } = await signedInUser(app.app);
    return { userId: user.id, sessionId: String(decodeJwt(tokens.access_token)['sid']) };
  }

  /** Revokes in the database only, announcing nothing: as if the message had been lost. */
  async function revokeSilently(sessionId: string): Promise<void> {
    await app.deps.db
      .updateTable('sessions')
      .set({ revoked_at: new Date() })
      .where('id', '=', sessionId)
      .execute();
  }

  it('does not trust a status read before its SUBSCRIBE was confirmed', async () => {
    const { userId, sessionId } = await liveSession();
    const guard = await startGuard(redis.client());
    // Connected, the SUBSCRIBE sent but not yet answered: this read may predate a revocation
    // whose message the guard will never see.
    expect(guard.trustsCache).toBe(false);
    expect(await isLive(guard, sessionId, userId)).toBe(true);
    await revokeSilently(sessionId);
    expect(await eventually(() => guard.trustsCache)).toBe(true);
    expect(await isLive(guard, sessionId, userId)).toBe(false);
  });

  it('publishes, once Redis is back, the revocations it could not publish during the outage', async () => {
    const { userId, sessionId } = await liveSession();
    const publisher = redis.client();
    const revoking = await startGuard(publisher);
    const other = await startGuard(redis.client());
    expect(await eventually(() => revoking.trustsCache && other.trustsCache)).toBe(true);

    await redis.stop();
    expect(await eventually(() => publisher.status !== 'ready')).toBe(true);
    // Held down, so that the other guard is back before this one can publish.
    publisher.disconnect();
    const started = performance.now();
    await revoking.revoked([sessionId]);
    // The failed publish did not wait for Redis.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await isLive(revoking, sessionId, userId)).toBe(false);

    await redis.start();
    expect(await eventually(() => other.trustsCache)).toBe(true);
    // Read after the return, while the revocation is announced nowhere (the database here
    // still says live): trusted.
    expect(await isLive(other, sessionId, userId)).toBe(true);
    await publisher.connect();
    expect(await eventually(async () => !(await isLive(other, sessionId, userId)), 1_000)).toBe(
      true,
    );
  });
});
