import { newestFirstPage } from '../../db/keyset.js';
import type { Db, Trx } from '../../db/create-db.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../errors.js';
import type { KeysetCursor } from '../../lib/cursor.js';

export interface GroupRecord {
  id: string;
  name: string;
  description: string;
  created_at: Date;
  roles: string[];
}

const GROUP_COLUMNS = ['id', 'name', 'description', 'created_at'] as const;

function nameTaken(error: unknown, name: string): unknown {
  return isUniqueViolation(error, 'groups_name_key')
    ? new AppError('conflict', `A group named ${name} exists`)
    : error;
}

async function rolesOfGroups(db: Db, groupIds: readonly string[]): Promise<Map<string, string[]>> {
  const roles = new Map<string, string[]>(groupIds.map((id) => [id, []]));
  if (groupIds.length === 0) return roles;
  const rows = await db
    .selectFrom('group_roles')
    .select(['group_id', 'role_name'])
    .where('group_id', 'in', groupIds)
    .orderBy('role_name')
    .execute();
  for (const row of rows) roles.get(row.group_id)?.push(row.role_name);
  return roles;
}

export async function listGroups(
  db: Db,
  page: { limit: number; after?: KeysetCursor | undefined },
): Promise<GroupRecord[]> {
  const query = db.selectFrom('groups').select(GROUP_COLUMNS);
  const rows = await newestFirstPage(query, { at: 'created_at', id: 'id' }, page).execute();
  const roles = await rolesOfGroups(
    db,
    rows.map((row) => row.id),
  );
  return rows.map((row) => ({ ...row, roles: roles.get(row.id) ?? [] }));
}

export async function findGroup(
  db: Db,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<GroupRecord | undefined> {
  let query = db.selectFrom('groups').select(GROUP_COLUMNS).where('id', '=', id);
  if (options.forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) return undefined;
  return { ...row, roles: (await rolesOfGroups(db, [id])).get(id) ?? [] };
}

export async function insertGroup(
  trx: Trx,
  group: { name: string; description: string; now: Date },
): Promise<string> {
  try {
    const row = await trx
      .insertInto('groups')
      .values({
        name: group.name,
        description: group.description,
        created_at: group.now,
        updated_at: group.now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  } catch (error) {
    throw nameTaken(error, group.name);
  }
}

export async function updateGroup(
  trx: Trx,
  id: string,
  fields: { name?: string; description?: string; updated_at: Date },
): Promise<void> {
  try {
    await trx.updateTable('groups').set(fields).where('id', '=', id).execute();
  } catch (error) {
    throw nameTaken(error, fields.name ?? '');
  }
}

export async function replaceGroupRoles(
  trx: Trx,
  groupId: string,
  roles: readonly string[],
): Promise<void> {
  await trx.deleteFrom('group_roles').where('group_id', '=', groupId).execute();
  if (roles.length === 0) return;
  try {
    await trx
      .insertInto('group_roles')
      .values(roles.map((role) => ({ group_id: groupId, role_name: role })))
      .execute();
  } catch (error) {
    // A role deleted between the existence check and this insert.
    if (isForeignKeyViolation(error))
      throw new AppError('validation_failed', 'No such role', [
        { field: 'roles', message: 'unknown role' },
      ]);
    throw error;
  }
}

export async function deleteGroup(trx: Trx, id: string): Promise<void> {
  await trx.deleteFrom('groups').where('id', '=', id).execute();
}

/** Members newest first by when they joined, then user id. */
export async function listMemberIds(
  db: Db,
  groupId: string,
  page: { limit: number; after?: KeysetCursor | undefined },
): Promise<{ user_id: string; created_at: Date }[]> {
  const query = db
    .selectFrom('group_members')
    .select(['user_id', 'created_at'])
    .where('group_id', '=', groupId);
  return newestFirstPage(query, { at: 'created_at', id: 'user_id' }, page).execute();
}

/** Adds the member; false when they already were one. */
export async function addMember(
  trx: Trx,
  groupId: string,
  userId: string,
  now: Date,
): Promise<boolean> {
  try {
    const inserted = await trx
      .insertInto('group_members')
      .values({ group_id: groupId, user_id: userId, created_at: now })
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return inserted !== undefined;
  } catch (error) {
    // The user was deleted after the existence check.
    if (isForeignKeyViolation(error)) throw new AppError('not_found', 'No such user');
    throw error;
  }
}

/** Removes the member; false when they were not one. */
export async function removeMember(trx: Trx, groupId: string, userId: string): Promise<boolean> {
  const result = await trx
    .deleteFrom('group_members')
    .where('group_id', '=', groupId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
