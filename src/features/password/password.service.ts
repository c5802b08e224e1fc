import type { Db, Trx } from '../../db/create-db.js';
import type { UserRow } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import type { Clock } from '../../lib/clock.js';
import { normalizeEmail } from '../../lib/email.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { EmailTokensService } from '../email-tokens/email-tokens.service.js';
import type { MailService } from '../mail/mail.service.js';
import type { FailureCounter } from '../rate-limit/counted-attempt.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import type { SessionsService } from '../sessions/sessions.service.js';

export const RESET_TTL_SECONDS = 3600;

export interface PasswordServiceDeps {
  db: Db;
  clock: Clock;
  accounts: AccountsService;
  sessions: SessionsService;
  emailTokens: EmailTokensService;
  mail: MailService;
  audit: AuditService;
  limits: RateLimits;
  failures: FailureCounter;
  /** Where a failure of the work done after answering is reported. */
  onBackgroundError: (error: unknown) => void;
}

/** Forgotten-password reset by e-mail, and password change by the signed-in user. */
export class PasswordService {
  constructor(private readonly deps: PasswordServiceDeps) {}

  /**
   * Starts a reset. The caller answers 202 as soon as this returns, and this returns after
   * the same work whether or not the address has an account (one indexed lookup); the token
   * and the mail are written afterwards, off the response path.
   */
  async forgot(email: string, origin: ClientContext): Promise<void> {
    const address = normalizeEmail(email);
    // Counted for every address alike, so a 429 says nothing about which ones exist.
    await this.deps.limits.consume('reset_account_ip', `${address}|${origin.ip ?? 'unknown'}`);
    const user = await this.deps.accounts.findUserByEmail(address);
    if (!user || !user.is_active) return;
    setImmediate(() => {
      this.#sendReset(user, origin).catch(this.deps.onBackgroundError);
    });
  }

  async #sendReset(
    user: Pick<UserRow, 'id' | 'email' | 'name'>,
    origin: ClientContext,
  ): Promise<void> {
    // Caps per recipient and overall: requests from many addresses cannot bury an inbox in
    // mail or spend the sender's reputation. Over a cap the request is answered all the same.
    try {
      await this.deps.limits.consumeMail('password_reset', user.email);
    } catch (error) {
      if (error instanceof AppError && error.code === 'rate_limited') return;
      throw error;
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const { token, link } = await this.deps.emailTokens.issueLink(
        trx,
        { userId: user.id, email: user.email },
        'reset_password',
        RESET_TTL_SECONDS,
      );
      await this.deps.mail.enqueue(trx, user.email, {
        template: 'password_reset',
        name: user.name,
        link,
        token,
        expiresInMinutes: RESET_TTL_SECONDS / 60,
      });
      await this.deps.audit.record(
        {
          type: 'password.reset_requested',
          userId: user.id,
          ...origin,
        },
        trx,
      );
    });
  }

  /**
   * Sets a new password with a reset token: policy and hashing first (a refused password
   * leaves the token usable), then the token is spent and every session revoked.
   */
  async reset(token: string, password: string, origin: ClientContext): Promise<UserWithRoles> {
    const owner = await this.deps.emailTokens.peek(token, 'reset_password');
    const passwordHash = await this.deps.accounts.hashNewPassword(password, owner.email);
    const userId = await this.deps.db.transaction().execute(async (trx) => {
      const spent = await this.deps.emailTokens.consume(trx, token, 'reset_password');
      const user = await this.deps.accounts.findUser(spent.userId, trx);
      if (!user) throw new AppError('invalid_token', 'The token is spent, expired or unknown');
      await this.deps.accounts.storePasswordHash(trx, user.id, passwordHash);
      // The reset link arrived at this address: that proves it, as verification would.
      if (user.email === spent.email) await this.deps.accounts.markEmailVerified(trx, user.id);
      await this.#notifyChanged(trx, user, origin);
      await this.deps.audit.record(
        {
          type: 'password.reset',
          actorId: user.id,
          userId: user.id,
          ...origin,
        },
        trx,
      );
      return user.id;
    });
    // The address may have become verified.
    await this.deps.accounts.usersChanged([userId]);
    await this.deps.sessions.revokeAllForUser(userId, 'password_reset');
    const user = await this.deps.accounts.getUser(userId);
    // The owner proved themself: failed sign-ins counted against the account (an attacker's,
    // from anywhere) no longer stand between them and their account.
    await this.deps.limits.clear('signin_account', user.email);
    await this.deps.limits.clear('signin_account_ip', `${user.email}|${origin.ip ?? 'unknown'}`);
    return user;
  }

  /** The signed-in user changes their password; every other session is revoked. */
  async change(
    auth: { userId: string; sessionId: string },
    currentPassword: string,
    newPassword: string,
    origin: ClientContext,
  ): Promise<UserWithRoles> {
    const user = await this.deps.accounts.getUser(auth.userId);
    const right = await this.deps.failures.verify(user.email, origin, () =>
      this.deps.accounts.verifyPasswordOf(user.id, currentPassword),
    );
    if (!right) {
      throw new AppError('wrong_password', 'The current password is wrong', [
        { field: 'current_password', message: 'is wrong' },
      ]);
    }
    const passwordHash = await this.deps.accounts.hashNewPassword(newPassword, user.email);
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.accounts.storePasswordHash(trx, user.id, passwordHash);
      await this.#notifyChanged(trx, user, origin);
      await this.deps.audit.record(
        {
          type: 'password.changed',
          actorId: user.id,
          userId: user.id,
          ...origin,
        },
        trx,
      );
    });
    await this.deps.sessions.revokeAllForUser(user.id, 'password_changed', auth.sessionId);
    return user;
  }

  async #notifyChanged(trx: Trx, user: UserWithRoles, origin: ClientContext): Promise<void> {
    await this.deps.mail.enqueue(trx, user.email, {
      template: 'password_changed',
      name: user.name,
      at: this.deps.clock.now(),
      ip: origin.ip,
    });
  }
}
