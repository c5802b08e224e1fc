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

/** A client together with the time its fetched metadata goes stale (null: not fetched). */
export async function findClientWithExpiry(
  db: Db,
  clientId: string,
): Promise<(OAuthClient & { metadata_expires_at: Date | null }) | undefined> {
  return db
    .selectFrom('oauth_clients')
    .select([...CLIENT_COLUMNS, 'metadata_expires_at'])
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

/** What a metadata document says of its client, as stored. */
export interface MetadataClient {
  clientId: string;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  scopes: string[];
  expiresAt: Date;
  now: Date;
}

/**
 * Stores a metadata-document client as its document now reads: inserted the first time,
 * replaced after. Returns the row and the row before (undefined: new). Safe when instances
 * race: the row is locked, and an insert that loses to another becomes an update.
 */
export async function saveMetadataClient(
  trx: Trx,
  client: MetadataClient,
): Promise<{ client: OAuthClient; previous: OAuthClient | undefined }> {
  const changes = {
    name: client.name,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    grant_types: client.grantTypes,
    scopes: client.scopes,
    metadata_expires_at: client.expiresAt,
    updated_at: client.now,
  };
  const update = () =>
    trx
      .updateTable('oauth_clients')
      .set(changes)
      .where('client_id', '=', client.clientId)
      .where('registration', '=', 'metadata_document')
      .returning(CLIENT_COLUMNS)
      .executeTakeFirstOrThrow();
  const previous = await trx
    .selectFrom('oauth_clients')
    .select(CLIENT_COLUMNS)
    .where('client_id', '=', client.clientId)
    .forUpdate()
    .executeTakeFirst();
  if (previous) return { client: await update(), previous };
  const inserted = await trx
    .insertInto('oauth_clients')
    .values({
      ...changes,
      client_id: client.clientId,
      type: 'public',
      secret_hash: null,
      first_party: false,
      registration: 'metadata_document',
      created_by: null,
      created_at: client.now,
    })
    .onConflict((conflict) => conflict.column('client_id').doNothing())
    .returning(CLIENT_COLUMNS)
    .executeTakeFirst();
  return inserted
    ? { client: inserted, previous: undefined }
    : { client: await update(), previous };
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
 * Deletes the clients anybody could have made (dynamically registered, or read from a metadata
 * document) made before `before` that nobody ever used: no consent given to them and no grant
 * (a session of theirs, live or ended) ever opened. Such a client is never first-party, so
 * every authorization it completed left a consent. A metadata-document client that went is
 * fetched again the next time it is used.
 */
export async function deleteUnusedSelfRegisteredClients(
  trx: Trx,
  before: Date,
): Promise<OAuthClient[]> {
  return trx
    .deleteFrom('oauth_clients')
    .where('registration', 'in', ['dynamic', 'metadata_document'])
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
