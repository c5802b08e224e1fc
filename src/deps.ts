import { Redis } from 'ioredis';
import type { Config } from './config/config.js';
import { AccessTokens } from './crypto/access-tokens.js';
import { type PasswordHasher, createPasswordHasher } from './crypto/password-hasher.js';
import { SigningKeys } from './crypto/signing-keys.js';
import { type Db, createDb, databasePoolStats } from './db/create-db.js';
import { migrateToLatest } from './db/migrate.js';
import { signingKeyStore } from './db/signing-keys.repository.js';
import { AdminUsersService } from './features/admin/admin-users.service.js';
import { RolesService } from './features/roles/roles.service.js';
import { GroupsService } from './features/groups/groups.service.js';
import { UserImportService } from './features/user-import/user-import.service.js';
import { createFactors } from './features/mfa/factors.js';
import { MfaChallenges } from './features/mfa/mfa-challenges.js';
import { MfaService } from './features/mfa/mfa.service.js';
import { Metrics } from './features/ops/metrics.js';
import { AccountDeletionService } from './features/accounts/account-deletion.service.js';
import { AccountsService } from './features/accounts/accounts.service.js';
import { AuditService } from './features/audit/audit.service.js';
import { EmailTokensService } from './features/email-tokens/email-tokens.service.js';
import { EmailVerificationService } from './features/email-verification/email-verification.service.js';
import { type MailLog, MailService } from './features/mail/mail.service.js';
import { PasswordService } from './features/password/password.service.js';
import { ProfileService } from './features/profile/profile.service.js';
import { ServiceAccountsService } from './features/service-accounts/service-accounts.service.js';
import { FailureCounter } from './features/rate-limit/counted-attempt.js';
import { RateLimits, limitSpecs } from './features/rate-limit/rate-limits.js';
import { SessionGuard } from './features/sessions/session-guard.js';
import { RefreshService } from './features/sessions/refresh.service.js';
import { SessionsService } from './features/sessions/sessions.service.js';
import { SignInService } from './features/sessions/signin.service.js';
import { type Clock, systemClock } from './lib/clock.js';

export interface Services {
  accounts: AccountsService;
  sessions: SessionsService;
  signIn: SignInService;
  refresh: RefreshService;
  audit: AuditService;
  mail: MailService;
  emailVerification: EmailVerificationService;
  password: PasswordService;
  accountDeletion: AccountDeletionService;
  serviceAccounts: ServiceAccountsService;
  limits: RateLimits;
  adminUsers: AdminUsersService;
  roles: RolesService;
  groups: GroupsService;
  userImport: UserImportService;
  mfa: MfaService;
  profiles: ProfileService;
}

/** The composition root: everything the features need, built once per process. */
export interface Deps {
  config: Readonly<Config>;
  clock: Clock;
  db: Db;
  redis: Redis | undefined;
  hasher: PasswordHasher;
  keys: SigningKeys;
  tokens: AccessTokens;
  metrics: Metrics;
  /** Whether sessions are live: the cache Redis keeps current, or the database. */
  guard: SessionGuard;
  services: Services;
  close(): Promise<void>;
}

