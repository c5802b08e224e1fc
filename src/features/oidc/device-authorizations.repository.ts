import type { Db, Trx } from '../../db/create-db.js';
import type { DeviceAuthorizationStatus } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';

// The device_authorizations table (RFC 8628): one row per device authorization request,
// found by the SHA-256 of the device code (the device's polls) or of the user code (the
// person's /device page).

export interface NewDeviceAuthorization {
  deviceCodeHash: string;
  userCodeHash: string;
  clientId: string;
  scopes: string[];
  resource: string | null;
  interval: number;
  now: Date;
  expiresAt: Date;
}

export interface DeviceAuthorization {
  clientId: string;
  scopes: string[];
  resource: string | null;
  status: DeviceAuthorizationStatus;
  userId: string | null;
  browserSessionId: string | null;
  authTime: Date | null;
  amr: string[] | null;
  expiresAt: Date;
  lastPolledAt: Date | null;
  interval: number;
}

/** Stores a new request; false when its user code is already taken (the caller draws again). */
export async function insertDeviceAuthorization(
  db: Db,
  row: NewDeviceAuthorization,
): Promise<boolean> {
  try {
    await insert(db, row);
    return true;
  } catch (error) {
    if (isUniqueViolation(error, 'device_authorizations_user_code_hash_key')) return false;
    throw error;
  }
}

async function insert(db: Db, row: NewDeviceAuthorization): Promise<void> {
  await db
    .insertInto('device_authorizations')
    .values({
      device_code_hash: row.deviceCodeHash,
      user_code_hash: row.userCodeHash,
      client_id: row.clientId,
      scopes: row.scopes,
      resource: row.resource,
      status: 'pending',
      interval: row.interval,
      created_at: row.now,
      expires_at: row.expiresAt,
    })
    .execute();
}

const COLUMNS = [
  'client_id',
  'scopes',
  'resource',
  'status',
  'user_id',
  'browser_session_id',
  'auth_time',
  'amr',
  'expires_at',
  'last_polled_at',
  'interval',
] as const;

type Row = {
  client_id: string;
  scopes: string[];
  resource: string | null;
  status: DeviceAuthorizationStatus;
  user_id: string | null;
  browser_session_id: string | null;
  auth_time: Date | null;
  amr: string[] | null;
  expires_at: Date;
  last_polled_at: Date | null;
  interval: number;
};

function fromRow(row: Row): DeviceAuthorization {
  return {
    clientId: row.client_id,
    scopes: row.scopes,
    resource: row.resource,
    status: row.status,
    userId: row.user_id,
    browserSessionId: row.browser_session_id,
    authTime: row.auth_time,
    amr: row.amr,
    expiresAt: row.expires_at,
    lastPolledAt: row.last_polled_at,
    interval: row.interval,
  };
}

/** A still pending request by its user code, unless expired. */
export async function findPendingByUserCode(
  db: Db,
  userCodeHash: string,
  now: Date,
): Promise<DeviceAuthorization | undefined> {
  const row = await db
    .selectFrom('device_authorizations')
    .select(COLUMNS)
    .where('user_code_hash', '=', userCodeHash)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row && fromRow(row);
}

/** The person's answer: only a pending, unexpired request takes it (true when it did). */
export async function answer(
  db: Db,
  userCodeHash: string,
  now: Date,
  decision:
    | { status: 'denied' }
    | {
        status: 'approved';
        userId: string;
        browserSessionId: string;
        authTime: Date;
        amr: string[];
      },
): Promise<boolean> {
  const result = await db
    .updateTable('device_authorizations')
    .set(
      decision.status === 'denied'
        ? { status: 'denied' }
        : {
            status: 'approved',
            user_id: decision.userId,
            browser_session_id: decision.browserSessionId,
            auth_time: decision.authTime,
            amr: decision.amr,
          },
    )
    .where('user_code_hash', '=', userCodeHash)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** The request behind a device code, locked until the transaction ends: polls take turns. */
export async function lockByDeviceCode(
  trx: Trx,
  deviceCodeHash: string,
): Promise<DeviceAuthorization | undefined> {
  const row = await trx
    .selectFrom('device_authorizations')
    .select(COLUMNS)
    .where('device_code_hash', '=', deviceCodeHash)
    .forUpdate()
    .executeTakeFirst();
  return row && fromRow(row);
}

/** Remembers a poll (and the interval, longer after a slow_down). */
export async function recordPoll(
  trx: Trx,
  deviceCodeHash: string,
  now: Date,
  interval: number,
): Promise<void> {
  await trx
    .updateTable('device_authorizations')
    .set({ last_polled_at: now, interval })
    .where('device_code_hash', '=', deviceCodeHash)
    .execute();
}

/** The tokens were issued: the device code is good for nothing more. */
export async function spend(trx: Trx, deviceCodeHash: string, now: Date): Promise<void> {
  await trx
    .updateTable('device_authorizations')
    .set({ status: 'spent', last_polled_at: now })
    .where('device_code_hash', '=', deviceCodeHash)
    .execute();
}

/** Requests that expired before `before`. */
export async function deleteExpired(db: Db, before: Date): Promise<void> {
  await db.deleteFrom('device_authorizations').where('expires_at', '<', before).execute();
}
