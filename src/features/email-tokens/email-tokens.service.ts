import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { EmailTokenPurpose } from '../../db/database.js';
import { AppError } from '../../errors.js';
import { type Clock, addSeconds } from '../../lib/clock.js';

export interface EmailTokenOwner {
  userId: string;
  /** The address the token was sent to. */
  email: string;
}

const INVALID = 'The token is spent, expired or unknown';

/** The page each kind of e-mail link opens (served by the account-pages feature). */
export const EMAIL_LINK_PAGES: Readonly<Record<EmailTokenPurpose, string>> = {
  verify_email: '/account/verify-email',
  reset_password: '/account/reset-password',
};

/**
 * One-time tokens that travel by e-mail (verification, password reset): random, stored
 * only as SHA-256, single-use, expiring; issuing a new one spends the user's older ones.
 */
export class EmailTokensService {
  constructor(private readonly deps: { db: Db; clock: Clock; publicUrl: string }) {}

  /**
   * Issues a token and the link that carries it, in the URL fragment: browsers never send
   * a fragment to a server, so the token stays out of access logs and proxies.
   */
  async issueLink(
    trx: Trx,
    owner: EmailTokenOwner,
    purpose: EmailTokenPurpose,
    ttlSeconds: number,
  ): Promise<{ token: string; link: string }> {
    const token = await this.issue(trx, owner, purpose, ttlSeconds);
    return { token, link: `${this.deps.publicUrl}${EMAIL_LINK_PAGES[purpose]}#token=${token}` };
  }

  /** Issues a token inside the caller's transaction and returns it (for the e-mail only). */
  async issue(
    trx: Trx,
    owner: EmailTokenOwner,
    purpose: EmailTokenPurpose,
    ttlSeconds: number,
  ): Promise<string> {
    const now = this.deps.clock.now();
    await trx
      .updateTable('email_tokens')
      .set({ used_at: now })
      .where('user_id', '=', owner.userId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .execute();
    const token = generateOpaqueToken();
    await trx
      .insertInto('email_tokens')
      .values({
        token_hash: hashOpaqueToken(token),
        user_id: owner.userId,
        purpose,
        email: owner.email,
        created_at: now,
        expires_at: addSeconds(now, ttlSeconds),
      })
      .execute();
    return token;
  }

  /** Who a still-usable token belongs to, without spending it; 400 invalid_token otherwise. */
  async peek(
    token: string,
    purpose: EmailTokenPurpose,
    db: Db = this.deps.db,
  ): Promise<EmailTokenOwner> {
    const row = await db
      .selectFrom('email_tokens')
      .select(['user_id', 'email', 'expires_at', 'used_at'])
      .where('token_hash', '=', hashOpaqueToken(token))
      .where('purpose', '=', purpose)
      .executeTakeFirst();
    if (!row || row.used_at !== null || row.expires_at <= this.deps.clock.now()) {
      throw new AppError('invalid_token', INVALID);
    }
    return { userId: row.user_id, email: row.email };
  }

  /**
   * Spends a token inside the caller's transaction. The row is locked, so of two requests
   * racing with one token exactly one succeeds.
   */
  async consume(trx: Trx, token: string, purpose: EmailTokenPurpose): Promise<EmailTokenOwner> {
    const hash = hashOpaqueToken(token);
    const row = await trx
      .selectFrom('email_tokens')
      .select(['user_id', 'email', 'expires_at', 'used_at'])
      .where('token_hash', '=', hash)
      .where('purpose', '=', purpose)
      .forUpdate()
      .executeTakeFirst();
    const now = this.deps.clock.now();
    if (!row || row.used_at !== null || row.expires_at <= now)
      throw new AppError('invalid_token', INVALID);
    await trx
      .updateTable('email_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hash)
      .execute();
    return { userId: row.user_id, email: row.email };
  }
}
