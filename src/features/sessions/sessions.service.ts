import type { Config } from '../../config/config.js';
import type { Db, Trx } from '../../db/create-db.js';
import { addSeconds } from '../../lib/clock.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import type { Clock } from '../../lib/clock.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { type KeysetCursor, toPage } from '../../lib/cursor.js';

import type { AuditService } from '../audit/audit.service.js';
import type { SessionGuard } from './session-guard.js';
import * as repo from './sessions.repository.js';
import { decodeRevocationCursor, encodeRevocationCursor } from './revocation-cursor.js';
import {
  type BrowserSession,
  INVALID_REFRESH,
  type RefreshTokenState,
  type RevocationEntries,
  type RevocationPage,
  type SessionView,
} from './sessions.types.js';

export interface SessionsServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  guard: SessionGuard;
  config: Pick<Config, 'browserSessionTtl' | 'accessTokenTtl'>;
}

/**
 * Open sessions: listing them, and ending them — sign-out, revoking one, or all of a user's
 * (password change, deactivation, deletion). Sign-in and refresh live beside it
 * (signin.service.ts, refresh.service.ts).
 */
export class SessionsService {
  constructor(private readonly deps: SessionsServiceDeps) {}

  /** Refuses a token whose session was revoked or has ended, even while the JWT is unexpired. */
  async assertSessionActive(sessionId: string, userId: string): Promise<void> {
    await this.deps.guard.assertActive(sessionId, userId);
  }

  /**
   * The live browser session a cookie carries, its expiry slid forward (BROWSER_SESSION_TTL
   * after its last use); undefined when it is unknown, revoked or has ended. Read from the
   * database, the truth: a revocation on any instance ends it at once.
   */
  async findBrowserSession(cookieToken: string | undefined): Promise<BrowserSession | undefined> {
    if (!cookieToken || cookieToken.length > 256) return undefined;
    const { db, clock, config } = this.deps;
    const row = await repo.findBrowserSession(db, hashOpaqueToken(cookieToken));
    const now = clock.now();
    if (!row || row.revoked_at !== null || row.expires_at <= now || row.absolute_expires_at <= now)
      return undefined;
    const slid = addSeconds(now, config.browserSessionTtl);
    await repo.touchSession(
      db,
      row.id,
      now,
      slid < row.absolute_expires_at ? slid : row.absolute_expires_at,
    );
    return { id: row.id, userId: row.user_id, authTime: row.auth_time ?? now, amr: row.amr ?? [] };
  }

