import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { EmailTokenPurpose } from '../../db/database.js';
import { AppError } from '../../errors.js';
import { type Clock, addSeconds } from '../../lib/clock.js';
import * as repo from './email-tokens.repository.js';

export interface EmailTokenOwner {
  userId: string;
  /** The address the token was sent to. */
  email: string;
}

/**
 * What ties a token to one browser (an e-mail sign-in link asked for at /login): the SHA-256
 * of a nonce only that browser holds, and data sealed under the nonce (crypto/token-seal.ts).
 */
export interface EmailTokenBinding {
  hash: string;
  sealed: string | null;
}

/** A usable token's owner, and its binding when it has one. */
export interface EmailTokenState extends EmailTokenOwner {
  binding: EmailTokenBinding | null;
}

const INVALID = 'The token is spent, expired or unknown';

/** The page each kind of e-mail link opens (served by the account-pages feature). */
export const EMAIL_LINK_PAGES: Readonly<Record<EmailTokenPurpose, string>> = {
  verify_email: '/account/verify-email',
  reset_password: '/account/reset-password',
  email_signin: '/account/email-signin',
};

function stateOf(row: repo.EmailTokenState): EmailTokenState {
  return {
    userId: row.user_id,
    email: row.email,
    binding:
      row.binding_hash === null ? null : { hash: row.binding_hash, sealed: row.binding_sealed },
  };
}

/**
 * One-time tokens that travel by e-mail (verification, password reset, sign-in): random, stored
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
    binding?: EmailTokenBinding,
  ): Promise<{ token: string; link: string }> {
    const token = await this.issue(trx, owner, purpose, ttlSeconds, binding);
    return { token, link: `${this.deps.publicUrl}${EMAIL_LINK_PAGES[purpose]}#token=${token}` };
  }

  /** Issues a token inside the caller's transaction and returns it (for the e-mail only). */
  async issue(
    trx: Trx,
    owner: EmailTokenOwner,
    purpose: EmailTokenPurpose,
    ttlSeconds: number,
    binding?: EmailTokenBinding,
  ): Promise<string> {
    const now = this.deps.clock.now();
    await repo.spendUnusedTokens(trx, owner.userId, purpose, now);
    const token = generateOpaqueToken();
    await repo.insertToken(trx, {
      tokenHash: hashOpaqueToken(token),
      userId: owner.userId,
      purpose,
      email: owner.email,
      now,
      expiresAt: addSeconds(now, ttlSeconds),
      binding,
    });
    return token;
  }

  /** Who a still-usable token belongs to, without spending it; 400 invalid_token otherwise. */
  async peek(
    token: string,
    purpose: EmailTokenPurpose,
    db: Db = this.deps.db,
  ): Promise<EmailTokenState> {
    const row = await repo.findToken(db, hashOpaqueToken(token), purpose);
    if (!row || row.used_at !== null || row.expires_at <= this.deps.clock.now()) {
      throw new AppError('invalid_token', INVALID);
    }
    return stateOf(row);
  }

  /**
   * Spends a token inside the caller's transaction. The row is locked, so of two requests
   * racing with one token exactly one succeeds.
   */
  async consume(trx: Trx, token: string, purpose: EmailTokenPurpose): Promise<EmailTokenState> {
    const hash = hashOpaqueToken(token);
    const row = await repo.lockToken(trx, hash, purpose);
    const now = this.deps.clock.now();
    if (!row || row.used_at !== null || row.expires_at <= now)
      throw new AppError('invalid_token', INVALID);
    await repo.markTokenUsed(trx, hash, now);
    return stateOf(row);
  }
}
