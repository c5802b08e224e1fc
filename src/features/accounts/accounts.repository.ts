import { type ExpressionBuilder, sql } from 'kysely';
import type { Db, Trx } from '../../db/create-db.js';
import type { Database, UserRow } from '../../db/database.js';
import { newestFirstPage } from '../../db/keyset.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../errors.js';
import type { KeysetCursor } from '../../lib/cursor.js';
import type { AdminUserFields, UserFilter, UserWithRoles } from './accounts.types.js';
import { addDirectRoles } from './user-roles.repository.js';

// The one repository that writes `users` and `credentials` (user-roles.repository.ts writes
// `user_roles`): other features change them through AccountsService.

/** The columns of a user object (never a credential). */
const USER_COLUMNS = [
  'users.id',
  'users.email',
  'users.email_verified',
  'users.name',
  'users.is_active',
  'users.mfa_enabled',
  'users.created_at',
  'users.updated_at',
  'users.last_signin_at',
] as const;

export interface NewAccount {
  email: string;
  name: string | null;
  passwordHash: string;
  roles: readonly string[];
  emailVerified: boolean;
  now: Date;
}

/** Inserts a user with credentials and roles (AccountsService adds the empty profile). */
export async function insertAccount(trx: Trx, account: NewAccount): Promise<UserWithRoles> {
  let user: UserRow;
  try {
    user = await trx
      .insertInto('users')
      .values({
        email: account.email,
        name: account.name,
        email_verified: account.emailVerified,
        created_at: account.now,
        updated_at: account.now,
      })
      .returning(USER_COLUMNS)
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error, 'users_email_key')) throw new AppError('email_taken');
    throw error;
  }
  await trx
    .insertInto('credentials')
    .values({ user_id: user.id, password_hash: account.passwordHash, updated_at: account.now })
    .execute();
  await addDirectRoles(trx, user.id, account.roles);
  return { ...user, roles: [...account.roles].sort() };
}

/** The effective roles of the `users` row of the query, sorted as findRolesOfUsers sorts them. */
const EFFECTIVE_ROLES = sql<string[]>`array(
  select r.role_name from user_effective_roles r where r.user_id = users.id order by r.role_name
)`;

/** A user with their roles in one round trip: read on every GET /me and every refresh. */
export async function findUserById(db: Db, userId: string): Promise<UserWithRoles | undefined> {
  return db
    .selectFrom('users')
    .select(USER_COLUMNS)
    .select(EFFECTIVE_ROLES.as('roles'))
    .where('id', '=', userId)
    .executeTakeFirst();
}

/**
 * `lower(users.email) = email`, for a normalized address: the only index on e-mails is the
 * unique one on lower(email), and a bare `email =` cannot use it — every sign-in scanned
 * the whole table (57 ms at a million users). Stored addresses are normalized (a check
 * constraint), so both forms match the same rows.
 */
function emailIs(eb: ExpressionBuilder<Database, 'users'>, email: string) {
  return eb(eb.fn<string>('lower', ['users.email']), '=', email);
}

export async function findUserRowByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .select(USER_COLUMNS)
    .where((eb) => emailIs(eb, email))
    .executeTakeFirst();
}

export async function emailExists(db: Db, email: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where((eb) => emailIs(eb, email))
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The only query that reads a password hash: the user (with roles, which a sign-in needs
 * next) and their hash, for checking a password. Nothing else in the service selects
 * `credentials.password_hash`.
 */
export async function findUserWithPasswordHash(
  db: Db,
  by: { email: string } | { userId: string },
): Promise<{ user: UserWithRoles; passwordHash: string } | undefined> {
  const row = await db
    .selectFrom('users')
    .innerJoin('credentials', 'credentials.user_id', 'users.id')
    .select([...USER_COLUMNS, 'credentials.password_hash'])
    .select(EFFECTIVE_ROLES.as('roles'))
    .where((eb) => ('email' in by ? emailIs(eb, by.email) : eb('users.id', '=', by.userId)))
    .executeTakeFirst();
  if (!row) return undefined;
  const { password_hash: passwordHash, ...user } = row;
  return { user, passwordHash };
}

/** The user has a password credential (imported users hold an unusable one: still resettable). */
export async function hasPasswordCredential(db: Db, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('credentials')
    .select('user_id')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function updatePasswordHash(
  db: Db,
  userId: string,
  passwordHash: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('credentials')
    .set({ password_hash: passwordHash, updated_at: now })
    .where('user_id', '=', userId)
    .execute();
}

export async function updateLastSignIn(db: Db, userId: string, at: Date): Promise<void> {
  await db.updateTable('users').set({ last_signin_at: at }).where('id', '=', userId).execute();
}

export async function markEmailVerified(db: Db, userId: string, now: Date): Promise<void> {
  await db
    .updateTable('users')
    .set({ email_verified: true, updated_at: now })
    .where('id', '=', userId)
    .execute();
}

/** Turns the MFA flag on or off; it commits with the change of factors that decides it. */
export async function setMfaEnabled(
  trx: Trx,
  userId: string,
  enabled: boolean,
  now: Date,
): Promise<void> {
  await trx
    .updateTable('users')
    .set({ mfa_enabled: enabled, updated_at: now })
    .where('id', '=', userId)
    .execute();
}

/** Deletes the user; credentials, profile, roles, sessions and tokens go with it (cascade). */
export async function deleteUser(db: Db, userId: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
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

export async function updateUser(trx: Trx, userId: string, fields: AdminUserFields): Promise<void> {
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
