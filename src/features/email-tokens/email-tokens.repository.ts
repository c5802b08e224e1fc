import type { Db, Trx } from '../../db/create-db.js';
import type { EmailTokenPurpose } from '../../db/database.js';

export interface EmailTokenState {
  user_id: string;
  email: string;
  expires_at: Date;
  used_at: Date | null;
  binding_hash: string | null;
  binding_sealed: string | null;
}

export interface NewEmailToken {
  tokenHash: string;
  userId: string;
  purpose: EmailTokenPurpose;
  email: string;
  now: Date;
  expiresAt: Date;
  binding?: { hash: string; sealed: string | null } | undefined;
}

/** Spends the user's unspent tokens of this purpose: only the newest link works. */
export async function spendUnusedTokens(
  trx: Trx,
  userId: string,
  purpose: EmailTokenPurpose,
  now: Date,
): Promise<void> {
  await trx
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .execute();
}

export async function insertToken(trx: Trx, token: NewEmailToken): Promise<void> {
  await trx
    .insertInto('email_tokens')
    .values({
      token_hash: token.tokenHash,
      user_id: token.userId,
      purpose: token.purpose,
      email: token.email,
      created_at: token.now,
      expires_at: token.expiresAt,
      binding_hash: token.binding?.hash ?? null,
      binding_sealed: token.binding?.sealed ?? null,
    })
    .execute();
}

/** A token's state, unlocked. */
export async function findToken(
  db: Db,
  tokenHash: string,
  purpose: EmailTokenPurpose,
): Promise<EmailTokenState | undefined> {
  return db
    .selectFrom('email_tokens')
    .select(['user_id', 'email', 'expires_at', 'used_at', 'binding_hash', 'binding_sealed'])
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
}

/**
 * A token's state, its row locked until the transaction ends: of two requests racing with
 * one token, the second waits and then finds it spent.
 */
export async function lockToken(
  trx: Trx,
  tokenHash: string,
  purpose: EmailTokenPurpose,
): Promise<EmailTokenState | undefined> {
  return trx
    .selectFrom('email_tokens')
    .select(['user_id', 'email', 'expires_at', 'used_at', 'binding_hash', 'binding_sealed'])
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .forUpdate()
    .executeTakeFirst();
}

export async function markTokenUsed(trx: Trx, tokenHash: string, now: Date): Promise<void> {
  await trx
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .execute();
}
