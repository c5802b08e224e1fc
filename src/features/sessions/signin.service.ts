import type { Config } from '../../config/config.js';
import type { AccessTokens } from '../../crypto/access-tokens.js';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { SessionRow } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import { type Clock, addSeconds } from '../../lib/clock.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { MailService } from '../mail/mail.service.js';
import type { MetricsRecorder } from '../ops/metrics.js';
import type { FailureCounter } from '../rate-limit/counted-attempt.js';
import * as repo from './sessions.repository.js';
import {
  type BrowserSignIn,
  type MfaChallenge,
  type SecondFactorGate,
  type TokenGrant,
  trimUserAgent,
} from './sessions.types.js';

/** A session's start before its kind sets its expiry. */
type SessionOpening = Omit<repo.SessionStart, 'expiresAt'>;

export interface SignInServiceDeps {
  db: Db;
  clock: Clock;
  tokens: AccessTokens;
  accounts: AccountsService;
  audit: AuditService;
  mail: MailService;
  failures: FailureCounter;
  /** Decides whether a second factor is due and issues its challenge (the MFA feature). */
  secondFactor: SecondFactorGate;
  /** Counts sign-in outcomes; optional so that a service built without metrics still works. */
  metrics?: Pick<MetricsRecorder, 'signIn'>;
  config: Pick<
    Config,
    | 'accessTokenTtl'
    | 'refreshTokenTtl'
    | 'sessionMaxLifetime'
    | 'browserSessionTtl'
    | 'emailVerificationRequired'
    | 'mfaRequiredRoles'
  >;
}

/**
 * Proving who someone is and opening their session: the password check, the hand-off to a
 * second factor, and the session's first token pair. The second step of an MFA sign-in comes
 * back through `assertMaySignIn` and `startSession`.
 */
export class SignInService {
  constructor(private readonly deps: SignInServiceDeps) {}

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
    const proven = await this.authenticate(email, password, client);
    if ('mfaRequired' in proven) return proven;
    return this.startSession(proven, client);
  }

  /**
   * The first step of every password sign-in, without opening anything: the user whose
   * password checked out and who may sign in, or the challenge of their second factor.
   * Counted against the same failure limits whichever door (API, token endpoint, /login)
   * it came through.
   */
  async authenticate(
    email: string,
    password: string,
    client: ClientContext,
  ): Promise<UserWithRoles | MfaChallenge> {
    const user = await this.deps.failures.attempt(
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
    const challenge = await this.deps.secondFactor.challengeFor(user);
    return challenge ?? user;
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
    const { config } = this.deps;
    const refreshToken = generateOpaqueToken();
    const { session, now } = await this.#open(user, client, signInData, (trx, opening) =>
      repo.insertSessionWithRefreshToken(trx, {
        ...opening,
        expiresAt: addSeconds(opening.now, config.refreshTokenTtl),
        refreshTokenHash: hashOpaqueToken(refreshToken),
      }),
    );
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
   * Opens a browser session (the cookie of the hosted /login page) for a user whose identity
   * is proven: no tokens, a cookie whose hash is stored, `amr` the methods of the proof.
   * It is a row of the sessions table like any other, so every revocation ends it.
   */
  async startBrowserSession(
    user: UserWithRoles,
    client: ClientContext,
    amr: readonly string[],
    signInData: Record<string, unknown> = {},
  ): Promise<BrowserSignIn> {
    const cookieToken = generateOpaqueToken();
    const { browserSessionTtl } = this.deps.config;
    const { session, now } = await this.#open(
      user,
      client,
      { via: 'browser', ...signInData },
      (trx, opening) =>
        repo.insertBrowserSession(trx, {
          ...opening,
          expiresAt: addSeconds(opening.now, browserSessionTtl),
          tokenHash: hashOpaqueToken(cookieToken),
          amr,
        }),
    );
    return {
      session: { id: session.id, userId: user.id, authTime: now, amr: [...amr] },
      cookieToken,
      maxAgeSeconds: browserSessionTtl,
    };
  }

  /** The common part of every sign-in: the session row, the new-device notice, audit. */
  async #open(
    user: UserWithRoles,
    client: ClientContext,
    signInData: Record<string, unknown>,
    insert: (trx: Trx, opening: SessionOpening) => Promise<SessionRow>,
  ): Promise<{ session: SessionRow; now: Date }> {
    const { config, clock, db } = this.deps;
    const now = clock.now();
    const userAgent = trimUserAgent(client.userAgent);
    const session = await db.transaction().execute(async (trx) => {
      const seen = await repo.findSignInHistory(trx, user.id, { ip: client.ip, userAgent });
      const created = await insert(trx, {
        userId: user.id,
        now,
        absoluteExpiresAt: addSeconds(now, config.sessionMaxLifetime),
        userAgent,
        ip: client.ip,
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
    // The last sign-in is part of the user as GET /me shows it, on every instance.
    await this.deps.accounts.usersChanged([user.id]);
    return { session, now };
  }

  /**
   * The `roles` claim leaves out MFA_REQUIRED_ROLES until the user has MFA on: gateways
   * (X-User-Roles) and services verifying offline from the JWKS believe the claim, and must
   * not grant those rights before this service would. A refresh re-reads the user, so the
   * first refresh after enrolling carries the role.
   */
  async signAccessToken(user: UserWithRoles, sessionId: string): Promise<string> {
    return this.deps.tokens.sign(
      { sub: user.id, sid: sessionId, email: user.email, roles: this.rolesClaim(user) },
      this.deps.config.accessTokenTtl,
    );
  }

  /** The `roles` claim of any access token of this user (see signAccessToken). */
  rolesClaim(user: UserWithRoles): string[] {
    const { mfaRequiredRoles } = this.deps.config;
    return user.mfa_enabled
      ? [...user.roles]
      : user.roles.filter((role) => !mfaRequiredRoles.includes(role));
  }
}
