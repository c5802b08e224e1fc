import { sql } from 'kysely';
import type { Db, Trx } from '../../db/create-db.js';

export interface ConsentRecord {
  client_id: string;
  client_name: string;
  scopes: string[];
  granted_at: Date;
}

export async function findConsentScopes(
  db: Db,
  userId: string,
  clientId: string,
): Promise<string[] | undefined> {
  const row = await db
    .selectFrom('oauth_consents')
    .select('scopes')
    .where('user_id', '=', userId)
    .where('client_id', '=', clientId)
    .executeTakeFirst();
  return row?.scopes;
}

/**
 * Adds scopes to the user's consent for the client (creating it): the union is taken in one
 * statement, so two consents given at once both count. Returns every scope now granted.
 */
export async function addConsentScopes(
  trx: Trx,
  consent: { userId: string; clientId: string; scopes: string[]; now: Date },
): Promise<string[]> {
  const row = await trx
    .insertInto('oauth_consents')
    .values({
      user_id: consent.userId,
      client_id: consent.clientId,
      scopes: [...new Set(consent.scopes)].sort(),
      granted_at: consent.now,
      updated_at: consent.now,
    })
    .onConflict((oc) =>
      oc.columns(['user_id', 'client_id']).doUpdateSet({
        scopes: sql<string[]>`array(
          select distinct s from unnest(oauth_consents.scopes || excluded.scopes) as s order by s
        )`,
        updated_at: consent.now,
      }),
    )
    .returning('scopes')
    .executeTakeFirstOrThrow();
  return row.scopes;
}

/** The user's consents with the clients' names, newest first (one per client: a short list). */
export async function listConsents(db: Db, userId: string): Promise<ConsentRecord[]> {
  return db
    .selectFrom('oauth_consents')
    .innerJoin('oauth_clients', 'oauth_clients.client_id', 'oauth_consents.client_id')
    .select([
      'oauth_consents.client_id',
      'oauth_clients.name as client_name',
      'oauth_consents.scopes',
      'oauth_consents.granted_at',
    ])
    .where('oauth_consents.user_id', '=', userId)
    .orderBy('oauth_consents.granted_at', 'desc')
    .orderBy('oauth_consents.client_id')
    .execute();
}

export async function deleteConsent(
  db: Db,
  userId: string,
  clientId: string,
): Promise<string[] | undefined> {
  const row = await db
    .deleteFrom('oauth_consents')
    .where('user_id', '=', userId)
    .where('client_id', '=', clientId)
    .returning('scopes')
    .executeTakeFirst();
  return row?.scopes;
}

/** Every user's consent for a client (the client is being deleted); how many there were. */
export async function deleteClientConsents(trx: Trx, clientId: string): Promise<number> {
  const rows = await trx
    .deleteFrom('oauth_consents')
    .where('client_id', '=', clientId)
    .returning('user_id')
    .execute();
  return rows.length;
}
