import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import argon2 from 'argon2';
import { type Measurement, measure } from './load.js';
import { CpuMeter, perRequest } from './cpu.js';
import { startBareServer } from './server.js';
import { ARGON2_OPTIONS, BENCH_PASSWORD, dropDatabase, recreateDatabase } from './seed.js';

export interface HashCeiling {
  /** argon2id verifications per second with the service's parameters, all workers busy. */
  rps: number;
  concurrency: number;
  /** Mean milliseconds of one verification while `concurrency` run at once. */
  meanMs: number;
  /** CPU milliseconds of one verification (the bench process does nothing else meanwhile). */
  cpuMs: number;
  durationSeconds: number;
}

/**
 * The HTTP limit of this machine: a bare Fastify route in its own process, loaded the same
 * way (same client, same connections) as the service's cheapest routes.
 */
export async function measureBareRoute(options: {
  connections: number;
  duration: number;
  warmup: number;
}): Promise<Measurement> {
  const server = await startBareServer();
  try {
    const url = `${server.url}/`;
    await measure({ url, connections: options.connections, duration: options.warmup });
    const { result, spent } = await new CpuMeter(server.pid).over(() =>
      measure({ url, connections: options.connections, duration: options.duration }),
    );
    return { ...result, cpu: perRequest(spent, result.ok + result.non2xx) };
  } finally {
    await server.stop();
  }
}

/**
 * The hashing limit: argon2.verify in a closed loop, `concurrency` at a time. The native
 * addon runs on libuv's pool; one verification per core (within the pool) keeps every core
 * busy, and more would only time-share them.
 */
export async function measureHashRate(options: {
  concurrency: number;
  duration: number;
}): Promise<HashCeiling> {
  const hash = await argon2.hash(BENCH_PASSWORD, ARGON2_OPTIONS);
  // Unmeasured: the first calls map the 19 MiB blocks of each worker.
  await Promise.all(
    Array.from({ length: options.concurrency }, () => argon2.verify(hash, BENCH_PASSWORD)),
  );
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + options.duration * 1000;
  let done = 0;
  let busyMs = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      if (!(await argon2.verify(hash, BENCH_PASSWORD))) throw new Error('argon2 verify failed');
      busyMs += performance.now() - t0;
      done++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    rps: done / seconds,
    concurrency: options.concurrency,
    meanMs: busyMs / done,
    cpuMs: (cpu.user + cpu.system) / 1000 / done,
    durationSeconds: seconds,
  };
}

/**
 * Connections the service's pool opens to PostgreSQL at most: DATABASE_POOL_SIZE, 10 by
 * default (`poolSize ?? 10` in src/db/create-db.ts). pgbench runs as many clients, so the
 * write ceiling is what PostgreSQL does with the concurrency the service can give it.
 */
export const SERVICE_POOL_SIZE = 10;

/**
 * pgbench's built-in `simple-update` (`-N`): in one transaction, UPDATE one pgbench_accounts
 * row, SELECT it back and INSERT a pgbench_history row — PostgreSQL's own small write
 * transaction, as a refresh (one write transaction) is the service's.
 */
const PGBENCH_SCRIPT = 'simple-update';
/** `-i -s 1`: 100,000 accounts, the smallest standard database. */
const PGBENCH_SCALE = 1;

export interface PgbenchCeiling {
  /** Transactions per second, without the initial connection time; null when not measured. */
  tps: number | null;
  /** pgbench's own mean latency of a transaction; null when not measured. */
  meanLatencyMs: number | null;
  /** PostgreSQL's CPU milliseconds per transaction (its server processes; not pgbench's own). */
  postgresCpuMs: number | null;
  /** Why there is no figure (pgbench missing, or failed); null when measured. */
  failure: string | null;
  script: typeof PGBENCH_SCRIPT;
  scale: number;
  clients: number;
  threads: number;
  durationSeconds: number;
  warmupSeconds: number;
}

const execFileAsync = promisify(execFile);

/**
 * Connection settings for pgbench as libpq's environment: the password travels in
 * PGPASSWORD, never on a command line others can read. Nothing else of the caller's
 * environment (PGSERVICE, PGOPTIONS, …) leaks in; LC_ALL=C keeps the output parseable.
 */
