import type { Redis } from 'ioredis';

/** What the owner of a channel is told. */
export interface BroadcastChannel {
  /** The ids of a message on the channel, from any instance (this one's own included). */
  received(ids: string[]): void;
  /**
   * The subscription was (re)confirmed: whatever the owner cached before may have missed a
   * message, and must go.
   */
  resubscribed(): void;
  /**
   * An id that stands for every id (say `*`): when more ids wait to be published than are
   * kept, they are replaced by this one instead of the oldest going unannounced.
   */
  everyId?: string;
}

export interface BroadcastOptions {
  /** Without Redis nothing is published or received, and `trusted` stays false. */
  redis: Redis | undefined;
  onError?: (error: unknown) => void;
}

// Ids per channel whose publish failed, kept to publish once Redis answers again.
const MAX_UNPUBLISHED = 10_000;

/**
 * Lists of ids told to every instance through Redis pub/sub (a JSON array of strings per
 * message), on one subscriber connection per process shared by every channel. Their owners
 * cache what the database says and drop what a message names; they may trust such a cache
 * only while `trusted`, and only for a read that began in the current `epoch`.
 */
export class Broadcast {
  readonly #channels = new Map<string, BroadcastChannel>();
  readonly #unpublished = new Map<string, Set<string>>();
  #subscriber: Redis | undefined;
  #subscribed = false;
  #started = false;
  /**
   * Moves on whenever the subscription is lost or (re)confirmed. A cached answer is trusted
   * only if its database read began in the current epoch while subscribed: a read that began
   * before the SUBSCRIBE was confirmed — during an outage, or between reconnecting and the
   * confirmation — may predate a message this instance never received.
   */
  #epoch = 0;

  constructor(private readonly options: BroadcastOptions) {}

  /** Whether every message published from now on reaches this instance (subscribed, connected). */
  get trusted(): boolean {
    return this.#subscribed && this.#subscriber?.status === 'ready';
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Registers a channel's owner; every channel is known before `start` subscribes to them. */
  channel(name: string, owner: BroadcastChannel): void {
    if (this.#started) throw new Error(`Channel ${name} registered after the broadcast started`);
    if (this.#channels.has(name)) throw new Error(`Channel ${name} is registered twice`);
    this.#channels.set(name, owner);
  }

  async start(): Promise<void> {
    this.#started = true;
    const { redis } = this.options;
    if (!redis) return;
    // Messages that could not be published during an outage go out as soon as this instance
    // can publish again: an instance whose subscription came back first may already have
    // cached what they name.
    redis.on('ready', () => void this.#publishUnpublished());
    if (this.#channels.size === 0) return;
    // autoResubscribe off: the 'ready' handler below subscribes on every (re)connection, with
    // its failure handled; ioredis's own resubscription leaves its promise unhandled, and a
    // connection closing before the reply (Redis flapping) would end the process.
    const subscriber = redis.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: false,
    });
    this.#subscriber = subscriber;
    const channels = [...this.#channels.keys()];
    subscriber.on('error', (error) => this.options.onError?.(error));
    subscriber.on('close', () => this.#unsubscribed());
    subscriber.on('ready', () => {
      // ioredis re-subscribes on its own after a reconnect, but this instance only trusts its
      // caches again once a SUBSCRIBE it sent on this connection is confirmed.
      this.#unsubscribed();
      subscriber
        .subscribe(...channels)
        .then(() => {
          if (subscriber.status !== 'ready') return;
          // Whatever was cached before this point may have missed a message: dropped.
          for (const owner of this.#channels.values()) owner.resubscribed();
          this.#epoch += 1;
          this.#subscribed = true;
        })
        // Refused by the server (an ACL, say): the caches stay unused and the database answers.
        .catch((error: unknown) => this.options.onError?.(error));
    });
    subscriber.on('message', (channel: string, message: string) => this.#deliver(channel, message));
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      subscriber.once('ready', done);
      // Do not hold the start hostage to Redis: without it the owners ask the database.
      setTimeout(done, 2_000).unref();
    });
  }

  async close(): Promise<void> {
    this.#unsubscribed();
    this.#subscriber?.disconnect();
  }

  /**
   * Tells every instance (this one too, by its subscription). With no offline queue this
   * returns at once while Redis is down, never waiting on it: the ids are kept and published
   * again when the client is ready, for the instances that trust their caches by then.
   */
  async publish(channel: string, ids: readonly string[]): Promise<void> {
    const { redis } = this.options;
    if (!redis || ids.length === 0) return;
    try {
      await redis.publish(channel, JSON.stringify(ids));
    } catch (error) {
      this.#keepUnpublished(channel, ids);
      this.options.onError?.(error);
    }
  }

  #unsubscribed(): void {
    this.#subscribed = false;
    this.#epoch += 1;
  }

  #deliver(channel: string, message: string): void {
    const owner = this.#channels.get(channel);
    if (!owner) return;
    try {
      const ids: unknown = JSON.parse(message);
      if (Array.isArray(ids))
        owner.received(ids.filter((id): id is string => typeof id === 'string'));
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  #keepUnpublished(channel: string, ids: readonly string[]): void {
    let kept = this.#unpublished.get(channel);
    if (!kept) {
      kept = new Set();
      this.#unpublished.set(channel, kept);
    }
    const everyId = this.#channels.get(channel)?.everyId;
    for (const id of ids) {
      if (everyId !== undefined && kept.has(everyId)) return;
      if (kept.size >= MAX_UNPUBLISHED) {
        if (everyId !== undefined) {
          kept.clear();
          kept.add(everyId);
          return;
        }
        // Past the bound the oldest go unannounced; their owner's cache ages them out.
        const oldest = kept.values().next().value;
        if (oldest !== undefined) kept.delete(oldest);
      }
      kept.add(id);
    }
  }

  async #publishUnpublished(): Promise<void> {
    const waiting = [...this.#unpublished];
    this.#unpublished.clear();
    for (const [channel, ids] of waiting) await this.publish(channel, [...ids]);
  }
}
