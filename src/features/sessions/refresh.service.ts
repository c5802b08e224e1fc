import type { Config } from '../../config/config.js';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import { openWithToken, sealWithToken } from '../../crypto/token-seal.js';
import type { Db, Trx } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import { type Clock, addSeconds, toEpochSeconds } from '../../lib/clock.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { SessionGuard } from './session-guard.js';
import * as repo from './sessions.repository.js';
import type { SignInService } from './signin.service.js';
import {
  type ClientTokenSigner,
  type ClientTokens,
  INVALID_REFRESH,
  type TokenGrant,
  trimUserAgent,
} from './sessions.types.js';

export interface RefreshServiceDeps {
  db: Db;
  clock: Clock;
  accounts: AccountsService;
  audit: AuditService;
  guard: SessionGuard;
  /** Access tokens are signed as at sign-in: a refresh re-reads the user's roles and MFA. */
  signIn: Pick<SignInService, 'signAccessToken'>;
  /** An OAuth client's grant is refreshed into the client's tokens (the OIDC feature). */
  clientTokens: ClientTokenSigner;
  config: Pick<Config, 'accessTokenTtl' | 'refreshTokenTtl' | 'refreshReuseInterval'>;
}

/** The child pair a refresh produced, sealed under the spent token for retries. */
interface SealedChild {
  refreshToken: string;
  accessToken: string;
  accessExpiresAt: number;
  client?: ClientTokens;
}

/** Which client presents a refresh token: null for this service's own (API) sessions. */
export interface RefreshBinding {
  clientId: string | null;
  /** RFC 8707 `resource` sent with the refresh: it must be the grant's own. */
  resource?: string | undefined;
}

/** Whether the token may be refreshed by this caller (its client; its resource, if named). */
function boundTo(token: repo.RefreshTokenWithSession, binding: RefreshBinding): boolean {
  if (token.client_id !== binding.clientId) return false;
  return binding.resource === undefined || binding.resource === token.resource;
}

const OWN_SESSIONS: RefreshBinding = { clientId: null };

type RefreshOutcome =
  | { kind: 'rotated'; grant: TokenGrant }
  | { kind: 'replayed'; grant: TokenGrant }
  | { kind: 'reused'; sessionIds: string[] }
  | { kind: 'invalid' };

/** Refresh-token rotation with reuse detection: the whole protocol, in one place. */
export class RefreshService {
  constructor(private readonly deps: RefreshServiceDeps) {}

  /**
   * Exchanges a refresh token for a new pair and spends it. The token row is locked, so
   * concurrent refreshes of one token take turns. A spent token presented again within
   * REFRESH_REUSE_INTERVAL, while its child is unspent, gets that very child pair (two tabs
   * refreshing at once both stay signed in); later, or once the child was used, it is reuse
   * — a sign of theft — and the session is revoked.
   */
  async refresh(
    refreshToken: string,
    client: ClientContext,
    binding: RefreshBinding = OWN_SESSIONS,
  ): Promise<TokenGrant> {
    const rotated = await this.#rotateUnspent(refreshToken, client, binding);
    if (rotated) return rotated;
    const outcome = await this.deps.db
      .transaction()
      .execute((trx) => this.#refreshInTransaction(trx, refreshToken, client, binding));
    switch (outcome.kind) {
      case 'rotated':
      case 'replayed':
        return outcome.grant;
      case 'reused':
        await this.deps.guard.revoked(outcome.sessionIds);
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
    binding: RefreshBinding,
  ): Promise<RefreshOutcome> {
    const now = this.deps.clock.now();
    const token = await repo.lockRefreshToken(trx, hashOpaqueToken(refreshToken));
    if (!token || token.revoked_at !== null || token.absolute_expires_at <= now)
      return { kind: 'invalid' };
    // A token is only ever good for the client it was issued to (none: this service's own);
    // another client presenting it learns nothing and revokes nothing.
    if (!boundTo(token, binding)) return { kind: 'invalid' };

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
            ...(child.client ? { client: child.client } : {}),
          },
        };
      }
      // A client grant's reuse ends the browser session it was authorized in as well: the
      // theft may have happened there.
      const sessionIds = await repo.revokeSessions(
        trx,
        { sessionId: token.session_id },
        'refresh_reused',
        now,
      );
      if (token.parent_id !== null)
        sessionIds.push(
          ...(await repo.revokeSessions(
            trx,
            { sessionId: token.parent_id },
            'refresh_reused',
            now,
          )),
        );
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
      return { kind: 'reused', sessionIds };
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
   * The common case, a live token never presented before, without a transaction: two reads
   * (the user's from the user-view cache while Redis keeps it current), then one statement
   * that spends the token only if it is still unspent and its session unrevoked, and writes
   * the child and the session's new expiry with it (two or three round trips where the locked
   * path takes eight). Anything else — unknown, spent, revoked, expired, a disabled user, or
   * spent by a concurrent refresh in between — is left to the locked path,
   * which alone tells a retry from reuse.
   */
  async #rotateUnspent(
    refreshToken: string,
    client: ClientContext,
    binding: RefreshBinding,
  ): Promise<TokenGrant | undefined> {
    const now = this.deps.clock.now();
    const token = await repo.findRefreshToken(this.deps.db, hashOpaqueToken(refreshToken));
    if (
      !token ||
      !boundTo(token, binding) ||
      token.spent_at !== null ||
      token.revoked_at !== null ||
      token.absolute_expires_at <= now ||
      token.token_expires_at <= now ||
      token.session_expires_at <= now
    )
      return undefined;
    // The user view the instances keep current (GET /me's): with Redis, a refresh is two
    // round trips, not three. Roles and deactivation are as fresh as GET /me shows them.
    const user = await this.deps.accounts.findUserView(token.user_id);
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
    const { accessToken, client: clientTokens, expiresIn } = await this.#signFor(user, token);
    const sealed: SealedChild = {
      refreshToken: childToken,
      accessToken,
      accessExpiresAt: toEpochSeconds(now) + expiresIn,
      ...(clientTokens ? { client: clientTokens } : {}),
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
      expiresIn,
      ...(clientTokens ? { client: clientTokens } : {}),
    };
    return { rotation, grant };
  }

  /** The child's tokens: this service's own, or (a client grant) the client's. */
  async #signFor(
    user: UserWithRoles,
    token: repo.RefreshTokenWithSession,
  ): Promise<{ accessToken: string; client?: ClientTokens; expiresIn: number }> {
    if (token.client_id === null)
      return {
        accessToken: await this.deps.signIn.signAccessToken(user, token.session_id),
        expiresIn: this.deps.config.accessTokenTtl,
      };
    return this.deps.clientTokens.sign(user, {
      sessionId: token.session_id,
      clientId: token.client_id,
      scopes: token.scopes ?? [],
      resource: token.resource,
      authTime: token.auth_time ?? this.deps.clock.now(),
      amr: token.amr ?? [],
      browserSessionId: token.parent_id,
      nonce: null,
    });
  }
}
