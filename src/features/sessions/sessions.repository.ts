import { sql } from 'kysely';
import type { Db, Trx } from '../../db/create-db.js';
import { newestFirstPage } from '../../db/keyset.js';
import type { SessionRow } from '../../db/database.js';

export interface NewSession {
  userId: string;
  now: Date;
  expiresAt: Date;
  absoluteExpiresAt: Date;
  userAgent: string | null;
  ip: string | null;
  refreshTokenHash: string;
}

/** Creates a session and its first refresh token (stored as a hash), which commit together. */
export async function insertSessionWithRefreshToken(
  trx: Trx,
  session: NewSession,
): Promise<SessionRow> {
  const row = await trx
    .insertInto('sessions')
    .values({
      user_id: session.userId,
      created_at: session.now,
      last_used_at: session.now,
      expires_at: session.expiresAt,
      absolute_expires_at: session.absoluteExpiresAt,
      user_agent: session.userAgent,
      ip: session.ip,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('refresh_tokens')
    .values({
      token_hash: session.refreshTokenHash,
      session_id: row.id,
      created_at: session.now,
      expires_at: session.expiresAt,
    })
    .execute();
  return row;
}

export async function findSessionStatus(
  db: Db,
  sessionId: string,
): Promise<
  | Pick<SessionRow, 'id' | 'user_id' | 'revoked_at' | 'expires_at' | 'absolute_expires_at'>
  | undefined
> {
  return db
    .selectFrom('sessions')
    .select(['id', 'user_id', 'revoked_at', 'expires_at', 'absolute_expires_at'])
    .where('id', '=', sessionId)
    .executeTakeFirst();
}

export interface RefreshTokenWithSession {
  token_hash: string;
  session_id: string;
  user_id: string;
  token_expires_at: Date;
  spent_at: Date | null;
  /** The hash of the child a rotation spent this token for (null while unspent). */
  replaced_by: string | null;
  child_sealed: string | null;
  session_expires_at: Date;
  absolute_expires_at: Date;
  revoked_at: Date | null;
}

function selectRefreshToken(db: Db, tokenHash: string) {
  return db
    .selectFrom('refresh_tokens as rt')
    .innerJoin('sessions as s', 's.id', 'rt.session_id')
    .select([
      'rt.token_hash',
      'rt.session_id',
      's.user_id',
      'rt.expires_at as token_expires_at',
      'rt.spent_at',
      'rt.replaced_by',
      'rt.child_sealed',
      's.expires_at as session_expires_at',
      's.absolute_expires_at',
      's.revoked_at',
    ])
    .where('rt.token_hash', '=', tokenHash);
}

/** A refresh token and its session, unlocked (see rotateUnspentRefreshToken). */
export async function findRefreshToken(
  db: Db,
  tokenHash: string,
): Promise<RefreshTokenWithSession | undefined> {
  return selectRefreshToken(db, tokenHash).executeTakeFirst();
}

/**
 * Finds a refresh token and its session, locking the token row until the transaction
 * ends: concurrent refreshes of one token take turns instead of racing.
 */
export async function lockRefreshToken(
  trx: Trx,
  tokenHash: string,
): Promise<RefreshTokenWithSession | undefined> {
  return selectRefreshToken(trx, tokenHash).forUpdate('rt').executeTakeFirst();
}

/**
 * Whether a spent token's child has been spent in its turn, locking the child's row until the
 * transaction ends: a retry of the parent and a refresh with the child take turns, so a retry
 * is never answered with a child that was spent in between. Unknown children count as spent.
 */
export async function lockChildSpent(trx: Trx, childHash: string): Promise<boolean> {
  const child = await trx
    .selectFrom('refresh_tokens')
    .select('spent_at')
    .where('token_hash', '=', childHash)
    .forUpdate()
    .executeTakeFirst();
  return child === undefined || child.spent_at !== null;
}

export interface Rotation {
  parentHash: string;
  childHash: string;
  childSealed: string;
  sessionId: string;
  now: Date;
  expiresAt: Date;
  client: { ip: string | null; userAgent: string | null };
}

/**
 * Spends the parent token, stores its child and slides the session's expiry, in one
 * statement that needs no transaction around it: it spends the parent only if it is still
 * unspent and its session unrevoked — the row lock the update takes makes a concurrent
 * refresh of the same token wait and then find it spent — and only then writes the rest.
 * False if it spent nothing (and so wrote nothing).
 */
export async function rotateUnspentRefreshToken(db: Db, rotation: Rotation): Promise<boolean> {
  const result = await sql<{ spent: number }>`
    with spent as (
      update refresh_tokens
         set spent_at = ${rotation.now}, replaced_by = ${rotation.childHash},
             child_sealed = ${rotation.childSealed}
       where token_hash = ${rotation.parentHash}
         and session_id = ${rotation.sessionId}
         and spent_at is null
         and exists (
           select 1 from sessions s where s.id = refresh_tokens.session_id and s.revoked_at is null
         )
      returning session_id
    ), child as (
      insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
      select ${rotation.childHash}::text, session_id, ${rotation.now}::timestamptz,
             ${rotation.expiresAt}::timestamptz
        from spent
    ), slid as (
      update sessions
         set last_used_at = ${rotation.now}, expires_at = ${rotation.expiresAt},
             ip = ${rotation.client.ip}, user_agent = ${rotation.client.userAgent}
       where id in (select session_id from spent)
    )
    select count(*)::int as spent from spent`.execute(db);
  return (result.rows[0]?.spent ?? 0) > 0;
}

/** Revokes sessions that are still live; returns the ids it revoked. */
export async function revokeSessions(
  db: Db,
  filter: { sessionId?: string; userId?: string; exceptSessionId?: string },
  reason: string,
  now: Date,
): Promise<string[]> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('revoked_at', 'is', null);
  if (filter.sessionId !== undefined) query = query.where('id', '=', filter.sessionId);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.exceptSessionId !== undefined) query = query.where('id', '!=', filter.exceptSessionId);
  const rows = await query.returning('id').execute();
  return rows.map((row) => row.id);
}

