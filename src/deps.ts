import type { Redis } from 'ioredis';
import type { Config } from './config/config.js';
import type { AccessTokens } from './crypto/access-tokens.js';
import type { PasswordHasher } from './crypto/password-hasher.js';
import type { SigningKeys } from './crypto/signing-keys.js';
import type { Db } from './db/create-db.js';
import type { Metrics } from './features/ops/metrics.js';
import type { SessionGuard } from './features/sessions/session-guard.js';
import { type InfrastructureOverrides, createInfrastructure } from './infrastructure.js';
import type { Clock } from './lib/clock.js';
import { type Services, createServices } from './services.js';

export { createRedis } from './infrastructure.js';
export type { Services } from './services.js';

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

export interface DepsOverrides extends InfrastructureOverrides {
  /**
   * `false` starts no background work: neither the mail worker (queued mail waits for another
   * instance) nor audit retention. The CLI, and the service until its logger exists.
   */
  startWorkers?: boolean;
}

/** The infrastructure (infrastructure.ts), the services on it (services.ts), and their workers. */
export async function createDeps(
  config: Readonly<Config>,
  overrides: DepsOverrides = {},
): Promise<Deps> {
  const infra = await createInfrastructure(config, overrides);
  let services: Services;
  try {
    services = createServices(infra);
  } catch (error) {
    await infra.close();
    throw error;
  }
  if (overrides.startWorkers !== false) {
    services.mail.start();
    services.audit.startRetention();
  }
  const { clock, db, redis, hasher, keys, tokens, metrics, guard } = infra;
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
    services,
    async close() {
      // Before the database closes: a retention sweep in flight still finishes.
      await services.audit.stopRetention();
      await infra.close();
    },
  };
}
