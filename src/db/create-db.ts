import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DatabaseTarget } from '../config/config.js';
import type { Database } from './database.js';
import { PGliteDialect } from './pglite-dialect.js';

export type Db = Kysely<Database>;

/**
 * An open transaction. Functions that lock rows (`for update`), take a transaction-scoped
 * advisory lock or write several statements that must commit together take a Trx, not a Db:
 * outside a transaction a lock is released at once and `pg_advisory_xact_lock` does nothing,
 * so such a call must not compile. Every Trx is also a Db, so it can be handed on anywhere.
 */
export type Trx = Transaction<Database>;

export interface CreateDbOptions {
  poolSize?: number;
  /** A tarball from PGlite's dumpDataDir to start an in-memory database from (tests). */
  embeddedSnapshot?: Blob;
  onPoolError?: (error: Error) => void;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

// The pg pool behind each server database, for the metrics; Kysely does not expose it.
const pools = new WeakMap<Db, pg.Pool>();

/** Connections of a server database's pool; undefined for the embedded database (no pool). */
export function databasePoolStats(db: Db): PoolStats | undefined {
  const pool = pools.get(db);
  if (!pool) return undefined;
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}

// int8 (e.g. count(*)) fits a JS number for everything this service counts.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** Opens the database the configuration names: a PostgreSQL server, or the embedded PostgreSQL. */
export async function createDb(target: DatabaseTarget, options: CreateDbOptions = {}): Promise<Db> {
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: options.poolSize ?? 10,
      // Fail fast when the server is unreachable: a request answers 503 instead of hanging.
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client losing its connection must not crash the process.
    pool.on('error', (error) => options.onPoolError?.(error));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    pools.set(db, pool);
    return db;
  }
  const pglite = await openEmbedded(target, options.embeddedSnapshot);
  return new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
}

async function openEmbedded(target: DatabaseTarget, snapshot: Blob | undefined): Promise<PGlite> {
  if (target.kind === 'embedded') {
    mkdirSync(target.dataDir, { recursive: true });
    return PGlite.create(target.dataDir);
  }
  return PGlite.create(snapshot ? { loadDataDir: snapshot } : {});
}