function pgbenchEnv(url: URL): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '',
    LC_ALL: 'C',
    PGHOST: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    PGPORT: url.port || '5432',
    PGDATABASE: decodeURIComponent(url.pathname.replace(/^\//, '')),
    PGAPPNAME: 'hyperion-bench-pgbench',
  };
  if (process.env['HOME']) env['HOME'] = process.env['HOME'];
  if (url.username) env['PGUSER'] = decodeURIComponent(url.username);
  if (url.password) env['PGPASSWORD'] = decodeURIComponent(url.password);
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode) env['PGSSLMODE'] = sslmode;
  return env;
}

/** Runs pgbench; its stdout, or an Error whose message says why it failed. */
async function pgbench(args: string[], env: NodeJS.ProcessEnv, seconds: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync('pgbench', args, {
      env,
      encoding: 'utf8',
      timeout: (seconds + 60) * 1000,
    });
    return stdout;
  } catch (error: unknown) {
    const failed = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (failed.code === 'ENOENT')
      throw new Error('pgbench not found: apt-get install postgresql-client');
    if (failed.killed) throw new Error(`pgbench ${args.join(' ')} did not finish in time`);
    // The first error is the cause; what follows it is pgbench giving up.
    const lines = (failed.stderr ?? '').trim().split('\n');
    const cause = lines.find((line) => /error:/i.test(line)) ?? lines.pop();
    throw new Error(`pgbench ${args.join(' ')} failed: ${cause || failed.message}`);
  }
}

// PostgreSQL 14 and later print the first form; 13 and earlier the second.
const TPS_LINE =
  /^tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)$/m;
const LATENCY_LINE = /^latency average = ([\d.]+) ms$/m;

/**
 * PostgreSQL's simple-write rate on the server the service uses: pgbench's simple-update,
 * in a database of its own, with as many clients as the service's pool, after an unmeasured
 * warm-up. Never throws: without pgbench, or when it fails, `failure` says why.
 */
export async function measurePgbench(options: {
  adminDatabaseUrl: string;
  database: string;
  clients: number;
  threads: number;
  duration: number;
  warmup: number;
}): Promise<PgbenchCeiling> {
  // pgbench -T takes whole seconds.
  const durationSeconds = Math.max(1, Math.round(options.duration));
  const warmupSeconds = Math.max(1, Math.round(options.warmup));
  const threads = Math.max(1, Math.min(options.threads, options.clients));
  const ceiling: PgbenchCeiling = {
    tps: null,
    meanLatencyMs: null,
    postgresCpuMs: null,
    failure: null,
    script: PGBENCH_SCRIPT,
    scale: PGBENCH_SCALE,
    clients: options.clients,
    threads,
    durationSeconds,
    warmupSeconds,
  };
  const url = new URL(options.adminDatabaseUrl);
  url.pathname = `/${options.database}`;
  const env = pgbenchEnv(url);
  const load = (seconds: number) => {
    const clients = String(options.clients);
    return ['-b', PGBENCH_SCRIPT, '-c', clients, '-j', String(threads), '-T', String(seconds)];
  };
  try {
    await recreateDatabase(options.adminDatabaseUrl, options.database).catch((error: unknown) => {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`could not create the database ${options.database}: ${why}`);
    });
    try {
      await pgbench(['-i', '-q', '-s', String(PGBENCH_SCALE)], env, 0);
      await pgbench(load(warmupSeconds), env, warmupSeconds);
      // PostgreSQL's share: pgbench's clients are new backends, sampled while they run.
      const { result: output, spent } = await new CpuMeter(undefined).over(() =>
        pgbench(load(durationSeconds), env, durationSeconds),
      );
      const tps = TPS_LINE.exec(output)?.[1];
      if (tps === undefined) throw new Error('pgbench printed no "tps = …" line');
      ceiling.tps = Number(tps);
      ceiling.postgresCpuMs = perRequest(spent, ceiling.tps * durationSeconds)?.postgresMs ?? null;
      const latency = LATENCY_LINE.exec(output)?.[1];
      ceiling.meanLatencyMs = latency === undefined ? null : Number(latency);
    } finally {
      await dropDatabase(options.adminDatabaseUrl, options.database).catch(() => undefined);
    }
  } catch (error: unknown) {
    ceiling.failure = error instanceof Error ? error.message : String(error);
  }
  return ceiling;
}
