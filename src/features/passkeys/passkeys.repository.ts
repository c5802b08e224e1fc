import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/create-db.js';
import type { PasskeyChallengePurpose } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../errors.js';

// The one repository that writes `passkeys`, `passkey_challenges` and `passkey_settings`:
// other features reach them through the passkeys feature's services.

/** A stored passkey, as the API shows it (never its public key). */
const PASSKEY_COLUMNS = [
  'id',
  'user_id',
  'name',
  'created_at',
  'last_used_at',
  'transports',
  'backed_up',
  'device_type',
] as const;

export interface PasskeyRecord {
  id: string;
  user_id: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  transports: string[];
  backed_up: boolean;
  device_type: 'singleDevice' | 'multiDevice';
}

/** What an assertion is checked against. */
export interface StoredCredential extends PasskeyRecord {
  credential_id: string;
  public_key: Uint8Array<ArrayBuffer>;
  counter: number;
}

export interface NewPasskey {
  userId: string;
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  name: string;
  now: Date;
}

/** Stores a registered passkey; 409 if that credential is registered already (to anyone). */
export async function insertPasskey(db: Db, passkey: NewPasskey): Promise<PasskeyRecord> {
  try {
    return await db
      .insertInto('passkeys')
      .values({
        user_id: passkey.userId,
        credential_id: passkey.credentialId,
        public_key: Buffer.from(passkey.publicKey),
        counter: passkey.counter,
        transports: passkey.transports,
        device_type: passkey.deviceType,
        backed_up: passkey.backedUp,
        name: passkey.name,
        created_at: passkey.now,
      })
      .returning(PASSKEY_COLUMNS)
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error, 'passkeys_credential_id_key'))
      throw new AppError('conflict', 'This passkey is registered already');
    throw error;
  }
}

export async function listPasskeys(db: Db, userId: string): Promise<PasskeyRecord[]> {
  return db
    .selectFrom('passkeys')
    .select(PASSKEY_COLUMNS)
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function countPasskeys(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('passkeys')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The credential ids (and transports) of a user's passkeys, for allow/exclude lists. */
export async function credentialDescriptorsOf(
  db: Db,
  userId: string,
): Promise<{ credential_id: string; transports: string[] }[]> {
  return db
    .selectFrom('passkeys')
    .select(['credential_id', 'transports'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function findCredential(
  db: Db,
  credentialId: string,
): Promise<StoredCredential | undefined> {
  const row = await db
    .selectFrom('passkeys')
    .select([...PASSKEY_COLUMNS, 'credential_id', 'public_key', 'counter'])
    .where('credential_id', '=', credentialId)
    .executeTakeFirst();
  if (!row) return undefined;
  // pg gives a Buffer, PGlite a Uint8Array; bigint comes as text.
  return { ...row, public_key: new Uint8Array(row.public_key), counter: Number(row.counter) };
}

export async function renamePasskey(
  db: Db,
  userId: string,
  passkeyId: string,
  name: string,
): Promise<PasskeyRecord | undefined> {
  return db
    .updateTable('passkeys')
    .set({ name })
    .where('id', '=', passkeyId)
    .where('user_id', '=', userId)
    .returning(PASSKEY_COLUMNS)
    .executeTakeFirst();
}

export async function deletePasskey(db: Db, userId: string, passkeyId: string): Promise<boolean> {
  const row = await db
    .deleteFrom('passkeys')
    .where('id', '=', passkeyId)
    .where('user_id', '=', userId)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deletePasskeysOf(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('passkeys').where('user_id', '=', userId).execute();
}

/**
 * Records an accepted assertion: the new counter and the last use. Compare-and-set on the
 * counter it was checked against, so of two assertions checked against the same counter only
 * one is recorded (false for the other).
 */
export async function recordUse(
  db: Db,
  use: {
    id: string;
    checkedCounter: number;
    newCounter: number;
    backedUp: boolean;
    now: Date;
  },
): Promise<boolean> {
  const row = await db
    .updateTable('passkeys')
    .set({ counter: use.newCounter, backed_up: use.backedUp, last_used_at: use.now })
    .where('id', '=', use.id)
    .where('counter', '=', String(use.checkedCounter))
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function flagCounterRegression(db: Db, passkeyId: string, now: Date): Promise<void> {
  await db
    .updateTable('passkeys')
    .set({ counter_regressed_at: now })
    .where('id', '=', passkeyId)
    .execute();
}

export interface NewChallenge {
  challengeHash: string;
  purpose: PasskeyChallengePurpose;
  userId: string | null;
  mfaTokenHash: string | null;
  passkeyName: string | null;
  now: Date;
  expiresAt: Date;
}

export async function insertChallenge(db: Db, challenge: NewChallenge): Promise<string> {
  const row = await db
    .insertInto('passkey_challenges')
    .values({
      challenge_hash: challenge.challengeHash,
      purpose: challenge.purpose,
      user_id: challenge.userId,
      mfa_token_hash: challenge.mfaTokenHash,
      passkey_name: challenge.passkeyName,
      created_at: challenge.now,
      expires_at: challenge.expiresAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

const CHALLENGE_COLUMNS = [
  'id',
  'challenge_hash',
  'purpose',
  'user_id',
  'mfa_token_hash',
  'passkey_name',
  'expires_at',
] as const;

export interface TakenChallenge {
  id: string;
  challenge_hash: string;
  purpose: PasskeyChallengePurpose;
  user_id: string | null;
  mfa_token_hash: string | null;
  passkey_name: string | null;
  expires_at: Date;
}

/**
 * Takes a challenge by its id: deleted and returned in one statement, so of two requests
 * with it only one gets it, and a failed attempt spends it too. Expired ones are taken
 * (and so removed) like live ones; the caller refuses them.
 */
export async function takeChallenge(
  db: Db,
  challengeId: string,
): Promise<TakenChallenge | undefined> {
  return db
    .deleteFrom('passkey_challenges')
    .where('id', '=', challengeId)
    .returning(CHALLENGE_COLUMNS)
    .executeTakeFirst();
}

/** Takes the user's registration challenge with this hash (the register call names no id). */
export async function takeRegistrationChallenge(
  db: Db,
  userId: string,
  challengeHash: string,
): Promise<TakenChallenge | undefined> {
  return db
    .deleteFrom('passkey_challenges')
    .where('challenge_hash', '=', challengeHash)
    .where('purpose', '=', 'register')
    .where('user_id', '=', userId)
    .returning(CHALLENGE_COLUMNS)
    .executeTakeFirst();
}

export async function deleteExpiredChallenges(db: Db, now: Date): Promise<number> {
  const result = await db
    .deleteFrom('passkey_challenges')
    .where('expires_at', '<=', now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * The key of the stand-in credential ids: made by the first instance that needs it, read by
 * every other, so an unknown e-mail gets the same answer from any of them.
 */
export async function decoyKey(db: Db): Promise<Buffer> {
  await db
    .insertInto('passkey_settings')
    .values({ id: 1, decoy_key: randomBytes(32).toString('base64url') })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const row = await db
    .selectFrom('passkey_settings')
    .select('decoy_key')
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return Buffer.from(row.decoy_key, 'base64url');
}
