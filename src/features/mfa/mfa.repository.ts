import { sql } from 'kysely';
import type { Db, Trx } from '../../db/create-db.js';
import type { SignInFirstStep } from '../../db/database.js';

export async function findTotp(db: Db, userId: string) {
  return db
    .selectFrom('mfa_totp')
    .select(['secret', 'confirmed_at', 'last_time_step'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** A new, unconfirmed secret replaces any earlier unconfirmed one. */
export async function savePendingTotp(
  db: Db,
  userId: string,
  secret: string,
  now: Date,
): Promise<void> {
  await db
    .insertInto('mfa_totp')
    .values({ user_id: userId, secret, created_at: now })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({ secret, confirmed_at: null, last_time_step: null }),
    )
    .execute();
}

/**
 * Records the time step of an accepted code, only if it is later than the last one: two
 * requests with the same code cannot both win. False when the step was already used.
 */
export async function advanceTimeStep(db: Db, userId: string, timeStep: number): Promise<boolean> {
  const row = await db
    .updateTable('mfa_totp')
    .set({ last_time_step: timeStep })
    .where('user_id', '=', userId)
    .where((eb) =>
      eb.or([
        eb('last_time_step', 'is', null),
        eb('last_time_step', '<', sql<string>`${timeStep}`),
      ]),
    )
    .returning('user_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function confirmTotp(trx: Db, userId: string, now: Date): Promise<void> {
  await trx
    .updateTable('mfa_totp')
    .set({ confirmed_at: now })
    .where('user_id', '=', userId)
    .execute();
}

export async function deleteTotp(trx: Db, userId: string): Promise<void> {
  await trx.deleteFrom('mfa_totp').where('user_id', '=', userId).execute();
}

export async function replaceRecoveryCodes(
  trx: Db,
  userId: string,
  codeHashes: readonly string[],
): Promise<void> {
  await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
  await trx
    .insertInto('mfa_recovery_codes')
    .values(codeHashes.map((code_hash) => ({ user_id: userId, code_hash })))
    .execute();
}

/** Spends a recovery code; false if it is unknown or already spent. */
export async function spendRecoveryCode(
  db: Db,
  userId: string,
  codeHash: string,
  now: Date,
): Promise<boolean> {
  const row = await db
    .updateTable('mfa_recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .returning('code_hash')
    .executeTakeFirst();
  return row !== undefined;
}

export async function countUnusedRecoveryCodes(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('mfa_recovery_codes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function deleteRecoveryCodes(trx: Db, userId: string): Promise<void> {
  await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
}

/** Second steps of sign-ins still pending: they end when MFA is turned off. */
export async function deleteChallenges(trx: Db, userId: string): Promise<void> {
  await trx.deleteFrom('mfa_challenges').where('user_id', '=', userId).execute();
}

/**
 * Locks the user's row while their factors are counted: two transactions changing different
 * factors of one user (removing TOTP while adding a passkey) take turns, so the later one
 * counts what the earlier one committed and `mfa_enabled` never ends up stale.
 */
export async function lockUserMfa(trx: Trx, userId: string): Promise<void> {
  await trx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
}

export async function insertChallenge(
  db: Db,
  challenge: {
    tokenHash: string;
    userId: string;
    now: Date;
    expiresAt: Date;
    firstStep: SignInFirstStep;
  },
): Promise<void> {
  await db
    .insertInto('mfa_challenges')
    .values({
      token_hash: challenge.tokenHash,
      user_id: challenge.userId,
      created_at: challenge.now,
      expires_at: challenge.expiresAt,
      first_step: challenge.firstStep,
    })
    .execute();
}

/** The user of a live, unspent challenge, and how their sign-in began. */
export async function findLiveChallenge(
  db: Db,
  tokenHash: string,
  now: Date,
): Promise<{ user_id: string; first_step: SignInFirstStep } | undefined> {
  return db
    .selectFrom('mfa_challenges')
    .select(['user_id', 'first_step'])
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Spends the challenge; false if another request spent it first. */
export async function spendChallenge(db: Db, tokenHash: string, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('mfa_challenges')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .returning('token_hash')
    .executeTakeFirst();
  return row !== undefined;
}
