import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { TEST_ENV } from '../../test/app.js';
import { createTestDatabase } from '../../test/db.js';
import { loadConfig } from '../config/config.js';
import { createDeps } from '../deps.js';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';
import { cleanUpAfter } from '../../test/cleanup.js';

const migrationNames = Object.keys(migrations).sort();

describe('migrations', () => {
  it('are named YYYY_MM_DD_HHMMSS_name so that they sort in the order they run', () => {
    for (const name of migrationNames) expect(name).toMatch(/^\d{4}_\d{2}_\d{2}_\d{6}_[a-z0-9_]+$/);
  });

  it('bring a blank database up to date once; a second run finds nothing to do', async () => {
    const database = await createTestDatabase({ empty: true });
    cleanUpAfter(() => database.drop());
    const db = await database.open();
    expect(await migrateToLatest(db)).toEqual(migrationNames);
    expect(await migrateToLatest(db)).toEqual([]);
    const roles = await db.selectFrom('roles').select('name').orderBy('name').execute();
    expect(roles.map((r) => r.name)).toEqual(['admin', 'user']);
  });

  it('are safe when two instances start on the same blank database at once', async () => {
    const database = await createTestDatabase({ empty: true });
    cleanUpAfter(() => database.drop());
    // Two connection pools on a server (two processes' worth); PGlite shares its one engine.
    const [first, second] = [await database.open(), await database.open()];
    const config = loadConfig({ ...TEST_ENV, MIGRATE_ON_START: 'true' });
    const [a, b] = await Promise.all([
      createDeps(config, { db: first }),
      createDeps(config, { db: second }),
    ]);
    cleanUpAfter(async () => {
      await a.close();
      await b.close();
    });
    const applied = await sql<{
      name: string;
    }>`select name from kysely_migration order by name`.execute(first);
    expect(applied.rows.map((r) => r.name)).toEqual(migrationNames);
    // Both instances sign with the one key that was created.
    expect(a.keys.current.kid).toBe(b.keys.current.kid);
    const keys = await first
      .selectFrom('signing_keys')
      .select('kid')
      .where('retired_at', 'is', null)
      .execute();
    expect(keys).toHaveLength(1);
  });

  it('enforce case-insensitive e-mail uniqueness in the database itself', async () => {
    const database = await createTestDatabase();
    cleanUpAfter(() => database.drop());
    const db = await database.open();
    await db
      .insertInto('users')
      .values({ email: 'dup@example.com', updated_at: new Date() })
      .execute();
    await expect(
      sql`insert into users (email, updated_at) values (${'dup@example.com'}, now())`.execute(db),
    ).rejects.toMatchObject({ code: '23505' });
    // Mixed case cannot be stored at all: the application's normal form is enforced.
    await expect(
      sql`insert into users (email, updated_at) values (${'Dup@Example.com'}, now())`.execute(db),
    ).rejects.toMatchObject({ code: '23514' });
  });
});
