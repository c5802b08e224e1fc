import type { Redis } from 'ioredis';
import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import { findSessionStatus } from './sessions.repository.js';

export const REVOCATION_CHANNEL = 'hyperion-auth:sessions:revoked';

interface CachedStatus {
  userId: string;
  revoked: boolean;
  expiresAt: Date;
  absoluteExpiresAt: Date;
  /** When the database said so; an active status is trusted for ACTIVE_TTL_MS after. */
  checkedAt: number;
  /** The subscription epoch the database read began in (see SessionGuard.#epoch). */
  epoch: number;
}

// How long "this session is live" is trusted without asking the database, while Redis
// delivers revocations. Revocations themselves reach every instance at once by pub/sub.
const ACTIVE_TTL_MS = 30_000;
const MAX_ENTRIES = 100_000;
// Revocations whose publish failed, kept to publish once Redis answers again.
const MAX_UNPUBLISHED = 10_000;

export interface SessionGuardOptions {
  db: Db;
  clock: Clock;
  /** With Redis, statuses are cached and revocations fan out; without, the database is asked. */
  redis: Redis | undefined;
  onError?: (error: unknown) => void;
}

/**
 * Answers "is this session still live?" for every authenticated request, cheaply.
 * The database is the truth. With Redis, an in-process cache answers instead, and a
 * revocation on any instance is published so every instance drops the session at once;
 * while the subscription is down (messages may be missed) the cache is not used.
 */
export class SessionGuard {
  readonly #cache = new Map<string, CachedStatus>();
  readonly #unpublished = new Set<string>();
  #subscriber: Redis | undefined;
  #subscribed = false;
  /**
   * Moves on whenever the subscription is lost or (re)confirmed. A live status is trusted
   * only if its database read began in the current epoch while subscribed: a read that began
   * before the SUBSCRIBE was confirmed — during an outage, or between reconnecting and the
   * confirmation — may predate a revocation whose message this instance never received.
   */
  #epoch = 0;

  constructor(private readonly options: SessionGuardOptions) {}

  /** Whether live statuses are answered from the cache (subscribed to revocations) right now. */
  get trustsCache(): boolean {
    return this.#subscribed && this.#subscriber?.status === 'ready';
  }

  async start(): Promise<void> {
    const { redis } = this.options;
    if (!redis) return;
    // Revocations that could not be published during an outage go out as soon as this
    // instance can publish again: an instance whose subscription came back first may
    // already have cached the session as live.
    redis.on('ready', () => void this.#publishUnpublished());
    const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#subscriber = subscriber;
    subscriber.on('error', (error) => this.options.onError?.(error));
    subscriber.on('close', () => this.#unsubscribed());
    subscriber.on('ready', () => {
      // ioredis re-subscribes on its own after a reconnect, but this instance only trusts its
      // cache again once a SUBSCRIBE it sent on this connection is confirmed.
      this.#unsubscribed();
      subscriber
        .subscribe(REVOCATION_CHANNEL)
        .then(() => {
          if (subscriber.status !== 'ready') return;
          // Whatever was cached before this point may have missed a message: drop it.
          this.#cache.clear();
          this.#epoch += 1;
          this.#subscribed = true;
        })
        // Refused by the server (an ACL, say): the cache stays unused and the database answers.
        .catch((error: unknown) => this.options.onError?.(error));
    });
    subscriber.on('message', (_channel: string, message: string) =>
      this.#applyRevocationMessage(message),
    );
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      subscriber.once('ready', done);
      // Do not hold the start hostage to Redis: without it the guard asks the database.
      setTimeout(done, 2_000).unref();
    });
  }

  async close(): Promise<void> {
    this.#unsubscribed();
    this.#subscriber?.disconnect();
  }

  /** Throws 401 unless the session exists, belongs to the user, is unrevoked and unexpired. */
  async assertActive(sessionId: string, userId: string): Promise<void> {
    const now = this.options.clock.now();
    let status = this.#usableCacheEntry(sessionId);
    if (!status || status.expiresAt <= now) status = await this.#load(sessionId);
    const live =
      status !== undefined &&
      status.userId === userId &&
      !status.revoked &&
      status.expiresAt > now &&
      status.absoluteExpiresAt > now;
    if (!live) throw new AppError('unauthorized', 'The session has ended');
  }

