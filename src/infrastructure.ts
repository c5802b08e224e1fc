import { Redis } from 'ioredis';
import type { Config } from './config/config.js';
import { AccessTokens } from './crypto/access-tokens.js';
import { IdTokens } from './crypto/id-tokens.js';
import { type PasswordHasher, createPasswordHasher } from './crypto/password-hasher.js';
import { SigningKeys } from './crypto/signing-keys.js';
import { type Db, createDb, databasePoolStats } from './db/create-db.js';
import { migrateToLatest } from './db/migrate.js';
import { signingKeyStore } from './db/signing-keys.repository.js';
import { type MailLog, MailService } from './features/mail/mail.service.js';
import { Metrics } from './features/ops/metrics.js';
import { RateLimits, limitSpecs } from './features/rate-limit/rate-limits.js';
import { SessionGuard } from './features/sessions/session-guard.js';
import { type UserViewCache, createUserViewCache } from './features/accounts/user-view-cache.js';
import { Broadcast } from './lib/broadcast.js';
import { type Clock, systemClock } from './lib/clock.js';
import { type OutboundFetcher, createOutboundFetcher } from './lib/outbound-fetch.js';

/**
 * What the services are built on: connections, keys, counters and the mail outbox. None of it
 * holds a business rule; each piece is built once per process and closed with it.
 */
export interface Infrastructure {
  config: Readonly<Config>;
  clock: Clock;
  db: Db;
  redis: Redis | undefined;
  hasher: PasswordHasher;
  keys: SigningKeys;
  tokens: AccessTokens;
  /** OpenID Connect ID tokens, signed with the same keys. */
  idTokens: IdTokens;
  metrics: Metrics;
  /** Per-address and per-account counters, in Redis when configured. */
  limits: RateLimits;
  /**
   * The one Redis subscription of the process: lists of ids (revoked sessions, changed
   * users) reach every instance through it, and a cache built on it is trusted only while it
   * is confirmed.
   */
  broadcast: Broadcast;
  /** Whether sessions are live: the cache Redis keeps current, or the database. */
  guard: SessionGuard;
  /** Users with their roles (GET /api/auth/me): the cache Redis keeps current, or the database. */
  userViews: UserViewCache;
  /** The transactional outbox and its SMTP worker (started by the composition root). */
  mail: MailService;
  /** Fetches URLs others chose (metadata documents), guarded against request forgery. */
  outbound: OutboundFetcher;
  /** Where background failures (Redis pub/sub, key reloads, retention) are reported. */
  onBackgroundError: (error: unknown) => void;
  /** Stops the mail worker and the broadcast, then closes Redis and an owned database. */
  close(): Promise<void>;
}

export interface InfrastructureOverrides {
  /** An already open database (tests hand in a fresh one per file); its owner closes it. */
  db?: Db;
  clock?: Clock;
  onPoolError?: (error: Error) => void;
  /** Where background failures (Redis pub/sub, key reloads) are reported. */
  onBackgroundError?: (error: unknown) => void;
  /** Where the mail worker reports (and, without SMTP_URL, writes mail); silent by default. */
  log?: MailLog;
  /** Namespace of rate-limit keys in Redis; instances that share limits share it. */
  rateLimitPrefix?: string;
  /**
   * Trust anchors (PEM) for outbound https instead of the system's: tests serve metadata
   * documents with a certificate made on the spot. Code only, never configuration.
   */
  outboundCa?: string;
}

const silentLog: MailLog = { info() {}, warn() {} };

export function createRedis(url: string): Redis {
  return new Redis(url, {
    // Fail fast while Redis is down instead of queueing: a command is refused at once while
    // the client reconnects, so rate limits fall back to their in-memory limiter and a
    // revocation's publish gives up without holding the sign-out.
    enableOfflineQueue: false,
    // A command in flight when the connection drops is failed after one reconnection attempt.
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // Reconnect within half a second of Redis's return (ioredis backs off to 2 s): revocations
    // kept during the outage are published, and the cache trusted again, that much sooner.
    retryStrategy: (attempt) => Math.min(attempt * 50, 500),
    lazyConnect: false,
  });
}

/** Opens the database (migrating it if configured) and Redis, and builds what sits on them. */
export async function createInfrastructure(
  config: Readonly<Config>,
  overrides: InfrastructureOverrides = {},
): Promise<Infrastructure> {
  const clock = overrides.clock ?? systemClock;
  const ownsDb = overrides.db === undefined;
  const db =
    overrides.db ??
    (await createDb(config.database, {
      poolSize: config.databasePoolSize,
      onPoolError: overrides.onPoolError,
    }));
  const closeDb = async () => {
    if (ownsDb) await db.destroy();
  };
  const redis = config.redisUrl ? createRedis(config.redisUrl) : undefined;
  // ioredis reports connection trouble as events; readiness reports it, so it must not crash.
  redis?.on('error', () => {});
  try {
    if (config.migrateOnStart) await migrateToLatest(db);
    const metrics = new Metrics({
      databasePool: () => databasePoolStats(db),
      // Read at scrape time, long after the mail service below exists.
      outboxDepth: () => mail.pendingCount(),
    });
    const hasher = await createPasswordHasher(config.passwordHashing);
    hasher.onTiming = (operation, ms) => metrics.passwordHashTimed(operation, ms);
    const onBackgroundError = overrides.onBackgroundError ?? (() => {});
    const keys = await SigningKeys.load(signingKeyStore(db), clock, {
      algorithm: config.jwt.algorithm,
      secret: config.jwt.secret,
      accessTokenTtl: config.accessTokenTtl,
      onRefreshError: onBackgroundError,
    });
    const tokens = new AccessTokens(keys, clock, {
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      onIssued: (kind) => metrics.tokenIssued(kind),
    });
    const idTokens = new IdTokens(keys, clock, {
      issuer: config.jwt.issuer,
      ttlSeconds: config.accessTokenTtl,
    });
    const mail = new MailService({ db, clock, config, log: overrides.log ?? silentLog });
    const limits = new RateLimits({
      enabled: config.rateLimit,
      redis,
      limits: limitSpecs(config.rateLimits),
      keyPrefix: overrides.rateLimitPrefix ?? 'hyperion:rl',
      onRejected: (name) => metrics.rateLimited(name),
    });
    const broadcast = new Broadcast({ redis, onError: onBackgroundError });
    // Both register their channels before the one SUBSCRIBE names them all.
    const guard = new SessionGuard({ db, clock, broadcast });
    const userViews = createUserViewCache(db, broadcast);
    await broadcast.start();
    return {
      config,
      clock,
      db,
      redis,
      hasher,
      keys,
      tokens,
      idTokens,
      metrics,
      limits,
      broadcast,
      guard,
      userViews,
      mail,
      outbound: createOutboundFetcher({
        allowPrivate: config.outboundAllowPrivate,
        ca: overrides.outboundCa,
      }),
      onBackgroundError,
      async close() {
        // Before the database closes: a send in flight still records its outcome.
        await mail.stop();
        await broadcast.close();
        redis?.disconnect();
        await closeDb();
      },
    };
  } catch (error) {
    redis?.disconnect();
    await closeDb();
    throw error;
  }
}
