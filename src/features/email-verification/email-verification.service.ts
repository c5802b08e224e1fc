import type { Db, Trx } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { EmailTokensService } from '../email-tokens/email-tokens.service.js';
import type { MailService } from '../mail/mail.service.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';

export const VERIFICATION_TTL_SECONDS = 24 * 3600;

export interface EmailVerificationDeps {
  db: Db;
  accounts: AccountsService;
  emailTokens: EmailTokensService;
  mail: MailService;
  audit: AuditService;
  limits: RateLimits;
}

/** Proves that a user receives mail at their address, with a one-time link. */
export class EmailVerificationService {
  constructor(private readonly deps: EmailVerificationDeps) {}

  /**
   * The sign-up's verification mail, in the account's transaction. Anyone can sign up, so it
   * counts against the global mail cap (RATE_LIMIT_MAIL_PER_HOUR) like any mail a request
   * causes; over the cap the 429 rolls the sign-up back and no account is left behind. (The
   * recipient's own cap is moot: an address signs up once.)
   */
  async sendWithin(trx: Trx, user: Pick<UserWithRoles, 'id' | 'email' | 'name'>): Promise<void> {
    await this.deps.limits.consume('mail_global', 'all');
    await this.#writeWithin(trx, user);
  }

  /** A signed-in user asks for (another) verification mail; nothing is sent if already verified. */
  async request(userId: string): Promise<void> {
    const user = await this.deps.accounts.findUser(userId);
    if (!user || !user.is_active) throw new AppError('unauthorized');
    if (user.email_verified) return;
    await this.deps.limits.consumeMail('verify_email', user.email);
    await this.deps.db.transaction().execute((trx) => this.#writeWithin(trx, user));
  }

  /** Issues a token and writes the verification mail, both in the caller's transaction. */
  async #writeWithin(trx: Trx, user: Pick<UserWithRoles, 'id' | 'email' | 'name'>): Promise<void> {
    const { token, link } = await this.deps.emailTokens.issueLink(
      trx,
      { userId: user.id, email: user.email },
      'verify_email',
      VERIFICATION_TTL_SECONDS,
    );
    await this.deps.mail.enqueue(trx, user.email, {
      template: 'verify_email',
      name: user.name,
      link,
      token,
      expiresInHours: VERIFICATION_TTL_SECONDS / 3600,
    });
  }

  /** Spends the token and marks the address verified — only if it is still the user's address. */
  async verify(token: string, origin: ClientContext): Promise<UserWithRoles> {
    const userId = await this.deps.db.transaction().execute(async (trx) => {
      const owner = await this.deps.emailTokens.consume(trx, token, 'verify_email');
      const user = await this.deps.accounts.findUser(owner.userId, trx);
      if (!user || user.email !== owner.email)
        throw new AppError('invalid_token', 'The token is spent, expired or unknown');
      await this.deps.accounts.markEmailVerified(trx, user.id);
      await this.deps.audit.record(
        {
          type: 'email.verified',
          actorId: user.id,
          userId: user.id,
          ...origin,
        },
        trx,
      );
      return user.id;
    });
    await this.deps.accounts.usersChanged([userId]);
    return this.deps.accounts.getUser(userId);
  }
}
