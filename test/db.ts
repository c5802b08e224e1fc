import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { inject } from 'vitest';
import type { DatabaseTarget } from '../src/config/config.js';
import { type Db, createDb } from '../src/db/create-db.js';
import { adminUrlFor, databaseUrlFor, testDatabaseServer } from './db-server.js';

export interface TestDatabase {
  /** What a config's DATABASE_URL would say for this database (a second instance opens it too). */
  target: DatabaseTarget;
  /** The DATABASE_URL value for this database; undefined on PGlite (in-process only). */
  url: string | undefined;
  open(): Promise<Db>;
  drop(): Promise<void>;
}

let snapshotBytes: Buffer | undefined;

/**
 * A fresh, migrated (or, with `empty`, blank) database for one test file: a copy of the template on a PostgreSQL
 * server, or an in-memory PGlite loaded from the migrated snapshot.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const server = testDatabaseServer();
  const template = inject('pgTemplate');
  if (server && template) {
    const name = `hyperion_test_${process.ppid}_${randomBytes(6).toString('hex')}`;
    const from = options.empty ? '' : ` template ${template}`;
    await withAdmin(server, (client) => client.query(`create database ${name}${from}`));
    const url = databaseUrlFor(server, name);
    const opened: Db[] = [];
    return {
      target: { kind: 'postgres', url },
      url,
      async open() {
        const db = await createDb({ kind: 'postgres', url }, { poolSize: 5 });
        opened.push(db);
        return db;
      },
      async drop() {
        await Promise.all(opened.map((db) => db.destroy().catch(() => {})));
        await withAdmin(server, (client) =>
          client.query(`drop database if exists ${name} with (force)`),
        );
      },
    };
  }
  const snapshotFile = inject('pgliteSnapshot');
  if (!snapshotFile) throw new Error('global setup provided no database');
  snapshotBytes ??= await readFile(snapshotFile);
  const snapshot = options.empty ? undefined : new Blob([snapshotBytes]);
  let db: Promise<Db> | undefined;
  return {
    target: { kind: 'memory' },
    url: undefined,
    async open() {
      // PGlite is one in-process database: every "open" shares the same instance, even
      // when several instances open it at once (hence the promise, not the result, is kept).
      db ??= createDb({ kind: 'memory' }, snapshot ? { embeddedSnapshot: snapshot } : {});
      return db;
    },
    async drop() {
      await (await db)?.destroy();
    },
  };
}

async function withAdmin<T>(server: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrlFor(server) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