  /** Records revocations locally at once and tells the other instances. */
  async revoked(sessionIds: readonly string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    this.#markRevoked(sessionIds);
    await this.#publish(sessionIds);
  }

  /**
   * Tells the other instances. With no offline queue this rejects at once while Redis is
   * down, so a sign-out never waits on it; the revocation is committed, instances without a
   * subscription ask the database, and it is published again when Redis is back, for those
   * that already trust their cache.
   */
  async #publish(sessionIds: readonly string[]): Promise<void> {
    const { redis } = this.options;
    if (!redis) return;
    try {
      await redis.publish(REVOCATION_CHANNEL, JSON.stringify(sessionIds));
    } catch (error) {
      this.#keepUnpublished(sessionIds);
      this.options.onError?.(error);
    }
  }

  #unsubscribed(): void {
    this.#subscribed = false;
    this.#epoch += 1;
  }

  #usableCacheEntry(sessionId: string): CachedStatus | undefined {
    const entry = this.#cache.get(sessionId);
    if (!entry) return undefined;
    if (entry.revoked) return entry;
    if (!this.trustsCache || entry.epoch !== this.#epoch) return undefined;
    if (Date.now() - entry.checkedAt > ACTIVE_TTL_MS) return undefined;
    return entry;
  }

  async #load(sessionId: string): Promise<CachedStatus | undefined> {
    // Taken before the read: a revocation published after this point reaches this instance.
    const epoch = this.#epoch;
    const trusted = this.trustsCache;
    const checkedAt = Date.now();
    const row = await findSessionStatus(this.options.db, sessionId);
    if (!row) return undefined;
    const status: CachedStatus = {
      userId: row.user_id,
      revoked: row.revoked_at !== null,
      expiresAt: row.expires_at,
      absoluteExpiresAt: row.absolute_expires_at,
      checkedAt,
      epoch,
    };
    // A revocation message that arrived during the read is newer than the read.
    if (this.#cache.get(sessionId)?.revoked) return { ...status, revoked: true };
    // A live status read while unsubscribed, or across a change of subscription, could never
    // be trusted: not worth a place in the cache.
    if (status.revoked || (trusted && epoch === this.#epoch)) this.#remember(sessionId, status);
    return status;
  }

  #remember(sessionId: string, status: CachedStatus): void {
    if (this.#cache.size >= MAX_ENTRIES) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.delete(sessionId);
    this.#cache.set(sessionId, status);
  }

  #markRevoked(sessionIds: readonly string[]): void {
    for (const id of sessionIds) {
      const entry = this.#cache.get(id);
      if (entry) entry.revoked = true;
      else {
        this.#remember(id, {
          userId: '',
          revoked: true,
          expiresAt: new Date(8.64e15),
          absoluteExpiresAt: new Date(8.64e15),
          checkedAt: Date.now(),
          epoch: this.#epoch,
        });
      }
    }
  }

  #applyRevocationMessage(message: string): void {
    try {
      const ids: unknown = JSON.parse(message);
      if (Array.isArray(ids))
        this.#markRevoked(ids.filter((id): id is string => typeof id === 'string'));
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  #keepUnpublished(sessionIds: readonly string[]): void {
    for (const id of sessionIds) {
      // Past the bound the oldest go unannounced; instances re-read them within ACTIVE_TTL_MS.
      if (this.#unpublished.size >= MAX_UNPUBLISHED) {
        const oldest = this.#unpublished.values().next().value;
        if (oldest !== undefined) this.#unpublished.delete(oldest);
      }
      this.#unpublished.add(id);
    }
  }

  async #publishUnpublished(): Promise<void> {
    if (this.#unpublished.size === 0) return;
    const ids = [...this.#unpublished];
    this.#unpublished.clear();
    await this.#publish(ids);
  }
}
