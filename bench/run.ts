import { CpuMeter } from './cpu.js';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import {
  SERVICE_POOL_SIZE,
  measureBareRoute,
  measureHashRate,
  measurePgbench,
} from './ceilings.js';
import {
  type BenchResults,
  type ScenarioEntry,
  commitDescription,
  currentLoad,
  entry,
  evaluateTargets,
  formatResults,
  machineBefore,
  writeResults,
} from './report.js';
import {
  CONNECTIONS,
  type Grant,
  type ScenarioContext,
  healthDuringSignInScenario,
  meScenario,
  refreshScenario,
  signIn,
  signInScenario,
  signUpScenario,
  spreadUsers,
  verifyScenario,
} from './scenarios.js';
import { type RunningServer, RssSampler, startService } from './server.js';
import { type BenchSettings, readSettings, serviceDatabaseUrl } from './settings.js';
import {
  connect,
  countUsers,
  settle,
  hashBenchPassword,
  recreateDatabase,
  seedUsers,
} from './seed.js';

const MB = 1024 * 1024;
/** Distinct users whose access tokens the cheap scenarios present. */
const TOKEN_USERS = 32;

const started = performance.now();
function log(message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[${seconds}s] ${message}\n`);
}

/** Children to stop if the bench is interrupted or fails. */
const running = new Set<RunningServer>();
process.once('SIGINT', () => {
  void Promise.all([...running].map((server) => server.stop())).then(() => process.exit(130));
});

// The ceilings are measured right before the scenarios read against them (the service is
// up but idle meanwhile): on a machine others share, load drifts within minutes.
async function measureBareCeiling(phase: Phase): Promise<void> {
  const { settings } = phase;
  log(`ceiling: bare Fastify route, ${CONNECTIONS.cheap} connections`);
  const bareRoute = await measureBareRoute({
    connections: CONNECTIONS.cheap,
    duration: settings.duration,
    warmup: settings.warmup,
  });
  log(`  ${Math.round(bareRoute.rps)} req/s, p99 ${bareRoute.p99Ms} ms`);
  phase.ceilings.bareRoute = bareRoute;
}

async function measureHashCeiling(phase: Phase): Promise<void> {
  const { settings } = phase;
  log(`ceiling: argon2id verify, ${settings.hashConcurrency} at a time`);
  const hash = await measureHashRate({
    concurrency: settings.hashConcurrency,
    duration: settings.hashDuration,
  });
  log(`  ${hash.rps.toFixed(1)} verifications/s (${hash.meanMs.toFixed(1)} ms each)`);
  phase.ceilings.hash = hash;
}

async function measureWriteCeiling(phase: Phase): Promise<void> {
  const { settings } = phase;
  // As many clients as the pool the service actually runs with.
  const clients =
    Number(settings.serviceEnv['DATABASE_POOL_SIZE'] ?? SERVICE_POOL_SIZE) || SERVICE_POOL_SIZE;
  log(
    `ceiling: pgbench simple-update, ${clients} clients, ${settings.cores} threads ` +
      `(database ${settings.pgbenchDatabaseName})`,
  );
  const pgbench = await measurePgbench({
    adminDatabaseUrl: settings.adminDatabaseUrl,
    database: settings.pgbenchDatabaseName,
    clients,
    threads: settings.cores,
    duration: settings.duration,
    warmup: settings.warmup,
  });
  const latency = pgbench.meanLatencyMs?.toFixed(1) ?? '?';
  log(
    pgbench.tps === null
      ? `  not measured: ${pgbench.failure ?? 'unknown'}`
      : `  ${Math.round(pgbench.tps)} transactions/s (${latency} ms each)`,
  );
  phase.ceilings.pgbench = pgbench;
}

interface Phase {
  settings: BenchSettings;
  ctx: ScenarioContext;
  db: pg.Client;
  sampler: RssSampler;
  ceilings: BenchResults['ceilings'];
  scenarios: Record<string, ScenarioEntry>;
}

/** Runs one scenario if selected, and files its result with the users present. */
async function scenario(
  phase: Phase,
  name: string,
  ceiling: ScenarioEntry['ceiling'],
  body: () => Promise<ScenarioEntry['measurement']>,
): Promise<void> {
  if (phase.settings.only && !phase.settings.only.has(name)) return;
  const users = await countUsers(phase.db);
  log(`${name}: ${users.toLocaleString('en')} users, ${phase.settings.duration} s`);
  const measurement = await body();
  phase.scenarios[name] = entry(users, measurement, ceiling, phase.ceilings);
  const statuses = Object.entries(measurement.otherStatuses)
    .map(([status, count]) => `${status}×${count}`)
    .join(' ');
  log(
    `  ${measurement.rps.toFixed(1)} req/s, p50 ${measurement.p50Ms} ms, p99 ${measurement.p99Ms} ms` +
      `, RSS peak so far ${(phase.sampler.peakBytes / MB).toFixed(0)} MB` +
      (statuses ? `, other statuses ${statuses}` : '') +
      (measurement.errors ? `, ${measurement.errors} connection errors` : ''),
  );
}

function selected(settings: BenchSettings, ...names: string[]): boolean {
  return !settings.only || names.some((name) => settings.only?.has(name));
}

async function runSmallPass(phase: Phase, grants: Grant[]): Promise<void> {
  const { settings, ctx } = phase;
  await measureBareCeiling(phase);
  await scenario(phase, 'verify', 'bare route', () => verifyScenario(ctx, grants));
  await scenario(phase, 'me', 'bare route', () => meScenario(ctx, grants));
  if (selected(settings, 'refresh')) {
    // Two chains per connection (warm-up and measured run) and spares for broken chains.
    const sessions = await signIn(
      ctx.baseUrl,
      spreadUsers(2 * CONNECTIONS.refresh + 32, settings.smallUsers),
    );
    const pool = sessions.map((grant) => grant.refreshToken);
    await measureWriteCeiling(phase);
    await scenario(phase, 'refresh', 'pgbench simple-update', () => refreshScenario(ctx, pool));
    // Thousands of rotations: the sign-in scenarios must not pay for their vacuum.
    await settle(phase.db, ['refresh_tokens', 'sessions']);
  }
  await measureHashCeiling(phase);
  await scenario(phase, 'signin', 'argon2 verify', () => signInScenario(ctx, settings.smallUsers));
  if (selected(settings, 'health during signin')) {
    let beside: ScenarioEntry['measurement'] | undefined;
    await scenario(phase, 'health during signin', undefined, async () => {
      const result = await healthDuringSignInScenario(ctx, settings.smallUsers);
      beside = result.signin;
      return result.health;
    });
    const health = phase.scenarios['health during signin'];
    if (beside && health)
      phase.scenarios['signin beside the probe'] = entry(
        health.users,
        beside,
        'argon2 verify',
        phase.ceilings,
      );
  }
  // A hash costs what a verification costs, so sign-up is read against the same ceiling.
  const tag = randomBytes(4).toString('hex');
  await scenario(phase, 'signup', 'argon2 verify', () => signUpScenario(ctx, tag));
}

async function runLargePass(phase: Phase, passwordHash: string): Promise<void> {
  const { settings, ctx, db } = phase;
  if (!selected(settings, 'me (large)', 'signin (large)')) return;
  log(`seeding users up to ${settings.largeUsers.toLocaleString('en')}`);
  const seedStarted = performance.now();
  await seedUsers(
    db,
    { from: settings.smallUsers + 1, to: settings.largeUsers },
    passwordHash,
    (done) => log(`  ${done.toLocaleString('en')} users`),
  );
  log(`  seeded and analysed in ${((performance.now() - seedStarted) / 1000).toFixed(0)} s`);
  const grants = await signIn(ctx.baseUrl, spreadUsers(TOKEN_USERS, settings.largeUsers));
  await scenario(phase, 'me (large)', 'bare route', () => meScenario(ctx, grants));
  await scenario(phase, 'signin (large)', 'argon2 verify', () =>
    signInScenario(ctx, settings.largeUsers),
  );
}

/** The settings as JSON can hold them, without the database URL (it carries a password). */
function settingsForReport(settings: BenchSettings): BenchResults['settings'] {
  const { only, adminDatabaseUrl: _secret, ...rest } = settings;
  return { ...rest, only: only ? [...only] : null };
}

function describeNotes(results: BenchResults): string[] {
  const notes = [
    `autocannon runs in the bench process on the same ${results.machine.cores} cores as the service, ` +
      'PostgreSQL and Redis: every figure, the ceilings included, carries that contention.',
    'Ratios are taken against ceilings measured in this same run, under the same conditions.',
  ];
  const extra = Object.entries(results.settings.serviceEnv);
  if (extra.length > 0)
    notes.push(
      `The service ran with ${extra.map(([name, value]) => `${name}=${value}`).join(' ')} ` +
        '(BENCH_SERVICE_ENV), not as it ships.',
    );
  if (results.machine.loadBefore > 0.5 || results.machine.loadAfter > results.machine.cores)
    notes.push(
      `The machine was not idle (1-min load ${results.machine.loadBefore.toFixed(2)} before, ` +
        `${results.machine.loadAfter.toFixed(2)} after): other work competed, figures are noisy.`,
    );
  for (const [name, scenario] of Object.entries(results.scenarios)) {
    const m = scenario.measurement;
    if (m.non2xx > 0 || m.errors > 0)
      notes.push(`${name}: ${m.non2xx} non-2xx answers and ${m.errors} connection errors.`);
  }
  return notes;
}

async function main(): Promise<void> {
  const settings = readSettings();
  const startedAt = new Date().toISOString();
  const machine = machineBefore(settings);
  const ceilings: BenchResults['ceilings'] = {
    bareRoute: undefined,
    hash: undefined,
    pgbench: undefined,
  };

  log(`database ${settings.databaseName}: recreating; starting the service`);
  await recreateDatabase(settings.adminDatabaseUrl, settings.databaseName);
  const databaseUrl = serviceDatabaseUrl(settings);
  const service = await startService({
    databaseUrl,
    redisUrl: settings.redisUrl,
    cpuProfile: settings.cpuProfile,
    extraEnv: settings.serviceEnv,
  });
  running.add(service);
  const sampler = new RssSampler(service.pid);
  sampler.start();
  const db = await connect(databaseUrl);
  const scenarios: Record<string, ScenarioEntry> = {};
  let rss: BenchResults['rss'];
  try {
    log(`service ${service.url} (pid ${service.pid}) ready; seeding ${settings.smallUsers} users`);
    const passwordHash = await hashBenchPassword();
    await seedUsers(db, { from: 1, to: settings.smallUsers }, passwordHash);
    const ctx = {
      baseUrl: service.url,
      duration: settings.duration,
      warmup: settings.warmup,
      cpu: new CpuMeter(service.pid),
    };
    const phase: Phase = { settings, ctx, db, sampler, ceilings, scenarios };
    const grants = await signIn(service.url, spreadUsers(TOKEN_USERS, settings.smallUsers));
    await runSmallPass(phase, grants);
    await runLargePass(phase, passwordHash);
  } finally {
    const sampled = sampler.stop();
    const kernel = service.peakRssFromKernel();
    rss = {
      peakSampledMb: sampled.peakBytes / MB,
      peakKernelMb: kernel === undefined ? undefined : kernel / MB,
      samples: sampled.samples,
    };
    await db.end();
    await service.stop();
    running.delete(service);
  }

  const results: BenchResults = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAfter: currentLoad() },
    commit: commitDescription(),
    settings: settingsForReport(settings),
    ceilings,
    scenarios,
    rss,
    targets: evaluateTargets(scenarios, ceilings, rss.peakSampledMb, machine.cores),
    notes: [],
  };
  results.notes = describeNotes(results);
  process.stdout.write(`\n${formatResults(results)}\n`);
  log(`results: ${writeResults(results)} and bench/results/latest.json`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  void Promise.all([...running].map((server) => server.stop())).then(() => process.exit(1));
});
