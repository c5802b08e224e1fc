import type { Db, Trx } from '../../db/create-db.js';
import type { IssuedCode } from './oidc.types.js';

export async function insertCode(
  db: Db,
  code: IssuedCode & { codeHash: string; now: Date; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('authorization_codes')
    .values({
      code_hash: code.codeHash,
      client_id: code.clientId,
      user_id: code.userId,
      browser_session_id: code.browserSessionId,
      redirect_uri: code.redirectUri,
      code_challenge: code.codeChallenge,
      nonce: code.nonce,
      scopes: code.scopes,
      resource: code.resource,
      auth_time: code.authTime,
      amr: code.amr,
      created_at: code.now,
      expires_at: code.expiresAt,
    })
    .execute();
}

export interface CodeRecord extends IssuedCode {
  expiresAt: Date;
  spentAt: Date | null;
  issuedSessionId: string | null;
}

/** The code, locked until the transaction ends: two redemptions take turns. */
export async function lockCode(trx: Trx, codeHash: string): Promise<CodeRecord | undefined> {
  const row = await trx
    .selectFrom('authorization_codes')
    .selectAll()
    .where('code_hash', '=', codeHash)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    clientId: row.client_id,
    userId: row.user_id,
    browserSessionId: row.browser_session_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    nonce: row.nonce,
    scopes: row.scopes,
    resource: row.resource,
    authTime: row.auth_time,
    amr: row.amr,
    expiresAt: row.expires_at,
    spentAt: row.spent_at,
    issuedSessionId: row.issued_session_id,
  };
}

/** Spends the code, remembering the session its tokens live in (revoked if it comes back). */
export async function spendCode(
  trx: Trx,
  codeHash: string,
  now: Date,
  issuedSessionId: string | null,
): Promise<void> {
  await trx
    .updateTable('authorization_codes')
    .set({ spent_at: now, issued_session_id: issuedSessionId })
    .where('code_hash', '=', codeHash)
    .execute();
}

/** Codes that expired before `before`. */
export async function deleteExpiredCodes(db: Db, before: Date): Promise<void> {
  await db.deleteFrom('authorization_codes').where('expires_at', '<', before).execute();
}
