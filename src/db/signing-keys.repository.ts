import { sql } from 'kysely';
import type {
  NewSigningKey,
  SigningKeyStore,
  StoredSigningKey,
} from '../crypto/signing-key-store.js';
import type { Db, Trx } from './create-db.js';
import { isDatabaseUnavailable } from './pg-errors.js';

// The SQL of `signing_keys`, kept out of crypto/ (which holds the key logic and no database
// code): every instance reads its keys from here, so all of them sign with the same one.

// Any constant works; it only has to be the same in every instance.
const KEY_LOCK_ID = 7_262_001;

/** The current key and every retired key still verifying at `now`, newest first. */
export async function findLiveSigningKeys(db: Db, now: Date): Promise<StoredSigningKey[]> {
  return db
    .selectFrom('signing_keys')
    .select([
      'kid',
      'algorithm',
      'public_jwk',
      'private_jwk',
      'created_at',
      'retired_at',
      'verify_until',
    ])
    .where((eb) => eb.or([eb('retired_at', 'is', null), eb('verify_until', '>', now)]))
    .orderBy('created_at', 'desc')
    .execute();
}

/** Instances changing the keys take turns, until the transaction ends. */
export async function lockSigningKeys(trx: Trx): Promise<void> {
  await sql`select pg_advisory_xact_lock(${KEY_LOCK_ID})`.execute(trx);
}

export async function findCurrentSigningKey(
  trx: Trx,
): Promise<{ kid: string; algorithm: string } | undefined> {
  return trx
    .selectFrom('signing_keys')
    .select(['kid', 'algorithm'])
    .where('retired_at', 'is', null)
    .executeTakeFirst();
}

export async function retireSigningKey(
  trx: Trx,
  kid: string,
  at: Date,
  verifyUntil: Date,
): Promise<void> {
  await trx
    .updateTable('signing_keys')
    .set({ retired_at: at, verify_until: verifyUntil })
    .where('kid', '=', kid)
    .execute();
}

export async function insertSigningKey(trx: Trx, key: NewSigningKey): Promise<void> {
  await trx
    .insertInto('signing_keys')
    .values({
      kid: key.kid,
      algorithm: key.algorithm,
      public_jwk: JSON.stringify(key.publicJwk),
      private_jwk: JSON.stringify(key.privateJwk),
      created_at: key.createdAt,
    })
    .execute();
}

/** The key store of SigningKeys, on this database. */
export function signingKeyStore(db: Db): SigningKeyStore {
  return {
    findLive: (now) => findLiveSigningKeys(db, now),
    withLock: (change) =>
      db.transaction().execute(async (trx) => {
        await lockSigningKeys(trx);
        return change({
          findCurrent: () => findCurrentSigningKey(trx),
          retire: (kid, at, verifyUntil) => retireSigningKey(trx, kid, at, verifyUntil),
          insert: (key) => insertSigningKey(trx, key),
        });
      }),
    isUnavailable: isDatabaseUnavailable,
  };
}
