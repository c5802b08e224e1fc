import { availableParallelism } from 'node:os';

/** What a benchmark run does; the only place the bench reads its environment. */
export interface BenchSettings {
  /** Seconds each measured scenario runs. */
  duration: number;
  /** Seconds of unmeasured load before each scenario, so the JIT and the pools are warm. */
  warmup: number;
  /** Seconds the raw argon2 rate is measured. */
  hashDuration: number;
  quick: boolean;
  /** Users in the database for the first pass of `me` and `signin`. */
  smallUsers: number;
  /** Users in the database for the second pass (the "1,000,000 users" comparison). */
  largeUsers: number;
  /** The server the bench (re)creates its own database on; the database name is replaced. */
  adminDatabaseUrl: string;
  databaseName: string;
  /**
   * Where pgbench measures PostgreSQL's write ceiling: a database of its own on the same
   * server (<databaseName>_pgbench), created and dropped around the measurement.
   */
  pgbenchDatabaseName: string;
  redisUrl: string;
  /** Run the service under `--cpu-prof`, writing the profile into bench/results/profiles. */
  cpuProfile: boolean;
  /** Only these scenarios (names as printed), or all when undefined. */
  only: ReadonlySet<string> | undefined;
  /** argon2 runs on libuv's pool: its size bounds how many hashes run at once, in both processes. */
  threadpoolSize: number;
  cores: number;
  /**
   * Verifications the hashing ceiling runs at once: every core busy, within the pool — what
   * the service itself runs at most (its hasher queues the rest).
   */
  hashConcurrency: number;
  /**
   * Extra environment for the service process (BENCH_SERVICE_ENV="A=1 B=2"), to measure a
   * deployment's runtime settings (allocator, V8 flags); recorded with the results. It
   * cannot change what the bench itself sets (database, Redis, argon2 cost, rate limits).
   */
  serviceEnv: Record<string, string>;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: expected a positive number`);
  return value;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Load is aimed only at this machine: a typo must not turn the bench on someone's server. */
function assertLoopback(name: string, url: URL): void {
  if (!LOOPBACK.has(url.hostname))
    throw new Error(`${name}: only loopback addresses may be benchmarked (${url.hostname})`);
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  return ['1', 'true', 'yes', 'on'].includes(env[name]?.trim().toLowerCase() ?? '');
}

function readServiceEnv(text: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (text ?? '').trim().split(/\s+/).filter(Boolean)) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (!match?.[1]) throw new Error(`BENCH_SERVICE_ENV: expected NAME=value pairs, got "${pair}"`);
    env[match[1]] = match[2] ?? '';
  }
  return env;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const quick = flag(env, 'BENCH_QUICK');
  const duration = positiveNumber(env, 'BENCH_DURATION', quick ? 2 : 10);
  const databaseUrl = new URL(
    env['BENCH_DATABASE_URL']?.trim() ||
      'postgres://postgres:postgres@127.0.0.1:5432/hyperion_bench',
  );
  const databaseName = databaseUrl.pathname.replace(/^\//, '') || 'hyperion_bench';
  // The bench drops and recreates this database: refuse names that look like someone's data.
  if (!/^[a-z0-9_]*bench[a-z0-9_]*$/.test(databaseName))
    throw new Error(`BENCH_DATABASE_URL: the database name must contain "bench" (${databaseName})`);
  // PostgreSQL truncates names to 63 bytes: a longer one could name the service's database.
  const pgbenchDatabaseName = `${databaseName}_pgbench`;
  if (pgbenchDatabaseName.length > 63)
    throw new Error(`BENCH_DATABASE_URL: the database name is too long (${databaseName})`);
  const redisUrl = env['BENCH_REDIS_URL']?.trim() || 'redis://127.0.0.1:6379';
  assertLoopback('BENCH_DATABASE_URL', databaseUrl);
  assertLoopback('BENCH_REDIS_URL', new URL(redisUrl));
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = '/postgres';
  const only = env['BENCH_ONLY']?.trim();
  const threadpoolSize = Math.round(positiveNumber(env, 'UV_THREADPOOL_SIZE', 4));
  return {
    duration,
    warmup: Math.min(2, Math.max(0.5, duration / 5)),
    hashDuration: positiveNumber(env, 'BENCH_HASH_DURATION', quick ? 1.5 : 5),
    quick,
    smallUsers: Math.round(positiveNumber(env, 'BENCH_SMALL_USERS', 1_000)),
    largeUsers: Math.round(positiveNumber(env, 'BENCH_USERS', quick ? 20_000 : 1_000_000)),
    adminDatabaseUrl: adminUrl.toString(),
    databaseName,
    pgbenchDatabaseName,
    redisUrl,
    cpuProfile: flag(env, 'BENCH_CPU_PROF'),
    only: only ? new Set(only.split(',').map((name) => name.trim())) : undefined,
    threadpoolSize,
    cores: availableParallelism(),
    hashConcurrency: Math.min(threadpoolSize, availableParallelism()),
    serviceEnv: readServiceEnv(env['BENCH_SERVICE_ENV']),
  };
}

/** The database URL the service is given: the admin URL with the bench database's name. */
export function serviceDatabaseUrl(settings: BenchSettings): string {
  const url = new URL(settings.adminDatabaseUrl);
  url.pathname = `/${settings.databaseName}`;
  return url.toString();
}
