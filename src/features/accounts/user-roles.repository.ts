import { sql } from 'kysely';
import type { Db, Trx } from '../../db/create-db.js';

// The one repository that writes `user_roles` (roles granted directly; groups grant the
// others), and the reads of effective roles that authorization and the last-admin rule use.

/** Effective roles (direct and through groups) of many users in one query, sorted. */
export async function findRolesOfUsers(
  db: Db,
  userIds: readonly string[],
): Promise<Map<string, string[]>> {
  const roles = new Map<string, string[]>(userIds.map((id) => [id, []]));
  if (userIds.length === 0) return roles;
  const rows = await db
    .selectFrom('user_effective_roles')
    .select(['user_id', 'role_name'])
    .where('user_id', 'in', userIds)
    .orderBy('role_name')
    .execute();
  for (const row of rows) roles.get(row.user_id)?.push(row.role_name);
  return roles;
}

/** Direct roles and roles inherited through groups, sorted. */
export async function findRoleNamesForUser(db: Db, userId: string): Promise<string[]> {
  return (await findRolesOfUsers(db, [userId])).get(userId) ?? [];
}

/** The user's effective roles with the permissions each grants, read fresh for authorization. */
export async function findRolePermissionsForUser(
  db: Db,
  userId: string,
): Promise<{ roles: string[]; permissions: string[]; mfaEnabled: boolean }> {
  const rows = await db
    .selectFrom('user_effective_roles')
    .innerJoin('roles', 'roles.name', 'user_effective_roles.role_name')
    .select(['roles.name', 'roles.permissions'])
    .where('user_effective_roles.user_id', '=', userId)
    .orderBy('roles.name')
    .execute();
  const user = await db
    .selectFrom('users')
    .select('mfa_enabled')
    .where('id', '=', userId)
    .executeTakeFirst();
  return {
    roles: rows.map((row) => row.name),
    permissions: [...new Set(rows.flatMap((row) => row.permissions))].sort(),
    mfaEnabled: user?.mfa_enabled ?? false,
  };
}

/** Whether an active user holds the role, directly or through a group. */
export async function roleHasMembers(db: Db, role: string): Promise<boolean> {
  const row = await db
    .selectFrom('user_effective_roles')
    .innerJoin('users', 'users.id', 'user_effective_roles.user_id')
    .select('user_effective_roles.user_id')
    .where('user_effective_roles.role_name', '=', role)
    .where('users.is_active', '=', true)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Active holders of a role (directly or through a group) other than `exceptUserId`. */
export async function countOtherActiveMembers(
  db: Db,
  role: string,
  exceptUserId: string,
): Promise<number> {
  const row = await db
    .selectFrom('user_effective_roles')
    .innerJoin('users', 'users.id', 'user_effective_roles.user_id')
    .select((eb) => eb.fn.count<number>('users.id').distinct().as('n'))
    .where('user_effective_roles.role_name', '=', role)
    .where('users.is_active', '=', true)
    .where('users.id', '!=', exceptUserId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Serializes every change that can take the admin role away from someone, for the rest of
 * the transaction: two admins demoting each other at once cannot both succeed.
 */
export async function lockAdminChanges(trx: Trx): Promise<void> {
  await sql`select pg_advisory_xact_lock(${ADMIN_CHANGES_LOCK})`.execute(trx);
}

// An arbitrary constant shared by every instance (Kysely's migration lock uses another).
const ADMIN_CHANGES_LOCK = 7_240_118_305;

export async function findDirectRoles(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('user_roles')
    .select('role_name')
    .where('user_id', '=', userId)
    .orderBy('role_name')
    .execute();
  return rows.map((row) => row.role_name);
}

/** Grants roles directly (a new account's, or an admin's grant); one already held is kept. */
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
