import { afterEach, describe, expect, it, vi } from 'vitest';
import { signUp, startTestApp } from '../../../test/app.js';
import { cleanUpAfter } from '../../../test/cleanup.js';
import { startRedisProcess } from '../../../test/redis-process.js';
import type { Db } from '../../db/create-db.js';
import { Broadcast } from '../../lib/broadcast.js';
import { findUserById } from './accounts.repository.js';
import { UserViewCache } from './user-view-cache.js';
import { eventually } from '../../../test/eventually.js';

/**
 * Counts the database reads of a cache and can hold their answers back: a read whose
 * database answer is in stays in flight until `release`, so that a change can be committed
 * and announced meanwhile.
 */
function meteredLoad(db: Db) {
  let held: Promise<void> | undefined;
  let release = () => {};
  const meter = {
    reads: 0,
    hold() {
      held = new Promise((resolve) => (release = resolve));
    },
    release() {
      held = undefined;
      release();
    },
    async load(userId: string) {
      meter.reads += 1;
      const user = await findUserById(db, userId);
      await held;
      return user;
    },
  };
  return meter;
}

describe('UserViewCache', async () => {
  // Caches built by hand on a redis-server of this file's own, over the database of an app
  // without Redis (nothing else publishes or subscribes there).
  const app = await startTestApp({ redis: false });
  const redis = await startRedisProcess();

  /** One instance's cache: a broadcast of its own, and metered reads. */
  async function startCache(options: { redis?: boolean; waitForTrust?: boolean } = {}) {
    const meter = meteredLoad(app.deps.db);
    const broadcast = new Broadcast({
      redis: options.redis === false ? undefined : redis.client(),
    });
    const cache = new UserViewCache({ broadcast, load: (userId) => meter.load(userId) });
    cleanUpAfter(() => broadcast.close());
    await broadcast.start();
    if (options.waitForTrust !== false && options.redis !== false)
      expect(await eventually(() => cache.trusted)).toBe(true);
    return { cache, meter, broadcast };
  }

  /** Changes the user's name in the database only, announcing nothing. */
  async function renameSilently(userId: string, name: string): Promise<void> {
    await app.deps.db.updateTable('users').set({ name }).where('id', '=', userId).execute();
  }

  const newUser = async () => (await signUp(app.app)).user.id;

  afterEach(async () => {
    vi.restoreAllMocks();
    if (!redis.running) await redis.start();
  });

  it('answers from the cache while trusted: a silent change is not seen, an announced one is', async () => {
    const { cache, meter } = await startCache();
    const userId = await newUser();
    expect((await cache.find(userId))?.name).toBeNull();
    await renameSilently(userId, 'Silent');
    expect((await cache.find(userId))?.name).toBeNull();
    expect(meter.reads).toBe(1);
    await cache.changed([userId]);
    expect((await cache.find(userId))?.name).toBe('Silent');
    expect(meter.reads).toBe(2);
  });

  it('drops a user another instance announces, and everyone on "*"', async () => {
    const { cache } = await startCache();
    const { cache: other } = await startCache();
    const [a, b] = [await newUser(), await newUser()];
    await cache.find(a);
    await cache.find(b);
    await renameSilently(a, 'A');
    await renameSilently(b, 'B');
    await other.changed([a]);
    expect(await eventually(async () => (await cache.find(a))?.name === 'A', 1_000)).toBe(true);
    expect((await cache.find(b))?.name).toBeNull();
    await other.everyoneChanged();
    expect(await eventually(async () => (await cache.find(b))?.name === 'B', 1_000)).toBe(true);
  });

  it('does not store a read that began before a change of that user', async () => {
    const { cache, meter } = await startCache();
    const userId = await newUser();
    meter.hold();
    const reading = cache.find(userId);
    // Committed and announced while the read is in flight: what it returns may be older.
    await renameSilently(userId, 'Changed');
    await cache.changed([userId]);
    // Its own message comes back through the subscription too: let it land first, or the
    // reads below could be in flight when it does (and rightly not be stored).
    await new Promise((resolve) => setTimeout(resolve, 200));
    meter.release();
    await reading;
    expect((await cache.find(userId))?.name).toBe('Changed');
    expect(meter.reads).toBe(2);
    // The next read, begun after the change, is stored.
    await renameSilently(userId, 'Later');
    expect((await cache.find(userId))?.name).toBe('Changed');
  });

  it('does not store a read that began before a change announced by another instance', async () => {
    const { cache, meter } = await startCache();
    const { cache: other } = await startCache();
    const userId = await newUser();
    const bystander = await newUser();
    meter.hold();
    const reading = cache.find(userId);
    await other.changed([userId]);
    // Received by now: the message to this subscriber left Redis with the publish's answer.
    await new Promise((resolve) => setTimeout(resolve, 200));
    meter.release();
    await reading;
    await cache.find(userId);
    expect(meter.reads).toBe(2);
    // A read of another user in flight meanwhile is stored.
    meter.hold();
    const bystanderRead = cache.find(bystander);
    await other.changed([userId]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    meter.release();
    await bystanderRead;
    await cache.find(bystander);
    expect(meter.reads).toBe(3);
  });

  it('does not store a read that began before "everyone changed", or before the subscription moved', async () => {
    const { cache, meter } = await startCache();
    const userId = await newUser();
    meter.hold();
    let reading = cache.find(userId);
    await cache.everyoneChanged();
    meter.release();
    await reading;
    await cache.find(userId);
    expect(meter.reads).toBe(2);

    const secondUser = await newUser();
    meter.hold();
    reading = cache.find(secondUser);
    await redis.stop();
    expect(await eventually(() => !cache.trusted)).toBe(true);
    await redis.start();
    expect(await eventually(() => cache.trusted)).toBe(true);
    meter.release();
    await reading;
    await renameSilently(secondUser, 'Missed');
    expect((await cache.find(secondUser))?.name).toBe('Missed');
  });

  it('does not trust a read made before its SUBSCRIBE was confirmed', async () => {
    const userId = await newUser();
    const { cache, meter } = await startCache({ waitForTrust: false });
    // Connected, the SUBSCRIBE sent but not yet answered: this read may predate a change
    // whose message the cache will never see.
    expect(cache.trusted).toBe(false);
    await cache.find(userId);
    await renameSilently(userId, 'Seen');
    expect(await eventually(() => cache.trusted)).toBe(true);
    expect((await cache.find(userId))?.name).toBe('Seen');
    expect(meter.reads).toBe(2);
  });

  it('never caches "no such user"', async () => {
    const { cache, meter } = await startCache();
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(await cache.find(unknown)).toBeUndefined();
    expect(await cache.find(unknown)).toBeUndefined();
    expect(meter.reads).toBe(2);
  });

  it('asks the database again once an entry is 30 seconds old', async () => {
    const { cache, meter } = await startCache();
    const userId = await newUser();
    await cache.find(userId);
    await cache.find(userId);
    expect(meter.reads).toBe(1);
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + 30_001);
    await cache.find(userId);
    expect(meter.reads).toBe(2);
  });

  it('reads the database every time without Redis, and while Redis is down', async () => {
    const { cache, meter } = await startCache({ redis: false });
    const userId = await newUser();
    await cache.find(userId);
    await renameSilently(userId, 'Fresh');
    expect((await cache.find(userId))?.name).toBe('Fresh');
    expect(meter.reads).toBe(2);

    const { cache: withRedis, meter: metered } = await startCache();
    await withRedis.find(userId);
    await redis.stop();
    expect(await eventually(() => !withRedis.trusted)).toBe(true);
    await renameSilently(userId, 'During');
    expect((await withRedis.find(userId))?.name).toBe('During');
    expect((await withRedis.find(userId))?.name).toBe('During');
    expect(metered.reads).toBe(3);
  });

  it('hands out a user that cannot be changed in place', async () => {
    const { cache } = await startCache();
    const user = await cache.find(await newUser());
    await cache.find(user!.id);
    expect(Object.isFrozen(user) && Object.isFrozen(user!.roles)).toBe(true);
  });
});