  /** Signs a browser out (its session and the non-offline client grants under it). */
  async endBrowserSession(session: BrowserSession, client: ClientContext): Promise<void> {
    await this.#revoke({ sessionId: session.id, userId: session.userId }, 'signout', {
      actorId: session.userId,
      userId: session.userId,
      client,
    });
  }

  /**
   * Ends every grant of one OAuth client for a user (consent withdrawn, client deleted):
   * their tokens stop at once, on every instance. Returns the revoked session ids.
   */
  async revokeClientGrants(
    userId: string | undefined,
    clientId: string,
    reason: string,
  ): Promise<string[]> {
    const filter = userId === undefined ? { clientId } : { userId, clientId };
    const ids = await repo.revokeSessions(this.deps.db, filter, reason, this.deps.clock.now());
    await this.deps.guard.revoked(ids);
    return ids;
  }

  /** Ends one session of the user (204 even if it had already ended); 404 if it is not theirs. */
  async revokeOwnSession(userId: string, sessionId: string, client: ClientContext): Promise<void> {
    const owner = await repo.findSessionOwner(this.deps.db, sessionId);
    if (owner !== userId) throw new AppError('not_found', 'No such session');
    await this.#revoke({ sessionId }, 'signout', { actorId: userId, userId, client });
  }

  /** Signs out: this session, or every session of the user. */
  async signOut(
    userId: string,
    sessionId: string,
    all: boolean,
    client: ClientContext,
  ): Promise<void> {
    await this.#revoke(all ? { userId } : { sessionId, userId }, 'signout', {
      actorId: userId,
      userId,
      client,
      all,
    });
  }

  /** Signs out the session a refresh token belongs to (cookie mode); 401 if none is live. */
  async signOutWithRefreshToken(
    refreshToken: string,
    all: boolean,
    client: ClientContext,
  ): Promise<void> {
    const session = await repo.findSessionByRefreshToken(
      this.deps.db,
      hashOpaqueToken(refreshToken),
    );
    if (!session || session.revoked_at !== null)
      throw new AppError('unauthorized', INVALID_REFRESH);
    await this.signOut(session.user_id, session.id, all, client);
  }

  /** Revokes every session of a user but, optionally, one (password change keeps the caller's). */
  async revokeAllForUser(
    userId: string,
    reason: string,
    exceptSessionId?: string,
  ): Promise<string[]> {
    const filter = exceptSessionId ? { userId, exceptSessionId } : { userId };
    const ids = await repo.revokeSessions(this.deps.db, filter, reason, this.deps.clock.now());
    await this.deps.guard.revoked(ids);
    return ids;
  }

  /**
   * Revokes every session of a user inside the caller's transaction, so the revocation
   * commits with the change that causes it (deactivation); hand the ids to
   * `announceRevoked` once it has committed.
   */
  async revokeAllForUserWithin(trx: Trx, userId: string, reason: string): Promise<string[]> {
    return repo.revokeSessions(trx, { userId }, reason, this.deps.clock.now());
  }

  /**
   * The revocation feed for resource servers: sessions revoked after the cursor, in the order
   * the revocations committed. Without a cursor it starts ACCESS_TOKEN_TTL ago: an older
   * revocation concerns no token still unexpired. `next_cursor` is where to ask from next time
   * (the same cursor when nothing new was revoked), so a follower always has one; each entry
   * also carries the cursor just after it (a live stream's event ids).
   */
  async readRevocations(cursor: string | undefined, limit: number): Promise<RevocationEntries> {
    const { db, clock, config } = this.deps;
    let rows: repo.FeedRevocation[];
    let end: string;
    if (cursor !== undefined) {
      end = decodeRevocationCursor(cursor);
      rows = await repo.listRevokedAfter(db, { seq: end }, limit);
    } else {
      // The feed's end first: everything numbered up to it has committed (see the
      // revocation_order migration), so a first page that stops there misses nothing.
      end = await repo.findNewestRevocationSeq(db);
      const since = addSeconds(clock.now(), -config.accessTokenTtl);
      rows = await repo.listRevokedAfter(db, { since, upTo: end }, limit);
      if (rows.length >= limit) end = rows[rows.length - 1]?.seq ?? end;
    }
    const last = rows[rows.length - 1];
    if (cursor !== undefined && last) end = last.seq;
    return {
      items: rows.map((row) => ({
        session_id: row.id,
        revoked_at: row.revoked_at.toISOString(),
        cursor: encodeRevocationCursor(row.seq),
      })),
      next_cursor: encodeRevocationCursor(end),
    };
  }

  /** The revocation feed as GET /api/auth/revocations answers it. */
  async listRevocations(cursor: string | undefined, limit: number): Promise<RevocationPage> {
    const page = await this.readRevocations(cursor, limit);
    return {
      items: page.items.map(({ session_id, revoked_at }) => ({ session_id, revoked_at })),
      next_cursor: page.next_cursor,
    };
  }

  /**
   * Where the revocation feed ends now: one cheap read that tells a live stream whether to
   * look again.
   */
  async newestRevocationCursor(): Promise<string> {
    return encodeRevocationCursor(await repo.findNewestRevocationSeq(this.deps.db));
  }

  /**
   * Whether a session is live, read from the database (inside the caller's transaction when
   * given one: on the embedded database a transaction holds the only connection).
   */
  async isLive(sessionId: string, userId: string, db: Db = this.deps.db): Promise<boolean> {
    const row = await repo.findSessionStatus(db, sessionId);
    const now = this.deps.clock.now();
    return (
      row !== undefined &&
      row.user_id === userId &&
      row.revoked_at === null &&
      row.expires_at > now &&
      row.absolute_expires_at > now
    );
  }

  /**
   * What a refresh token is, for RFC 7009 revocation and RFC 7662 introspection: its session,
   * client and state. Undefined when unknown.
   */
  async findRefreshTokenState(refreshToken: string): Promise<RefreshTokenState | undefined> {
    if (refreshToken.length > 512) return undefined;
    const row = await repo.findRefreshToken(this.deps.db, hashOpaqueToken(refreshToken));
    if (!row) return undefined;
    const now = this.deps.clock.now();
    const active =
      row.spent_at === null &&
      row.revoked_at === null &&
      row.token_expires_at > now &&
      row.session_expires_at > now &&
      row.absolute_expires_at > now;
    return {
      sessionId: row.session_id,
      userId: row.user_id,
      clientId: row.client_id,
      scopes: row.scopes ?? [],
      active,
      expiresAt: row.token_expires_at,
    };
  }

  /** Ends one session (and the grants under it) on behalf of a client; audited as a sign-out. */
  async revokeSession(
    sessionId: string,
    userId: string,
    reason: string,
    client: ClientContext,
  ): Promise<void> {
    await this.#revoke({ sessionId, userId }, reason, { actorId: userId, userId, client });
  }

  /**
   * Opens an OAuth client's grant (a code exchange) inside the caller's transaction, so it
   * commits with the spending of the code. Its first refresh token, if any, is stored hashed.
   */
  async openClientSession(trx: Trx, session: repo.NewClientSession): Promise<{ id: string }> {
    const row = await repo.insertClientSession(trx, session);
    return { id: row.id };
  }

  /**
   * Revokes one session (and the grants under it) inside the caller's transaction; hand the ids
   * to `announceRevoked` once it has committed.
   */
  async revokeSessionWithin(trx: Trx, sessionId: string, reason: string): Promise<string[]> {
    return repo.revokeSessions(trx, { sessionId }, reason, this.deps.clock.now());
  }

  /** Tells every instance (cache, pub/sub) about sessions revoked in a committed transaction. */
  async announceRevoked(sessionIds: string[]): Promise<void> {
    await this.deps.guard.revoked(sessionIds);
  }

  async #revoke(
    filter: { sessionId?: string; userId?: string },
    reason: string,
    context: { actorId: string; userId: string; client: ClientContext; all?: boolean },
  ): Promise<void> {
    const ids = await repo.revokeSessions(this.deps.db, filter, reason, this.deps.clock.now());
    await this.deps.guard.revoked(ids);
    await this.deps.audit.record({
      type: 'user.signout',
      actorId: context.actorId,
      userId: context.userId,
      ...context.client,
      data: { session_ids: ids, all: context.all ?? false },
    });
  }

  async listSessions(
    userId: string,
    currentSessionId: string,
    page: { limit: number; after?: KeysetCursor },
  ) {
    const rows = await repo.listLiveSessions(this.deps.db, userId, this.deps.clock.now(), page);
    const { items, next_cursor } = toPage(rows, page.limit, (row) => ({
      at: row.created_at,
      id: row.id,
    }));
    const views: SessionView[] = items.map((row) => ({
      id: row.id,
      created_at: row.created_at.toISOString(),
      last_used_at: row.last_used_at.toISOString(),
      user_agent: row.user_agent,
      ip: row.ip,
      current: row.id === currentSessionId,
    }));
    return { items: views, next_cursor };
  }
}
