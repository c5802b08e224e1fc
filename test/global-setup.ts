import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateToLatest } from '../src/db/migrate.js';
import { PGliteDialect } from '../src/db/pglite-dialect.js';
import { adminUrlFor, databaseUrlFor, testDatabaseServer } from './db-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL database, migrated once, that each test file copies (server mode). */
    pgTemplate: string | undefined;
    /** A migrated PGlite data directory tarball that each test file loads (embedded mode). */
    pgliteSnapshot: string | undefined;
  }
}

/**
 * Migrates once per run: into a template database on a PostgreSQL server when
 * TEST_DATABASE_URL is set, otherwise into a PGlite snapshot. Test files then copy it,
 * so every file has a database of its own and files run in parallel.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = testDatabaseServer();
  if (server) {
    const template = `hyperion_template_${process.pid}`;
    const admin = new pg.Client({ connectionString: adminUrlFor(server) });
    await admin.connect();
    await admin.query(`drop database if exists ${template}`);
    await admin.query(`create database ${template}`);
    const db = new Kysely<unknown>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: databaseUrlFor(server, template), max: 1 }),
      }),
    });
    await migrateToLatest(db as never);
    await db.destroy();
    project.provide('pgTemplate', template);
    project.provide('pgliteSnapshot', undefined);
    return async () => {
      // Test files drop their own databases; this sweeps anything a crashed file left.
      const { rows } = await admin.query<{ datname: string }>(
        `select datname from pg_database where datname like $1`,
        [`hyperion_test_${process.pid}_%`],
      );
      for (const { datname } of rows)
        await admin.query(`drop database if exists ${datname} with (force)`);
      await admin.query(`drop database if exists ${template} with (force)`);
      await admin.end();
    };
  }
  const pglite = await PGlite.create();
  const db = new Kysely<unknown>({ dialect: new PGliteDialect({ pglite }) });
  await migrateToLatest(db as never);
  await sql`checkpoint`.execute(db);
  const snapshot = await pglite.dumpDataDir('none');
  await db.destroy();
  const dir = await mkdtemp(join(tmpdir(), 'hyperion-test-'));
  const file = join(dir, 'snapshot.tar');
  await writeFile(file, Buffer.from(await snapshot.arrayBuffer()));
  project.provide('pgTemplate', undefined);
  project.provide('pgliteSnapshot', file);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
