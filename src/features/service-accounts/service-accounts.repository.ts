import { newestFirstPage } from '../../db/keyset.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { KeysetCursor } from '../../lib/cursor.js';

/** What the admin API shows: never the secret hash. */
const PUBLIC_COLUMNS = [
  'id',
  'name',
  'client_id',
  'scopes',
  'created_at',
  'secret_rotated_at',
  'last_used_at',
] as const;

export interface ServiceAccountRecord {
  id: string;
  name: string;
  client_id: string;
  scopes: string[];
  created_at: Date;
  secret_rotated_at: Date | null;
  last_used_at: Date | null;
}

/** What checking a service token needs: never the secret hash. */
export async function findTokenStateByClientId(
  db: Db,
  clientId: string,
): Promise<{ scopes: string[]; secret_rotated_at: Date | null } | undefined> {
  return db
    .selectFrom('service_accounts')
    .select(['scopes', 'secret_rotated_at'])
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

/** The one query that reads a secret hash: client authentication at the token endpoint. */
export async function findCredentialsByClientId(
  db: Db,
  clientId: string,
): Promise<{ id: string; scopes: string[]; secret_hash: string } | undefined> {
  return db
    .selectFrom('service_accounts')
    .select(['id', 'scopes', 'secret_hash'])
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

export async function insertServiceAccount(
  trx: Trx,
  account: {
    name: string;
    clientId: string;
    secretHash: string;
    scopes: string[];
    createdBy: string | null;
    now: Date;
  },
): Promise<ServiceAccountRecord> {
  return trx
    .insertInto('service_accounts')
    .values({
      name: account.name,
      client_id: account.clientId,
      secret_hash: account.secretHash,
      scopes: account.scopes,
      created_by: account.createdBy,
      created_at: account.now,
      updated_at: account.now,
    })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function listServiceAccounts(
  db: Db,
  page: { limit: number; after?: KeysetCursor | undefined },
): Promise<ServiceAccountRecord[]> {
  const query = db.selectFrom('service_accounts').select(PUBLIC_COLUMNS);
  return newestFirstPage(query, { at: 'created_at', id: 'id' }, page).execute();
}

export async function findServiceAccount(
  db: Db,
  id: string,
): Promise<ServiceAccountRecord | undefined> {
  return db
    .selectFrom('service_accounts')
    .select(PUBLIC_COLUMNS)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function replaceSecret(
  trx: Trx,
  id: string,
  secretHash: string,
  now: Date,
): Promise<ServiceAccountRecord | undefined> {
  return trx
    .updateTable('service_accounts')
    .set({ secret_hash: secretHash, secret_rotated_at: now, updated_at: now })
    .where('id', '=', id)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
}

export async function deleteServiceAccount(
  trx: Trx,
  id: string,
): Promise<ServiceAccountRecord | undefined> {
  return trx
    .deleteFrom('service_accounts')
    .where('id', '=', id)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
}

export async function markUsed(db: Db, id: string, now: Date): Promise<void> {
  await db
    .updateTable('service_accounts')
    .set({ last_used_at: now })
    .where('id', '=', id)
    .execute();
}
