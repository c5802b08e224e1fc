import { sql } from 'kysely';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Db, Trx } from '../src/db/create-db.js';
import { lockSigningKeys } from '../src/db/signing-keys.repository.js';
import { insertAccount, lockUser } from '../src/features/accounts/accounts.repository.js';
import type { AccountsService } from '../src/features/accounts/accounts.service.js';
import { lockAdminChanges } from '../src/features/accounts/user-roles.repository.js';
import { lockToken } from '../src/features/email-tokens/email-tokens.repository.js';
import type { EmailTokensService } from '../src/features/email-tokens/email-tokens.service.js';
import { claimDueMails } from '../src/features/mail/mail.repository.js';
import { lockCode, spendCode } from '../src/features/oidc/authorization-codes.repository.js';
import {
  insertBrowserSession,
  insertClientSession,
  insertSessionWithRefreshToken,
  lockChildSpent,
  lockRefreshToken,
} from '../src/features/sessions/sessions.repository.js';
import type { SessionsService } from '../src/features/sessions/sessions.service.js';
import { cleanUpAfter } from './cleanup.js';
import { createTestDatabase } from './db.js';

// Locks (`for update`, pg_advisory_xact_lock) and writes that must commit together take a
// Trx: outside a transaction a row lock is released at once and an xact advisory lock does
// nothing, so a call with a plain Db must not compile. Vitest does not type-check; these
// assertions are judged by `tsc -p tsconfig.check.json` (npm run typecheck), which includes
// this file.

describe('typed transactions', () => {
  it('a Db is not a Trx, while a Trx can go wherever a Db can', () => {
    expectTypeOf<Db>().not.toMatchTypeOf<Trx>();
    expectTypeOf<Trx>().toMatchTypeOf<Db>();
  });

  it('db.transaction().execute hands its callback a Trx, whichever the dialect (pg or PGlite)', () => {
    type Callback = Parameters<ReturnType<Db['transaction']>['execute']>[0];
    expectTypeOf<Parameters<Callback>[0]>().toEqualTypeOf<Trx>();
  });

  it('lock and must-commit-together functions take a Trx', () => {
    expectTypeOf(lockRefreshToken).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(lockChildSpent).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(insertSessionWithRefreshToken).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(insertBrowserSession).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(insertClientSession).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(lockCode).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(spendCode).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(lockUser).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(lockAdminChanges).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(insertAccount).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(lockToken).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(claimDueMails).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf(lockSigningKeys).parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf<EmailTokensService['consume']>().parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf<EmailTokensService['issue']>().parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf<SessionsService['revokeAllForUserWithin']>().parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf<AccountsService['assertAnAdminRemains']>().parameter(0).toEqualTypeOf<Trx>();
    expectTypeOf<AccountsService['setMfaEnabled']>().parameter(0).toEqualTypeOf<Trx>();
  });

  it('a call with a plain Db does not compile', () => {
    // Never run: only the compiler judges these calls (each @ts-expect-error fails the
    // typecheck if the call it marks ever compiles).
    const compileOnly = (db: Db, trx: Trx, tokens: EmailTokensService) => [
      // @ts-expect-error a plain Db: the advisory lock would end with the statement
      lockAdminChanges(db),
      lockAdminChanges(trx),
      // @ts-expect-error a plain Db: the row lock would be released before the rotation
      lockRefreshToken(db, 'hash'),
      lockRefreshToken(trx, 'hash'),
      // @ts-expect-error a plain Db: two requests could both spend one e-mail token
      tokens.consume(db, 'token', 'reset_password'),
      tokens.consume(trx, 'token', 'reset_password'),
    ];
    expectTypeOf(compileOnly).toBeFunction();
  });

  it('a transaction on the test database (PGlite or PostgreSQL) is a real one', async () => {
    const database = await createTestDatabase();
    cleanUpAfter(() => database.drop());
    const db = await database.open();
    const held = await db.transaction().execute(async (trx) => {
      await lockAdminChanges(trx);
      // The advisory lock outlives the statement that took it: it lasts until the transaction
      // ends (outside one, pg_advisory_xact_lock would already have let go).
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_locks
         where locktype = 'advisory' and pid = pg_backend_pid()`.execute(trx);
      return { isTransaction: trx.isTransaction, locks: rows[0]?.n };
    });
    expect(held).toEqual({ isTransaction: true, locks: 1 });
  });
});
