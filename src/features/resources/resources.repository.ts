import type { Db } from '../../db/create-db.js';
import type { ApiResourceScope } from '../../db/database.js';
import { newestFirstPage } from '../../db/keyset.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../errors.js';
import type { KeysetCursor } from '../../lib/cursor.js';

export interface ResourceRecord {
  id: string;
  identifier: string;
  name: string;
  scopes: ApiResourceScope[];
  access_token_ttl: number | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = [
  'id',
  'identifier',
  'name',
  'scopes',
  'access_token_ttl',
  'created_at',
  'updated_at',
] as const;

export async function insertResource(
  db: Db,
  resource: Omit<ResourceRecord, 'id' | 'created_at' | 'updated_at'> & { now: Date },
): Promise<ResourceRecord> {
  try {
    return await db
      .insertInto('api_resources')
      .values({
        identifier: resource.identifier,
        name: resource.name,
        scopes: JSON.stringify(resource.scopes),
        access_token_ttl: resource.access_token_ttl,
        created_at: resource.now,
        updated_at: resource.now,
      })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error))
      throw new AppError('conflict', 'A resource with this identifier exists');
    throw error;
  }
}

export async function findResource(db: Db, id: string): Promise<ResourceRecord | undefined> {
  return db.selectFrom('api_resources').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

export async function findResourceByIdentifier(
  db: Db,
  identifier: string,
): Promise<ResourceRecord | undefined> {
  return db
    .selectFrom('api_resources')
    .select(COLUMNS)
    .where('identifier', '=', identifier)
    .executeTakeFirst();
}

export async function listAllResources(db: Db): Promise<ResourceRecord[]> {
  return db.selectFrom('api_resources').select(COLUMNS).execute();
}

export async function listResources(
  db: Db,
  page: { limit: number; after?: KeysetCursor | undefined },
): Promise<ResourceRecord[]> {
  const query = db.selectFrom('api_resources').select(COLUMNS);
  return newestFirstPage(query, { at: 'created_at', id: 'id' }, page).execute();
}

export async function updateResource(
  db: Db,
  id: string,
  changes: { name?: string; scopes?: ApiResourceScope[]; access_token_ttl?: number | null },
  now: Date,
): Promise<ResourceRecord | undefined> {
  return db
    .updateTable('api_resources')
    .set({
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.scopes !== undefined ? { scopes: JSON.stringify(changes.scopes) } : {}),
      ...(changes.access_token_ttl !== undefined
        ? { access_token_ttl: changes.access_token_ttl }
        : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirst();
}

export async function deleteResource(db: Db, id: string): Promise<ResourceRecord | undefined> {
  return db.deleteFrom('api_resources').where('id', '=', id).returning(COLUMNS).executeTakeFirst();
}
