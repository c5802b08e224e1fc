import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { CliIo } from '../src/cli/cli.js';
import { TEST_ENV } from './app.js';
import { createTestDatabase } from './db.js';
import { cleanUpAfter } from './cleanup.js';

export interface Captured extends CliIo {
  stdout: string[];
  stderr: string[];
}

/** CLI streams captured in memory; `stdin` is what standard input holds. */
export function capture(stdin = ''): Captured {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (line) => stdout.push(line),
    err: (line) => stderr.push(line),
    readStdin: async () => stdin,
    openStdin: () => Readable.from([stdin]),
  };
}

/**
 * The CLI runs against a real database: a blank one on the PostgreSQL server, or an
 * embedded one on disk (the same PGlite data directory `npm start` would use).
 */
export async function blankDatabaseEnv(): Promise<Record<string, string>> {
  const database = await createTestDatabase({ empty: true });
  cleanUpAfter(() => database.drop());
  if (database.url) return { ...TEST_ENV, DATABASE_URL: database.url };
  const dir = await mkdtemp(join(tmpdir(), 'hyperion-cli-'));
  cleanUpAfter(() => rm(dir, { recursive: true, force: true }));
  return { ...TEST_ENV, DATA_DIR: dir };
}
