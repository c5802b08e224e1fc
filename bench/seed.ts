import argon2 from 'argon2';
import pg from 'pg';

/** The password of every seeded user and of every bench sign-up (it passes the policy). */
export const BENCH_PASSWORD = 'Wide-margin-orbit-7319';

/** The e-mail of seeded user `n` (1-based): lower case, as the service stores addresses. */
export function seededEmail(n: number): string {
  return `bench-user-${n}@bench.example`;
}

/** The same hash parameters the service runs with (OWASP argon2id: 19 MiB, t=2, p=1). */
export const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Drops and creates the bench's own database; the service migrates it at start. */
export async function recreateDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // WITH (FORCE) ends connections a previous, interrupted run may have left behind.
    await client.query(`drop database if exists ${quoteIdentifier(name)} with (force)`);
    await client.query(`create database ${quoteIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

/** Drops a database the bench created, ending any connection left to it. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${quoteIdentifier(name)} with (force)`);
  } finally {
    await client.end();
  }
}

/** A direct connection to the bench database, for seeding (never used by the measured path). */
export async function connect(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  return client;
}

export async function countUsers(client: pg.Client): Promise<number> {
  const result = await client.query<{ n: string }>('select count(*) as n from users');
  return Number(result.rows[0]?.n ?? 0);
}

// One statement per chunk: data-modifying CTEs insert the users and, from their generated
// ids, the rows sign-up writes with them (credentials, the default role, an empty profile),
// so a seeded user looks to the service exactly like one who signed up.
const INSERT_USERS = `
  with new_users as (
    insert into users (email, name)
    select 'bench-user-' || i || '@bench.example', 'Bench user ' || i
      from generate_series($1::int, $2::int) as i
    returning id
  ), new_credentials as (
    insert into credentials (user_id, password_hash) select id, $3 from new_users
  ), new_roles as (
    insert into user_roles (user_id, role_name) select id, 'user' from new_users
  )
  insert into profiles (user_id) select id from new_users`;

const CHUNK = 250_000;

/**
 * Seeds users `from`..`to` (1-based, inclusive) with one precomputed argon2id hash of
 * BENCH_PASSWORD: hashing a million passwords one by one would take hours, and every
 * sign-in still verifies against a real hash of the real cost.
 */
export async function seedUsers(
  client: pg.Client,
  range: { from: number; to: number },
  passwordHash: string,
  onProgress: (done: number) => void = () => {},
): Promise<void> {
  for (let start = range.from; start <= range.to; start += CHUNK) {
    const end = Math.min(range.to, start + CHUNK - 1);
    await client.query(INSERT_USERS, [start, end, passwordHash]);
    onProgress(end);
  }
  // Fresh statistics, and the visibility map and hint bits set as autovacuum would have
  // left them on a database that grew over time, so the second pass measures a large
  // table, not a table that was bulk-loaded a second ago.
  await settle(client, ['users', 'credentials', 'user_roles', 'profiles']);
}

/**
 * Leaves no work of a load behind for the next scenario to pay for: the tables it wrote
 * vacuumed and analysed (else autovacuum starts on them during the next scenario, after a
 * few thousand refreshes), and its dirty pages written out now rather than by a checkpoint
 * whose commits would wait on the disk. CHECKPOINT needs superuser or pg_checkpoint; without
 * it the next scenario may pay for the load after all.
 */
export async function settle(client: pg.Client, tables: readonly string[]): Promise<void> {
  await client.query(`vacuum (analyze) ${tables.join(', ')}`);
  await client.query('checkpoint').catch(() => undefined);
}

/** One hash of BENCH_PASSWORD with the service's parameters. */
export async function hashBenchPassword(): Promise<string> {
  return argon2.hash(BENCH_PASSWORD, ARGON2_OPTIONS);
}
