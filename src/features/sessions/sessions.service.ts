import type { Config } from '../../config/config.js';
import type { AccessTokens } from '../../crypto/access-tokens.js';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import { openWithToken, sealWithToken } from '../../crypto/token-seal.js';
import type { Db, Trx } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import { normalizeEmail } from '../../lib/email.js';
import { type Clock, addSeconds, toEpochSeconds } from '../../lib/clock.js';
import { type KeysetCursor, toPage } from '../../lib/cursor.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { MailService } from '../mail/mail.service.js';
import { issueMfaChallenge } from '../mfa/mfa.service.js';
import type { MetricsRecorder } from '../ops/metrics.js';
import { type RateLimits, slowDownAfterFailures } from '../rate-limit/rate-limits.js';
import type { SessionGuard } from './session-guard.js';
import * as repo from './sessions.repository.js';

/** What a successful sign-in or refresh hands out. */
export interface TokenGrant {
  user: UserWithRoles;
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** The password checked out, but the account has MFA: a code is due (POST /api/auth/mfa/verify). */
export interface MfaChallenge {
  mfaRequired: true;
  mfaToken: string;
  expiresIn: number;
}

/** The child pair a refresh produced, sealed under the spent token for retries. */
interface SealedChild {
  refreshToken: string;
  accessToken: string;
  accessExpiresAt: number;
}

/** The counters a sign-in attempt was charged to. */
export interface FailureKeys {
  account: string;
  accountSource: string;
  /** Failures from this source in the window, this attempt included. */
  fromSource: number;
}

export interface SessionView {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

export interface SessionsServiceDeps {
  db: Db;
  clock: Clock;
  tokens: AccessTokens;
  accounts: AccountsService;
  audit: AuditService;
  guard: SessionGuard;
  mail: MailService;
  limits: RateLimits;
  /** Counts sign-in outcomes; optional so that a service built without metrics still works. */
  metrics?: Pick<MetricsRecorder, 'signIn'>;
  config: Pick<
    Config,
    | 'accessTokenTtl'
    | 'refreshTokenTtl'
    | 'refreshReuseInterval'
    | 'sessionMaxLifetime'
    | 'emailVerificationRequired'
    | 'mfaRequiredRoles'
  >;
}

const USER_AGENT_MAX = 512;
const INVALID_REFRESH = 'The refresh token is not valid';

type RefreshOutcome =
  | { kind: 'rotated'; grant: TokenGrant }
  | { kind: 'replayed'; grant: TokenGrant }
  | { kind: 'reused'; sessionId: string; userId: string }
  | { kind: 'invalid' };

function trimUserAgent(userAgent: string | null): string | null {
  return userAgent ? userAgent.slice(0, USER_AGENT_MAX) : null;
}

export class SessionsService {
  constructor(private readonly deps: SessionsServiceDeps) {}

  /**
   * Password sign-in. The account's state (disabled, unverified) is revealed only
   * after the password checked out, so it says nothing to someone guessing.
   */
  async signIn(
    email: string,
    password: string,
    client: ClientContext,
  ): Promise<TokenGrant | MfaChallenge> {
    try {
      const result = await this.#signIn(email, password, client);
      this.deps.metrics?.signIn('mfaRequired' in result ? 'mfa_required' : 'success');
      return result;
    } catch (error) {
      this.deps.metrics?.signIn(error instanceof AppError ? error.code : 'internal');
      throw error;
    }
  }

  async #signIn(
    email: string,
    password: string,
    client: ClientContext,
  ): Promise<TokenGrant | MfaChallenge> {
    const user = await this.countedAttempt(
      email,
      client,
      () => this.deps.accounts.checkPassword(email, password),
      async () => {
        // Which account was tried, if any, shows an admin who is under attack; looked up for
        // every failure alike, so the answer's timing says nothing more.
        const target = await this.deps.accounts.findUserByEmail(email);
        await this.#recordSignInFailure(target?.id ?? null, 'invalid_credentials', client);
      },
    );
    if (!user) throw new AppError('invalid_credentials', 'The e-mail or password is wrong');
    try {
      this.assertMaySignIn(user);
    } catch (error) {
      if (error instanceof AppError) await this.#recordSignInFailure(user.id, error.code, client);
      throw error;
    }
    if (user.mfa_enabled) {
      const challenge = await issueMfaChallenge(this.deps.db, user.id, this.deps.clock.now());
      return { mfaRequired: true, ...challenge };
    }
    return this.startSession(user, client);
  }

