import type { Db } from '../../db/create-db.js';
import type { Clock } from '../../lib/clock.js';

/**
 * A kind of second factor, by the name the API gives it: listed in an MFA challenge's
 * `factors`, recorded as `mfa` in the `user.signin` event. A new factor adds its name here.
 */
export type FactorKind = 'totp' | 'recovery_code';

/** What the person offers at the second step. A typed code; a passkey assertion would join it. */
/** What every factor is built on: the database (its tables) and the clock. */
export interface FactorDeps {
  db: Db;
  clock: Clock;
}

export interface FactorProof {
  code: string;
}

/**
 * A second factor: its kind, a user's enrolment in it, and the check of a proof. MfaService
 * only ever goes through this interface (see factors.ts for the registry), so adding a factor
 * is one module implementing it plus one line in the registry.
 */
export interface SecondFactor {
  readonly kind: FactorKind;
  /**
   * A factor in its own right: a confirmed enrolment turns MFA on (`users.mfa_enabled`) and
   * keeps it on. False for a fallback that only stands in for one (recovery codes): holding
   * fallbacks alone must not demand a second step nobody set up.
   */
  readonly enablesMfa: boolean;
  /** The user holds a confirmed, still usable enrolment (read in `db`, a transaction if given). */
  isEnrolled(userId: string, db?: Db): Promise<boolean>;
  /** The proof has this factor's shape; only then is it checked against this factor. */
  accepts(proof: FactorProof): boolean;
  /** Checks the proof against the user's enrolment and spends it: no proof works twice. */
  check(userId: string, proof: FactorProof): Promise<boolean>;
  /** Removes the user's enrolment, inside the transaction that changes their MFA. */
  remove(trx: Db, userId: string): Promise<void>;
}

/** What the person typed, as codes are stored: spaces and dashes dropped, lower case. */
export function normalizeCode(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase();
}
