import type { Selectable } from 'kysely';
import type { Db, Trx } from '../../db/create-db.js';
import type { ProfilesTable } from '../../db/database.js';
import { isForeignKeyViolation } from '../../db/pg-errors.js';
import { AppError } from '../../errors.js';

export type ProfileRow = Selectable<ProfilesTable>;

/** The fields a user may change; the key is the column. */
export interface ProfileChanges {
  full_name?: string | null;
  avatar_url?: string | null;
  phone?: string | null;
  locale?: string | null;
  timezone?: string | null;
}

const PROFILE_COLUMNS = [
  'user_id',
  'full_name',
  'avatar_url',
  'phone',
  'locale',
  'timezone',
  'updated_at',
] as const;

export async function findProfileByUserId(db: Db, userId: string): Promise<ProfileRow | undefined> {
  return db
    .selectFrom('profiles')
    .select(PROFILE_COLUMNS)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** The empty profile of a new account, committed with it. */
export async function insertEmptyProfile(trx: Trx, userId: string, now: Date): Promise<void> {
  await trx.insertInto('profiles').values({ user_id: userId, updated_at: now }).execute();
}

/**
 * Applies the changes, creating the row if the user has none (imported users). One
 * statement, so two concurrent updates cannot both try to insert.
 */
export async function upsertProfile(
  db: Db,
  userId: string,
  changes: ProfileChanges,
  now: Date,
): Promise<ProfileRow> {
  try {
    return await db
      .insertInto('profiles')
      .values({ ...changes, user_id: userId, updated_at: now })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ ...changes, updated_at: now }))
      .returning(PROFILE_COLUMNS)
      .executeTakeFirstOrThrow();
  } catch (error) {
    // The user was deleted after their token was checked: they are no longer signed in.
    if (isForeignKeyViolation(error))
      throw new AppError('unauthorized', 'The account is no longer active');
    throw error;
  }
}