export async function findSessionOwner(db: Db, sessionId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('sessions')
    .select('user_id')
    .where('id', '=', sessionId)
    .executeTakeFirst();
  return row?.user_id;
}

export type SessionListRow = Pick<
  SessionRow,
  'id' | 'created_at' | 'last_used_at' | 'user_agent' | 'ip'
>;

/** A user's live sessions, newest first, from a keyset position. */
export async function listLiveSessions(
  db: Db,
  userId: string,
  now: Date,
  page: { limit: number; after?: { at: Date; id: string } },
): Promise<SessionListRow[]> {
  const query = db
    .selectFrom('sessions')
    .select(['id', 'created_at', 'last_used_at', 'user_agent', 'ip'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .where('absolute_expires_at', '>', now);
  return newestFirstPage(query, { at: 'created_at', id: 'id' }, page).execute();
}

export async function findSessionByRefreshToken(
  db: Db,
  tokenHash: string,
): Promise<Pick<SessionRow, 'id' | 'user_id' | 'revoked_at'> | undefined> {
  return db
    .selectFrom('refresh_tokens as rt')
    .innerJoin('sessions as s', 's.id', 'rt.session_id')
    .select(['s.id', 's.user_id', 's.revoked_at'])
    .where('rt.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Has the user signed in before, and ever from this very client (address and user agent)? */
export async function findSignInHistory(
  db: Db,
  userId: string,
  client: { ip: string | null; userAgent: string | null },
): Promise<{ anySession: boolean; sameClient: boolean }> {
  const row = await db
    .selectFrom('sessions')
    .select((eb) => [
      eb.fn.countAll<number>().as('sessions'),
      eb.fn
        .count<number>('id')
        .filterWhere((w) =>
          w.and([
            w('ip', 'is not distinct from', client.ip),
            w('user_agent', 'is not distinct from', client.userAgent),
          ]),
        )
        .as('same_client'),
    ])
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return { anySession: Number(row.sessions) > 0, sameClient: Number(row.same_client) > 0 };
}
