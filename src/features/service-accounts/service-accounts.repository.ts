import type { Db } from '../../db/create-db.js';

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
