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
}

// How long "this session is live" is trusted without asking the database, while Redis
// delivers revocations. Revocations themselves reach every instance at once by pub/sub.
const ACTIVE_TTL_MS = 30_000;
const MAX_ENTRIES = 100_000;

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
  #subscriber: Redis | undefined;
  #subscribed = false;

  constructor(private readonly options: SessionGuardOptions) {}

  async start(): Promise<void> {
    const { redis } = this.options;
    if (!redis) return;
    const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#subscriber = subscriber;
    subscriber.on('error', (error) => this.options.onError?.(error));
    subscriber.on('close', () => {
      this.#subscribed = false;
    });
    subscriber.on('ready', () => {
      // Anything published while we were away is lost: start from the database again.
      this.#cache.clear();
      subscriber
        .subscribe(REVOCATION_CHANNEL)
        .then(() => {
          this.#subscribed = true;
        })
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
    this.#subscribed = false;
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
    const { redis } = this.options;
    if (!redis) return;
    try {
      await redis.publish(REVOCATION_CHANNEL, JSON.stringify(sessionIds));
    } catch (error) {
      // The revocation is committed; instances that miss it re-read the database within ACTIVE_TTL_MS.
      this.options.onError?.(error);
    }
  }

  #usableCacheEntry(sessionId: string): CachedStatus | undefined {
    const entry = this.#cache.get(sessionId);
    if (!entry) return undefined;
    if (entry.revoked) return entry;
    if (!this.#subscribed || Date.now() - entry.checkedAt > ACTIVE_TTL_MS) return undefined;
    return entry;
  }

  async #load(sessionId: string): Promise<CachedStatus | undefined> {
    const row = await findSessionStatus(this.options.db, sessionId);
    if (!row) return undefined;
    const status: CachedStatus = {
      userId: row.user_id,
      revoked: row.revoked_at !== null,
      expiresAt: row.expires_at,
      absoluteExpiresAt: row.absolute_expires_at,
      checkedAt: Date.now(),
    };
    if (this.options.redis || status.revoked) this.#remember(sessionId, status);
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
}