export interface DepsOverrides {
  /** An already open database (tests hand in a fresh one per file); its owner closes it. */
  db?: Db;
  clock?: Clock;
  onPoolError?: (error: Error) => void;
  /** Where background failures (Redis pub/sub, key reloads) are reported. */
  onBackgroundError?: (error: unknown) => void;
  /** Where the mail worker reports (and, without SMTP_URL, writes mail); silent by default. */
  log?: MailLog;
  /**
   * `false` starts no background work: neither the mail worker (queued mail waits for another
   * instance) nor audit retention. The CLI, and the service until its logger exists.
   */
  startWorkers?: boolean;
  /** Namespace of rate-limit keys in Redis; instances that share limits share it. */
  rateLimitPrefix?: string;
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

export async function createDeps(
  config: Readonly<Config>,
  overrides: DepsOverrides = {},
): Promise<Deps> {
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
    const onError = overrides.onBackgroundError ?? (() => {});
    const keys = await SigningKeys.load(signingKeyStore(db), clock, {
      algorithm: config.jwt.algorithm,
      secret: config.jwt.secret,
      accessTokenTtl: config.accessTokenTtl,
      onRefreshError: onError,
    });
    const tokens = new AccessTokens(keys, clock, {
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      onIssued: (kind) => metrics.tokenIssued(kind),
    });
    const audit = new AuditService({
      db,
      clock,
      retention: config.auditRetention,
      onBackgroundError: onError,
    });
    const mail = new MailService({ db, clock, config, log: overrides.log ?? silentLog });
    const profiles = new ProfileService({ db, clock });
    const accounts = new AccountsService({ db, clock, hasher, config, audit, profiles });
    const limits = new RateLimits({
      enabled: config.rateLimit,
      redis,
      limits: limitSpecs(config.rateLimits),
      keyPrefix: overrides.rateLimitPrefix ?? 'hyperion:rl',
      onRejected: (name) => metrics.rateLimited(name),
    });
    const failures = new FailureCounter(limits);
    const guard = new SessionGuard({ db, clock, redis, onError });
    await guard.start();
    const sessions = new SessionsService({ db, clock, audit, guard });
    const factors = createFactors({ db, clock });
    const signIn = new SignInService({
      db,
      clock,
      tokens,
      accounts,
      audit,
      mail,
      failures,
      // MFA depends on sign-in, not the other way round: sign-in only sees this port.
      secondFactor: new MfaChallenges({ db, clock, factors: factors.all }),
      metrics,
      config,
    });
    const refresh = new RefreshService({ db, clock, accounts, audit, guard, signIn, config });
    const emailTokens = new EmailTokensService({ db, clock, publicUrl: config.publicUrl });
    const emailVerification = new EmailVerificationService({
      db,
      accounts,
      emailTokens,
      mail,
      audit,
      limits,
    });
    if (config.emailVerificationRequired) {
      // The verification mail commits with the new account, so no sign-up is left without one.
      accounts.onAccountCreated(async (trx, user) => {
        if (!user.email_verified) await emailVerification.sendWithin(trx, user);
      });
    }
    const password = new PasswordService({
      db,
      clock,
      accounts,
      sessions,
      emailTokens,
      mail,
      audit,
      limits,
      failures,
      onBackgroundError: onError,
    });
    const accountDeletion = new AccountDeletionService({
      db,
      accounts,
      sessions,
      audit,
      mail,
      failures,
    });
    const serviceAccounts = new ServiceAccountsService({
      db,
      clock,
      audit,
      tokens,
      tokenTtl: config.serviceTokenTtl,
    });
    const roles = new RolesService({ db, clock, audit });
    const adminUsers = new AdminUsersService({
      db,
      clock,
      accounts,
      sessions,
      audit,
      accountDeletion,
      roles,
    });
    const groups = new GroupsService({ db, clock, audit, accounts, roles, adminUsers });
    const userImport = new UserImportService({ db, clock, audit, roles, hasher, accounts });
    const mfa = new MfaService({ db, clock, accounts, signIn, audit, failures, factors });
    if (overrides.startWorkers !== false) {
      mail.start();
      audit.startRetention();
    }
    return {
      config,
      clock,
      db,
      redis,
      hasher,
      keys,
      tokens,
      metrics,
      guard,
      services: {
        accounts,
        sessions,
        signIn,
        refresh,
        audit,
        mail,
        emailVerification,
        password,
        accountDeletion,
        serviceAccounts,
        limits,
        adminUsers,
        roles,
        groups,
        userImport,
        mfa,
        profiles,
      },
      async close() {
        // Before the database closes: a send in flight still records its outcome.
        await mail.stop();
        await audit.stopRetention();
        await guard.close();
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
