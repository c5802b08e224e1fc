import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import { setBounded } from '../../lib/bounded-map.js';
import type { Broadcast } from '../../lib/broadcast.js';
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
  /** The broadcast's epoch the database read began in (see Broadcast.epoch). */
  epoch: number;
}

// How long "this session is live" is trusted without asking the database, while Redis
// delivers revocations. Revocations themselves reach every instance at once by pub/sub.
const ACTIVE_TTL_MS = 30_000;
const MAX_ENTRIES = 100_000;

export interface SessionGuardOptions {
  db: Db;
  clock: Clock;
  /**
   * With Redis, statuses are cached and revocations fan out on REVOCATION_CHANNEL; without
   * (or while its subscription is down), the database is asked.
   */
  broadcast: Broadcast;
}

/**
 * Answers "is this session still live?" for every authenticated request, cheaply.
 * The database is the truth. With Redis, an in-process cache answers instead, and a
 * revocation on any instance is published so every instance drops the session at once;
 * while the subscription is down (messages may be missed) the cache is not used.
 */
export class SessionGuard {
  readonly #cache = new Map<string, CachedStatus>();
  readonly #revokedListeners = new Set<(sessionIds: readonly string[]) => void>();

  constructor(private readonly options: SessionGuardOptions) {
    options.broadcast.channel(REVOCATION_CHANNEL, {
      received: (sessionIds) => this.#markRevoked(sessionIds),
      // Whatever was cached before the subscription was confirmed may have missed a message.
      resubscribed: () => this.#cache.clear(),
    });
  }

  /** Whether live statuses are answered from the cache (subscribed to revocations) right now. */
  get trustsCache(): boolean {
    return this.options.broadcast.trusted;
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

  /**
   * Records revocations locally at once and tells the other instances. While Redis is down
   * this does not wait on it: the revocation is committed, instances without a subscription
   * ask the database, and the broadcast publishes it again when Redis is back, for those
   * that already trust their cache.
   */
  async revoked(sessionIds: readonly string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    this.#markRevoked(sessionIds);
    await this.options.broadcast.publish(REVOCATION_CHANNEL, sessionIds);
  }

  /**
   * Told of every revocation this instance learns of, its own or another instance's (through
   * the broadcast): the live revocation feed wakes its streams on it. Returns the unsubscriber.
   */
  onRevoked(listener: (sessionIds: readonly string[]) => void): () => void {
    this.#revokedListeners.add(listener);
    return () => this.#revokedListeners.delete(listener);
  }

  #usableCacheEntry(sessionId: string): CachedStatus | undefined {
    const entry = this.#cache.get(sessionId);
    if (!entry) return undefined;
    if (entry.revoked) return entry;
    if (!this.trustsCache || entry.epoch !== this.options.broadcast.epoch) return undefined;
    if (Date.now() - entry.checkedAt > ACTIVE_TTL_MS) return undefined;
    return entry;
  }

  async #load(sessionId: string): Promise<CachedStatus | undefined> {
    // Taken before the read: a revocation published after this point reaches this instance.
    const epoch = this.options.broadcast.epoch;
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
    if (status.revoked || (trusted && epoch === this.options.broadcast.epoch))
      this.#remember(sessionId, status);
    return status;
  }

  #remember(sessionId: string, status: CachedStatus): void {
    setBounded(this.#cache, sessionId, status, MAX_ENTRIES);
  }

  #markRevoked(sessionIds: readonly string[]): void {
    for (const listener of this.#revokedListeners) listener(sessionIds);
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
          epoch: this.options.broadcast.epoch,
        });
      }
    }
  }
}
