import type { Db, Trx } from '../../db/create-db.js';
import { newestFirstPage } from '../../db/keyset.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../errors.js';
import type { KeysetCursor } from '../../lib/cursor.js';
import type { OAuthClient } from '../oidc/oidc.types.js';

/** Everything but the secret hash: what every reader but client authentication gets. */
const CLIENT_COLUMNS = [
  'client_id',
  'name',
  'type',
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'scopes',
  'first_party',
  'created_at',
  'secret_rotated_at',
  'registration',
] as const;

export interface NewClient {
  clientId: string;
  name: string;
  type: 'confidential' | 'public';
  secretHash: string | null;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  scopes: string[];
  firstParty: boolean;
  registration: 'admin' | 'dynamic';
  createdBy: string | null;
  now: Date;
}

export interface ClientChanges {
  name?: string;
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  grant_types?: string[];
  scopes?: string[];
  first_party?: boolean;
}

export async function findClient(db: Db, clientId: string): Promise<OAuthClient | undefined> {
  return db
    .selectFrom('oauth_clients')
    .select(CLIENT_COLUMNS)
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

/** The one query that reads a secret hash: client authentication. */
export async function findClientWithSecret(
  db: Db,
  clientId: string,
): Promise<(OAuthClient & { secret_hash: string | null }) | undefined> {
  return db
    .selectFrom('oauth_clients')
    .select([...CLIENT_COLUMNS, 'secret_hash'])
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

export async function listClients(
  db: Db,
  page: { limit: number; after?: KeysetCursor | undefined },
): Promise<OAuthClient[]> {
  const query = db.selectFrom('oauth_clients').select(CLIENT_COLUMNS);
  return newestFirstPage(query, { at: 'created_at', id: 'client_id' }, page).execute();
}

export async function insertClient(trx: Trx, client: NewClient): Promise<OAuthClient> {
  try {
    return await trx
      .insertInto('oauth_clients')
      .values({
        client_id: client.clientId,
        name: client.name,
        type: client.type,
        secret_hash: client.secretHash,
        redirect_uris: client.redirectUris,
        post_logout_redirect_uris: client.postLogoutRedirectUris,
        grant_types: client.grantTypes,
        scopes: client.scopes,
        first_party: client.firstParty,
        registration: client.registration,
        created_by: client.createdBy,
        created_at: client.now,
        updated_at: client.now,
      })
      .returning(CLIENT_COLUMNS)
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error, 'oauth_clients_pkey'))
      throw new AppError('conflict', `A client with the id ${client.clientId} exists`);
    throw error;
  }
}

export async function updateClient(
  trx: Trx,
  clientId: string,
  changes: ClientChanges,
  now: Date,
): Promise<OAuthClient | undefined> {
  return trx
    .updateTable('oauth_clients')
    .set({ ...changes, updated_at: now })
    .where('client_id', '=', clientId)
    .returning(CLIENT_COLUMNS)
    .executeTakeFirst();
}

/** A new secret for a confidential client; undefined if there is no such client. */
export async function replaceSecret(
  trx: Trx,
  clientId: string,
  secretHash: string,
  now: Date,
): Promise<OAuthClient | undefined> {
  return trx
    .updateTable('oauth_clients')
    .set({ secret_hash: secretHash, secret_rotated_at: now, updated_at: now })
    .where('client_id', '=', clientId)
    .where('type', '=', 'confidential')
    .returning(CLIENT_COLUMNS)
    .executeTakeFirst();
}

export async function deleteClient(trx: Trx, clientId: string): Promise<OAuthClient | undefined> {
  return trx
    .deleteFrom('oauth_clients')
    .where('client_id', '=', clientId)
    .returning(CLIENT_COLUMNS)
    .executeTakeFirst();
}

/**
 * Deletes the dynamically registered clients made before `before` that nobody ever used: no
 * consent given to them and no grant (a session of theirs, live or ended) ever opened. A
 * dynamic client is never first-party, so every authorization it completed left a consent.
 */
export async function deleteUnusedDynamicClients(trx: Trx, before: Date): Promise<OAuthClient[]> {
  return trx
    .deleteFrom('oauth_clients')
    .where('registration', '=', 'dynamic')
    .where('created_at', '<', before)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('oauth_consents')
            .select('oauth_consents.client_id')
            .whereRef('oauth_consents.client_id', '=', 'oauth_clients.client_id'),
        ),
      ),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('sessions')
            .select('sessions.client_id')
            .whereRef('sessions.client_id', '=', 'oauth_clients.client_id'),
        ),
      ),
    )
    .returning(CLIENT_COLUMNS)
    .execute();
}

/**
 * Holds the client row against deletion until the transaction ends, so a consent cannot be
 * stored for a client being deleted (its consents would outlive it).
 */
export async function lockClientShared(trx: Trx, clientId: string): Promise<boolean> {
  const row = await trx
    .selectFrom('oauth_clients')
    .select('client_id')
    .where('client_id', '=', clientId)
    .forShare()
    .executeTakeFirst();
  return row !== undefined;
}
