import { sql } from 'kysely';
import type { Db, Trx } from '../../db/create-db.js';
import { newestFirstPage } from '../../db/keyset.js';
import type { SessionRow } from '../../db/database.js';

/** What every new session row starts from, whatever its kind. */
export interface SessionStart {
  userId: string;
  now: Date;
  expiresAt: Date;
  absoluteExpiresAt: Date;
  userAgent: string | null;
  ip: string | null;
}

/** The columns every kind of session sets alike at its start. */
function startColumns(start: SessionStart) {
  return {
    user_id: start.userId,
    created_at: start.now,
    last_used_at: start.now,
    expires_at: start.expiresAt,
    absolute_expires_at: start.absoluteExpiresAt,
    user_agent: start.userAgent,
    ip: start.ip,
  };
}

export interface NewSession extends SessionStart {
  refreshTokenHash: string;
}

/** Creates a session and its first refresh token (stored as a hash), which commit together. */
export async function insertSessionWithRefreshToken(
  trx: Trx,
  session: NewSession,
): Promise<SessionRow> {
  const row = await trx
    .insertInto('sessions')
    .values(startColumns(session))
    .returningAll()
    .executeTakeFirstOrThrow();
  await insertFirstRefreshToken(trx, row.id, session);
  return row;
}

/** A session's first refresh token, stored as its hash; it expires with the session. */
async function insertFirstRefreshToken(
  trx: Trx,
  sessionId: string,
  token: { refreshTokenHash: string; now: Date; expiresAt: Date },
): Promise<void> {
  await trx
    .insertInto('refresh_tokens')
    .values({
      token_hash: token.refreshTokenHash,
      session_id: sessionId,
      created_at: token.now,
      expires_at: token.expiresAt,
    })
    .execute();
}

export interface NewBrowserSession extends SessionStart {
  tokenHash: string;
  amr: readonly string[];
}

/** A browser's sign-in at /login: no refresh token, a cookie whose hash is kept. */
export async function insertBrowserSession(
  trx: Trx,
  session: NewBrowserSession,
): Promise<SessionRow> {
  return trx
    .insertInto('sessions')
    .values({
      ...startColumns(session),
      kind: 'browser',
      auth_time: session.now,
      amr: [...session.amr],
      browser_token_hash: session.tokenHash,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export type BrowserSessionRow = Pick<
  SessionRow,
  'id' | 'user_id' | 'auth_time' | 'amr' | 'expires_at' | 'absolute_expires_at' | 'revoked_at'
>;

export async function findBrowserSession(
  db: Db,
  tokenHash: string,
): Promise<BrowserSessionRow | undefined> {
  return db
    .selectFrom('sessions')
    .select([
      'id',
      'user_id',
      'auth_time',
      'amr',
      'expires_at',
      'absolute_expires_at',
      'revoked_at',
    ])
    .where('browser_token_hash', '=', tokenHash)
    .where('kind', '=', 'browser')
    .executeTakeFirst();
}

/** Slides a live browser session's expiry (BROWSER_SESSION_TTL after its last use). */
export async function touchSession(
  db: Db,
  sessionId: string,
  now: Date,
  expiresAt: Date,
): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_used_at: now, expires_at: expiresAt })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .execute();
}

export interface NewClientSession extends SessionStart {
  clientId: string;
  /** The browser session the grant was authorized in. */
  parentId: string | null;
  scopes: readonly string[];
  resource: string | null;
  authTime: Date;
  amr: readonly string[];
  /** Its first refresh token, when the grant includes one. */
  refreshTokenHash: string | null;
}

/** An OAuth client's grant: a session of its own, with its first refresh token if any. */
export async function insertClientSession(
  trx: Trx,
  session: NewClientSession,
): Promise<SessionRow> {
  const row = await trx
    .insertInto('sessions')
    .values({
      ...startColumns(session),
      kind: 'client',
      client_id: session.clientId,
      parent_id: session.parentId,
      scopes: [...session.scopes],
      resource: session.resource,
      auth_time: session.authTime,
      amr: [...session.amr],
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const { refreshTokenHash } = session;
  if (refreshTokenHash !== null)
    await insertFirstRefreshToken(trx, row.id, { ...session, refreshTokenHash });
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
  /** The OAuth client whose grant this is (client sessions), else null. */
  client_id: string | null;
  scopes: string[] | null;
  resource: string | null;
  auth_time: Date | null;
  amr: string[] | null;
  parent_id: string | null;
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
      's.client_id',
      's.scopes',
      's.resource',
      's.auth_time',
      's.amr',
      's.parent_id',
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

export interface RevokeFilter {
  /** This session, and the client sessions under it that are not offline grants. */
  sessionId?: string;
  userId?: string;
  /** Only the grants of this OAuth client. */
  clientId?: string;
  exceptSessionId?: string;
}

/**
 * Revokes sessions that are still live; returns the ids it revoked. A session named by id
 * takes with it the client grants authorized in it (a browser's sign-out ends the apps it
 * signed into), except those granted `offline_access`, which are meant to outlive it.
 */
export async function revokeSessions(
  db: Db,
  filter: RevokeFilter,
  reason: string,
  now: Date,
): Promise<string[]> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('revoked_at', 'is', null);
  if (filter.sessionId !== undefined) {
    const sessionId = filter.sessionId;
    query = query.where((eb) =>
      eb.or([
        eb('id', '=', sessionId),
        eb.and([
          eb('parent_id', '=', sessionId),
          sql<boolean>`not ('offline_access' = any(coalesce(scopes, '{}'::text[])))`,
        ]),
      ]),
    );
  }
  if (filter.clientId !== undefined) query = query.where('client_id', '=', filter.clientId);
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

/** A revoked session as the feed lists it: its number in the feed, and when. */
export interface FeedRevocation {
  id: string;
  revoked_at: Date;
  /** revocation_seq, as text (a bigint; both drivers agree on text). */
  seq: string;
}

/** The newest number in the revocation feed, '0' when nothing was ever revoked. */
export async function findNewestRevocationSeq(db: Db): Promise<string> {
  const row = await db
    .selectFrom('sessions')
    .select(sql<string>`coalesce(max(revocation_seq), 0)::text`.as('seq'))
    .executeTakeFirstOrThrow();
  return row.seq;
}

/**
 * Revoked sessions in the order their revocations committed: after the number `after`, or,
 * with a time instead, those revoked since then up to the number `upTo`.
 */
export async function listRevokedAfter(
  db: Db,
  after: { seq: string } | { since: Date; upTo: string },
  limit: number,
): Promise<FeedRevocation[]> {
  let query = db
    .selectFrom('sessions')
    .select(['id', 'revoked_at', sql<string>`revocation_seq::text`.as('seq')])
    .where('revocation_seq', 'is not', null);
  query =
    'seq' in after
      ? query.where(sql<boolean>`revocation_seq > ${after.seq}::bigint`)
      : query
          .where('revoked_at', '>', after.since)
          .where(sql<boolean>`revocation_seq <= ${after.upTo}::bigint`);
  const rows = await query.orderBy('revocation_seq').limit(limit).execute();
  return rows.flatMap((row) =>
    row.revoked_at ? [{ id: row.id, revoked_at: row.revoked_at, seq: row.seq }] : [],
  );
}
