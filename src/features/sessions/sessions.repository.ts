import type { Db } from '../../db/create-db.js';
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

/** Creates a session and its first refresh token (stored as a hash); call in a transaction. */
export async function insertSessionWithRefreshToken(
  trx: Db,
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
