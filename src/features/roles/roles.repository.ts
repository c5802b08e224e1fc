import type { Db, Trx } from '../../db/create-db.js';
import type { RoleRow } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../errors.js';

const ROLE_COLUMNS = ['name', 'description', 'permissions', 'built_in'] as const;
export type RoleRecord = Pick<RoleRow, (typeof ROLE_COLUMNS)[number]>;

/** Every permission the named roles grant together. */
export async function findPermissionsOfRoles(db: Db, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await db
    .selectFrom('roles')
    .select('permissions')
    .where('name', 'in', names)
    .execute();
  return [...new Set(rows.flatMap((row) => row.permissions))];
}

/** The names among `names` that are roles. */
export async function findExistingRoleNames(db: Db, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await db.selectFrom('roles').select('name').where('name', 'in', names).execute();
  return rows.map((row) => row.name);
}

export async function listRoles(
  db: Db,
  page: { limit: number; after?: string | undefined },
): Promise<RoleRecord[]> {
  let query = db.selectFrom('roles').select(ROLE_COLUMNS);
  if (page.after !== undefined) query = query.where('name', '>', page.after);
  return query
    .orderBy('name')
    .limit(page.limit + 1)
    .execute();
}

export async function findRole(
  db: Db,
  name: string,
  options: { forUpdate?: boolean } = {},
): Promise<RoleRecord | undefined> {
  let query = db.selectFrom('roles').select(ROLE_COLUMNS).where('name', '=', name);
  if (options.forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function insertRole(
  trx: Trx,
  role: { name: string; description: string; permissions: string[]; now: Date },
): Promise<RoleRecord> {
  try {
    return await trx
      .insertInto('roles')
      .values({
        name: role.name,
        description: role.description,
        permissions: role.permissions,
        created_at: role.now,
        updated_at: role.now,
      })
      .returning(ROLE_COLUMNS)
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error, 'roles_pkey'))
      throw new AppError('conflict', `A role named ${role.name} exists`);
    throw error;
  }
}

export async function updateRole(
  trx: Trx,
  name: string,
  fields: { description?: string; permissions?: string[]; updated_at: Date },
): Promise<RoleRecord> {
  return trx
    .updateTable('roles')
    .set(fields)
    .where('name', '=', name)
    .returning(ROLE_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Deletes the role; users and groups lose it by cascade. */
export async function deleteRole(trx: Trx, name: string): Promise<void> {
  await trx.deleteFrom('roles').where('name', '=', name).execute();
}
