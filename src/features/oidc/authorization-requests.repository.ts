import type { Db } from '../../db/create-db.js';
import type { AuthorizationParams } from './oidc.types.js';

/** A pending /oauth/authorize request, waiting for the person to sign in or consent. */
export interface StoredRequest {
  clientId: string;
  params: AuthorizationParams;
  /** The browser session the request continues in (signed in for it, or found live). */
  sessionId: string | null;
}

export async function insertRequest(
  db: Db,
  request: {
    idHash: string;
    params: AuthorizationParams;
    sessionId: string | null;
    now: Date;
    expiresAt: Date;
  },
): Promise<void> {
  await db
    .insertInto('authorization_requests')
    .values({
      id_hash: request.idHash,
      client_id: request.params.client_id,
      params: JSON.stringify(request.params),
      session_id: request.sessionId,
      created_at: request.now,
      expires_at: request.expiresAt,
    })
    .execute();
}

/** The request, unless it is unknown or past its life. */
export async function findRequest(
  db: Db,
  idHash: string,
  now: Date,
): Promise<StoredRequest | undefined> {
  const row = await db
    .selectFrom('authorization_requests')
    .select(['client_id', 'params', 'session_id'])
    .where('id_hash', '=', idHash)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return undefined;
  // Written by insertRequest only, from parameters already validated.
  const params = row.params as unknown as AuthorizationParams;
  return { clientId: row.client_id, params, sessionId: row.session_id };
}

/** The sign-in made for this request: its browser session continues it. */
export async function bindSession(db: Db, idHash: string, sessionId: string): Promise<void> {
  await db
    .updateTable('authorization_requests')
    .set({ session_id: sessionId })
    .where('id_hash', '=', idHash)
    .execute();
}

/**
 * Ends the request (a code was issued, or the person said no): true only for the one caller
 * that deleted it, so a double submit cannot issue two codes.
 */
export async function deleteRequest(db: Db, idHash: string): Promise<boolean> {
  const result = await db
    .deleteFrom('authorization_requests')
    .where('id_hash', '=', idHash)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function deleteExpiredRequests(db: Db, before: Date): Promise<void> {
  await db.deleteFrom('authorization_requests').where('expires_at', '<', before).execute();
}
