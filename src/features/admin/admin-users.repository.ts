import { sql } from 'kysely';
import { newestFirstPage } from '../../db/keyset.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { UserRow } from '../../db/database.js';
import type { KeysetCursor } from '../../lib/cursor.js';
import { USER_COLUMNS } from '../accounts/accounts.repository.js';

export interface UserFilter {
  q?: string | undefined;
  role?: string | undefined;
  active?: boolean | undefined;
}

/** `%`, `_` and `\` match themselves in the search text, not as wildcards. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

/**
 * Newest first by (created_at, id): a user added while someone pages is newer than every
 * cursor already handed out, so pages never skip or repeat a row.
 */
export async function listUsers(
  db: Db,
  filter: UserFilter,
  page: { limit: number; after?: KeysetCursor | undefined },
): Promise<UserRow[]> {
  let query = db.selectFrom('users').select(USER_COLUMNS);
  if (filter.q !== undefined) {
    const pattern = likePattern(filter.q);
    query = query.where((eb) =>
      eb.or([
        eb(sql`users.email`, 'ilike', pattern),
        eb(sql`coalesce(users.name, '')`, 'ilike', pattern),
      ]),
    );
  }
  if (filter.role !== undefined) {
    const role = filter.role;
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('user_effective_roles')
          .select('user_effective_roles.user_id')
          .whereRef('user_effective_roles.user_id', '=', 'users.id')
          .where('user_effective_roles.role_name', '=', role),
      ),
    );
  }
  if (filter.active !== undefined) query = query.where('users.is_active', '=', filter.active);
  return newestFirstPage(query, { at: 'users.created_at', id: 'users.id' }, page).execute();
}

export async function findUsersByIds(db: Db, userIds: readonly string[]): Promise<UserRow[]> {
  if (userIds.length === 0) return [];
  return db.selectFrom('users').select(USER_COLUMNS).where('users.id', 'in', userIds).execute();
}

export async function findDirectRoles(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('user_roles')
    .select('role_name')
    .where('user_id', '=', userId)
    .orderBy('role_name')
    .execute();
  return rows.map((row) => row.role_name);
}

export async function addDirectRoles(
  trx: Trx,
  userId: string,
  roles: readonly string[],
): Promise<void> {
  if (roles.length === 0) return;
  await trx
    .insertInto('user_roles')
    .values(roles.map((role) => ({ user_id: userId, role_name: role })))
    .onConflict((oc) => oc.columns(['user_id', 'role_name']).doNothing())
    .execute();
}

export async function removeDirectRoles(
  trx: Trx,
  userId: string,
  roles: readonly string[],
): Promise<void> {
  if (roles.length === 0) return;
  await trx
    .deleteFrom('user_roles')
    .where('user_id', '=', userId)
    .where('role_name', 'in', roles)
    .execute();
}

export async function updateUser(
  trx: Trx,
  userId: string,
  fields: { name?: string | null; is_active?: boolean; email_verified?: boolean; updated_at: Date },
): Promise<void> {
  await trx.updateTable('users').set(fields).where('id', '=', userId).execute();
}

/** Locks the user's row for the rest of the transaction; false if there is no such user. */
export async function lockUser(trx: Trx, userId: string): Promise<boolean> {
  const row = await trx
    .selectFrom('users')
    .select('id')
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  return row !== undefined;
}
