import type { Config } from './config/config.js';
import {
  type Infrastructure,
  type InfrastructureOverrides,
  createInfrastructure,
} from './infrastructure.js';
import { type Services, createServices } from './services.js';

export { createRedis } from './infrastructure.js';
export type { Services } from './services.js';

/** The composition root: everything the features need, built once per process. */
export interface Deps extends Pick<
  Infrastructure,
  | 'config'
  | 'clock'
  | 'db'
  | 'redis'
  | 'hasher'
  | 'keys'
  | 'tokens'
  | 'idTokens'
  | 'metrics'
  | 'broadcast'
  | 'guard'
> {
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
    services.oidcHousekeeping.start();
  }
  const { clock, db, redis, hasher, keys, tokens, idTokens, metrics, broadcast, guard } = infra;
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
    broadcast,
    guard,
    services,
    async close() {
      // Before the database closes: a retention sweep in flight still finishes.
      await services.audit.stopRetention();
      await services.oidcHousekeeping.stop();
      await infra.close();
    },
  };
}
