import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { cleanUpAfter } from '../../test/cleanup.js';
import { startRedisProcess } from '../../test/redis-process.js';
import { Broadcast } from './broadcast.js';
import { eventually } from '../../test/eventually.js';

/** A channel's owner that writes down what it is told. */
function recorder(everyId?: string) {
  const owner = {
    received: [] as string[][],
    resubscriptions: 0,
    channel: {
      received: (ids: string[]) => void owner.received.push(ids),
      resubscribed: () => void (owner.resubscriptions += 1),
      ...(everyId !== undefined ? { everyId } : {}),
    },
  };
  return owner;
}

describe('Broadcast', async () => {
  const redis = await startRedisProcess();

  async function started(
    redisClient: Redis,
    channels: Record<string, ReturnType<typeof recorder>>,
    onError?: (error: unknown) => void,
  ): Promise<Broadcast> {
    const broadcast = new Broadcast({ redis: redisClient, ...(onError ? { onError } : {}) });
    for (const [name, owner] of Object.entries(channels)) broadcast.channel(name, owner.channel);
    cleanUpAfter(() => broadcast.close());
    await broadcast.start();
    expect(await eventually(() => broadcast.trusted)).toBe(true);
    return broadcast;
  }

  it('subscribes to every channel on one connection and hands each message to its owner', async () => {
    const sessions = recorder();
    const users = recorder('*');
    const errors: unknown[] = [];
    const broadcast = await started(
      redis.client(),
      { 'test:sessions': sessions, 'test:users': users },
      (error) => errors.push(error),
    );
    const probe = redis.client();
    expect(await eventually(() => probe.status === 'ready')).toBe(true);
    expect(await probe.pubsub('NUMSUB', 'test:sessions', 'test:users')).toEqual([
      'test:sessions',
      1,
      'test:users',
      1,
    ]);
    const pubsubClients = String(await probe.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    expect(pubsubClients.trim().split('\n')).toHaveLength(1);

    // The message format of the revocation channel, as an older instance publishes it.
    await probe.publish('test:sessions', JSON.stringify(['s1', 's2']));
    await broadcast.publish('test:users', ['u1']);
    await probe.publish('test:users', JSON.stringify(['u2', 7, null]));
    await probe.publish('test:users', 'not json');
    expect(await eventually(() => users.received.length === 2 && errors.length === 1)).toBe(true);
    expect(sessions.received).toEqual([['s1', 's2']]);
    expect(users.received).toEqual([['u1'], ['u2']]);
  });

  it('is untrusted while Redis is down; when it returns, every owner is told and the epoch moves', async () => {
    const sessions = recorder();
    const users = recorder();
    const broadcast = await started(redis.client(), { 'test:a': sessions, 'test:b': users });
    const epoch = broadcast.epoch;
    expect([sessions.resubscriptions, users.resubscriptions]).toEqual([1, 1]);

    await redis.stop();
    expect(await eventually(() => !broadcast.trusted)).toBe(true);
    expect(broadcast.epoch).toBeGreaterThan(epoch);
    const whileDown = broadcast.epoch;

    await redis.start();
    expect(await eventually(() => broadcast.trusted)).toBe(true);
    expect(broadcast.epoch).toBeGreaterThan(whileDown);
    expect([sessions.resubscriptions, users.resubscriptions]).toEqual([2, 2]);
  });

  it('keeps what it could not publish, per channel, and publishes it once Redis answers', async () => {
    const publisher = redis.client();
    const sending = await started(publisher, {
      'test:kept:a': recorder(),
      'test:kept:b': recorder('*'),
    });
    const sessions = recorder();
    const users = recorder('*');
    const listening = await started(redis.client(), {
      'test:kept:a': sessions,
      'test:kept:b': users,
    });

    await redis.stop();
    expect(await eventually(() => publisher.status !== 'ready')).toBe(true);
    // Held down, so that the listener is subscribed again before anything is republished.
    publisher.disconnect();
    const began = performance.now();
    await sending.publish('test:kept:a', ['s1']);
    await sending.publish('test:kept:a', ['s2', 's1']);
    // Past the bound, a channel with an id for "every id" publishes that one instead.
    const many = Array.from({ length: 10_001 }, (_, i) => `u${i}`);
    await sending.publish('test:kept:b', many);
    expect(performance.now() - began).toBeLessThan(1_000);

    await redis.start();
    expect(await eventually(() => listening.trusted)).toBe(true);
    expect(sessions.received).toEqual([]);
    await publisher.connect();
    expect(
      await eventually(() => sessions.received.length === 1 && users.received.length === 1),
    ).toBe(true);
    expect(sessions.received).toEqual([['s1', 's2']]);
    expect(users.received).toEqual([['*']]);
  });

  it('without Redis is never trusted and publishes nothing', async () => {
    const broadcast = new Broadcast({ redis: undefined });
    broadcast.channel('test:none', recorder().channel);
    await broadcast.start();
    await broadcast.publish('test:none', ['x']);
    expect(broadcast.trusted).toBe(false);
    expect(() => broadcast.channel('test:late', recorder().channel)).toThrow(/after/);
    await broadcast.close();
  });
});
