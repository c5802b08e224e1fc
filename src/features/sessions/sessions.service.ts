import type { Config } from '../../config/config.js';
import type { AccessTokens } from '../../crypto/access-tokens.js';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import { type Clock, addSeconds } from '../../lib/clock.js';
import type { UserWithRoles } from '../accounts/accounts.repository.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import * as repo from './sessions.repository.js';

export interface ClientContext {
  ip: string | null;
  userAgent: string | null;
}

/** What a successful sign-in or refresh hands out. */
export interface TokenGrant {
  user: UserWithRoles;
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface SessionsServiceDeps {
  db: Db;
  clock: Clock;
  tokens: AccessTokens;
  accounts: AccountsService;
  config: Pick<
    Config,
    'accessTokenTtl' | 'refreshTokenTtl' | 'sessionMaxLifetime' | 'emailVerificationRequired'
  >;
}

const USER_AGENT_MAX = 512;

export class SessionsService {
  constructor(private readonly deps: SessionsServiceDeps) {}

  /**
   * Password sign-in. The account's state (disabled, unverified) is revealed only
   * after the password checked out, so it says nothing to someone guessing.
   */
  async signIn(email: string, password: string, client: ClientContext): Promise<TokenGrant> {
    const user = await this.deps.accounts.checkPassword(email, password);
    if (!user) throw new AppError('invalid_credentials', 'The e-mail or password is wrong');
    if (!user.is_active) throw new AppError('account_disabled');
    if (this.deps.config.emailVerificationRequired && !user.email_verified) {
      throw new AppError('email_not_verified', 'Verify your e-mail address before signing in');
    }
    return this.startSession(user, client);
  }

  /** Opens a session for a user whose identity is proven, and issues its first token pair. */
  async startSession(user: UserWithRoles, client: ClientContext): Promise<TokenGrant> {
    const { config, clock, db } = this.deps;
    const now = clock.now();
    const refreshToken = generateOpaqueToken();
    const session = await db.transaction().execute((trx) =>
      repo.insertSessionWithRefreshToken(trx, {
        userId: user.id,
        now,
        expiresAt: addSeconds(now, config.refreshTokenTtl),
        absoluteExpiresAt: addSeconds(now, config.sessionMaxLifetime),
        userAgent: client.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
        ip: client.ip,
        refreshTokenHash: hashOpaqueToken(refreshToken),
      }),
    );
    await this.deps.accounts.recordSignIn(user.id, now);
    const signedIn = { ...user, last_signin_at: now };
    return {
      user: signedIn,
      sessionId: session.id,
      accessToken: await this.signAccessToken(signedIn, session.id),
      refreshToken,
      expiresIn: config.accessTokenTtl,
    };
  }

  async signAccessToken(user: UserWithRoles, sessionId: string): Promise<string> {
    return this.deps.tokens.sign(
      { sub: user.id, sid: sessionId, email: user.email, roles: user.roles },
      this.deps.config.accessTokenTtl,
    );
  }

  /** Refuses a token whose session was revoked or has ended, even while the JWT is unexpired. */
  async assertSessionActive(sessionId: string, userId: string): Promise<void> {
    const session = await repo.findSessionStatus(this.deps.db, sessionId);
    const now = this.deps.clock.now();
    const ended =
      !session ||
      session.user_id !== userId ||
      session.revoked_at !== null ||
      session.expires_at <= now ||
      session.absolute_expires_at <= now;
    if (ended) throw new AppError('unauthorized', 'The session has ended');
  }
}