  /**
   * Counts a failed attempt on the account before the password is checked, and refuses with
   * 429 once 10 failed from this source (or 100 from anywhere) — counting first makes the
   * check and the count one atomic step, so parallel guesses cannot slip past the limit. An
   * unknown address is counted exactly like a known one. A success gives the count back.
   */
  async #reserveFailure(email: string, client: ClientContext): Promise<FailureKeys> {
    const { limits } = this.deps;
    const account = normalizeEmail(email).slice(0, 320);
    const accountSource = `${account}|${client.ip ?? 'unknown'}`;
    const fromSource = await limits.consume('signin_account_ip', accountSource);
    try {
      await limits.consume('signin_account', account);
    } catch (error) {
      await limits.refund('signin_account_ip', accountSource);
      throw error;
    }
    return { account, accountSource, fromSource };
  }

  /**
   * The right password from this source: its failures there are forgiven; the account's
   * count from all sources only gets this attempt back (others may still be guessing).
   */
  async #forgiveFailures(keys: FailureKeys): Promise<void> {
    await this.deps.limits.clear('signin_account_ip', keys.accountSource);
    await this.deps.limits.refund('signin_account', keys.account);
  }

  /**
   * A signed-in user's password typed again (password change, account deletion): to whoever
   * holds a stolen session it is a way to guess the password, so it counts exactly like a
   * sign-in — the same limits (429 beyond them), slower answers after the fifth failure from
   * one source, forgiven when right.
   */
  async verifyPasswordCounted(
    user: { id: string; email: string },
    password: string,
    client: ClientContext,
  ): Promise<boolean> {
    const right = await this.countedAttempt(user.email, client, async () =>
      (await this.deps.accounts.verifyPasswordOf(user.id, password)) ? true : undefined,
    );
    return right === true;
  }

  /**
   * One guess at an account's secret (a password, a TOTP or recovery code) as a counted
   * attempt: counted against the account's failure limits before `check` runs (429 beyond
   * them), answered late after repeated failures from this source, forgiven when right.
   * Resolves with what `check` found, or undefined for a wrong guess, after `onWrong`.
   */
  async countedAttempt<T>(
    email: string,
    client: ClientContext,
    check: () => Promise<T | undefined>,
    onWrong?: () => Promise<void>,
  ): Promise<T | undefined> {
    const reserved = await this.#reserveFailure(email, client);
    const found = await check();
    if (found === undefined) {
      await onWrong?.();
      await slowDownAfterFailures(reserved.fromSource);
      return undefined;
    }
    await this.#forgiveFailures(reserved);
    return found;
  }

  async #recordSignInFailure(
    userId: string | null,
    reason: string,
    client: ClientContext,
  ): Promise<void> {
    await this.deps.audit.record({
      type: 'user.signin_failed',
      userId,
      outcome: 'failure',
      ...client,
      data: { reason },
    });
  }

  assertMaySignIn(user: UserWithRoles): void {
    if (!user.is_active) throw new AppError('account_disabled');
    if (this.deps.config.emailVerificationRequired && !user.email_verified) {
      throw new AppError('email_not_verified', 'Verify your e-mail address before signing in');
    }
  }

  /**
   * Opens a session for a user whose identity is proven, and issues its first token pair. The
   * `user.signin` event (with `signInData`) and the account's last sign-in commit with the
   * session: one commit instead of three, and no session without its audit record.
   */
  async startSession(
    user: UserWithRoles,
    client: ClientContext,
    signInData: Record<string, unknown> = {},
  ): Promise<TokenGrant> {
    const { config, clock, db } = this.deps;
    const now = clock.now();
    const refreshToken = generateOpaqueToken();
    const userAgent = trimUserAgent(client.userAgent);
    const session = await db.transaction().execute(async (trx) => {
      const seen = await repo.findSignInHistory(trx, user.id, { ip: client.ip, userAgent });
      const created = await repo.insertSessionWithRefreshToken(trx, {
        userId: user.id,
        now,
        expiresAt: addSeconds(now, config.refreshTokenTtl),
        absoluteExpiresAt: addSeconds(now, config.sessionMaxLifetime),
        userAgent,
        ip: client.ip,
        refreshTokenHash: hashOpaqueToken(refreshToken),
      });
      // A sign-in from a device (address + user agent) this account never used before is
      // worth a notice; the very first sign-in after sign-up is not.
      if (seen.anySession && !seen.sameClient) {
        await this.deps.mail.enqueue(trx, user.email, {
          template: 'new_signin',
          name: user.name,
          at: now,
          ip: client.ip,
          userAgent,
        });
      }
      await this.deps.accounts.recordSignIn(user.id, now, trx);
      await this.deps.audit.record(
        {
          type: 'user.signin',
          actorId: user.id,
          userId: user.id,
          ...client,
          data: { session_id: created.id, ...signInData },
        },
        trx,
      );
      return created;
    });
    const signedIn = { ...user, last_signin_at: now };
    return {
      user: signedIn,
      sessionId: session.id,
      accessToken: await this.signAccessToken(signedIn, session.id),
      refreshToken,
      expiresIn: config.accessTokenTtl,
    };
  }

  /**
   * The `roles` claim leaves out MFA_REQUIRED_ROLES until the user has MFA on: gateways
   * (X-User-Roles) and services verifying offline from the JWKS believe the claim, and must
   * not grant those rights before this service would. A refresh re-reads the user, so the
   * first refresh after enrolling carries the role.
   */
  async signAccessToken(user: UserWithRoles, sessionId: string): Promise<string> {
    const { mfaRequiredRoles } = this.deps.config;
    const roles = user.mfa_enabled
      ? user.roles
      : user.roles.filter((role) => !mfaRequiredRoles.includes(role));
    return this.deps.tokens.sign(
      { sub: user.id, sid: sessionId, email: user.email, roles },
      this.deps.config.accessTokenTtl,
    );
  }

  /**
   * Exchanges a refresh token for a new pair and spends it. The token row is locked, so
   * concurrent refreshes of one token take turns. A spent token presented again within
   * REFRESH_REUSE_INTERVAL, while its child is unspent, gets that very child pair (two tabs
   * refreshing at once both stay signed in); later, or once the child was used, it is reuse
   * — a sign of theft — and the session is revoked.
   */
  async refresh(refreshToken: string, client: ClientContext): Promise<TokenGrant> {
    const rotated = await this.#rotateUnspent(refreshToken, client);
    if (rotated) return rotated;
    const outcome = await this.deps.db
      .transaction()
      .execute((trx) => this.#refreshInTransaction(trx, refreshToken, client));
    switch (outcome.kind) {
      case 'rotated':
      case 'replayed':
        return outcome.grant;
      case 'reused':
        await this.deps.guard.revoked([outcome.sessionId]);
        throw new AppError(
          'unauthorized',
          'The refresh token was already used; the session has been revoked',
        );
      case 'invalid':
        throw new AppError('unauthorized', INVALID_REFRESH);
    }
  }

  async #refreshInTransaction(
    trx: Trx,
    refreshToken: string,
    client: ClientContext,
  ): Promise<RefreshOutcome> {
    const now = this.deps.clock.now();
    const token = await repo.lockRefreshToken(trx, hashOpaqueToken(refreshToken));
    if (!token || token.revoked_at !== null || token.absolute_expires_at <= now)
      return { kind: 'invalid' };

    if (token.spent_at !== null) {
      const child = await this.#retriableChild(trx, token, refreshToken, now);
      if (child) {
        const user = await this.deps.accounts.findUser(token.user_id, trx);
        if (!user || !user.is_active) return { kind: 'invalid' };
        return {
          kind: 'replayed',
          grant: {
            user,
            sessionId: token.session_id,
            accessToken: child.accessToken,
            refreshToken: child.refreshToken,
            expiresIn: Math.max(0, child.accessExpiresAt - toEpochSeconds(now)),
          },
        };
      }
      await repo.revokeSessions(trx, { sessionId: token.session_id }, 'refresh_reused', now);
      await this.deps.audit.record(
        {
          type: 'session.refresh_reused',
          userId: token.user_id,
          outcome: 'failure',
          ...client,
          data: { session_id: token.session_id },
        },
        trx,
      );
      return { kind: 'reused', sessionId: token.session_id, userId: token.user_id };
    }

    if (token.token_expires_at <= now || token.session_expires_at <= now)
      return { kind: 'invalid' };
    const user = await this.deps.accounts.findUser(token.user_id, trx);
    if (!user || !user.is_active) return { kind: 'invalid' };

    const { rotation, grant } = await this.#childOf(token, user, refreshToken, client, now);
    // The row is locked and was found unspent in a live session: this spends it.
    await repo.rotateUnspentRefreshToken(trx, rotation);
    return { kind: 'rotated', grant };
  }

  /**
   * The child pair a spent token may still be answered with: only within
   * REFRESH_REUSE_INTERVAL and only while that child is unspent. A client retrying (two tabs,
   * a lost response) has not moved on; once the child was used, the spent parent can only be
   * a copy in someone else's hands — answering it would hand a thief the legitimate client's
   * current token and let them walk the chain.
   */
  async #retriableChild(
    trx: Trx,
    token: repo.RefreshTokenWithSession,
    refreshToken: string,
    now: Date,
  ): Promise<SealedChild | undefined> {
    const spentAt = token.spent_at;
    if (spentAt === null || !token.child_sealed || !token.replaced_by) return undefined;
    const withinWindow =
      now.getTime() - spentAt.getTime() <= this.deps.config.refreshReuseInterval * 1000;
    if (!withinWindow) return undefined;
    if (await repo.lockChildSpent(trx, token.replaced_by)) return undefined;
    return openWithToken<SealedChild>(refreshToken, token.child_sealed);
  }

  /**
   * The common case, a live token never presented before, without a transaction: two reads,
   * then one statement that spends the token only if it is still unspent and its session
   * unrevoked, and writes the child and the session's new expiry with it (three round trips
   * where the locked path takes eight). Anything else — unknown, spent, revoked, expired, a
   * disabled user, or spent by a concurrent refresh in between — is left to the locked path,
   * which alone tells a retry from reuse.
   */
  async #rotateUnspent(
    refreshToken: string,
    client: ClientContext,
  ): Promise<TokenGrant | undefined> {
    const now = this.deps.clock.now();
    const token = await repo.findRefreshToken(this.deps.db, hashOpaqueToken(refreshToken));
    if (
      !token ||
      token.spent_at !== null ||
      token.revoked_at !== null ||
      token.absolute_expires_at <= now ||
      token.token_expires_at <= now ||
      token.session_expires_at <= now
    )
      return undefined;
    const user = await this.deps.accounts.findUser(token.user_id);
    if (!user || !user.is_active) return undefined;
    const { rotation, grant } = await this.#childOf(token, user, refreshToken, client, now);
    return (await repo.rotateUnspentRefreshToken(this.deps.db, rotation)) ? grant : undefined;
  }

  /** The child pair of a rotation, and the writes that spend the parent for it. */
  async #childOf(
    token: repo.RefreshTokenWithSession,
    user: UserWithRoles,
    refreshToken: string,
    client: ClientContext,
    now: Date,
  ): Promise<{ rotation: repo.Rotation; grant: TokenGrant }> {
    const { config } = this.deps;
    const childToken = generateOpaqueToken();
    const accessToken = await this.signAccessToken(user, token.session_id);
    const sealed: SealedChild = {
      refreshToken: childToken,
      accessToken,
      accessExpiresAt: toEpochSeconds(now) + config.accessTokenTtl,
    };
    const slidingExpiry = addSeconds(now, config.refreshTokenTtl);
    const rotation: repo.Rotation = {
      parentHash: token.token_hash,
      childHash: hashOpaqueToken(childToken),
      childSealed: sealWithToken(refreshToken, sealed),
      sessionId: token.session_id,
      now,
      expiresAt:
        slidingExpiry < token.absolute_expires_at ? slidingExpiry : token.absolute_expires_at,
      client: { ip: client.ip, userAgent: trimUserAgent(client.userAgent) },
    };
    const grant: TokenGrant = {
      user,
      sessionId: token.session_id,
      accessToken,
      refreshToken: childToken,
      expiresIn: config.accessTokenTtl,
    };
    return { rotation, grant };
  }

  /** Refuses a token whose session was revoked or has ended, even while the JWT is unexpired. */
  async assertSessionActive(sessionId: string, userId: string): Promise<void> {
    await this.deps.guard.assertActive(sessionId, userId);
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
