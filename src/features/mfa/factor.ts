import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Db } from '../../db/create-db.js';
import type { ClientContext } from '../../lib/client.js';
import type { Clock } from '../../lib/clock.js';

/**
 * A kind of second factor, by the name the API gives it: listed in an MFA challenge's
 * `factors`, recorded as `mfa` in the `user.signin` event. A new factor adds its name here.
 */
export type FactorKind = 'totp' | 'passkey' | 'recovery_code';

/** What every factor is built on: the database (its tables) and the clock. */
export interface FactorDeps {
  db: Db;
  clock: Clock;
}

/** What the person offers at the second step: a typed code, or a passkey's assertion. */
export type FactorProof =
  { code: string } | { passkey: { challenge_id: string; response: AuthenticationResponseJSON } };

/** Where a proof is offered: the sign-in step it answers (if any), and from where. */
export interface ProofContext {
  /** SHA-256 of the MFA token of the sign-in's second step; absent outside sign-in. */
  mfaTokenHash?: string;
  client: ClientContext;
}

/** A proof that checked out: the RFC 8176 methods it adds to the sign-in's `amr`. */
export interface FactorMatch {
  amr: readonly string[];
}

/** The code of a proof that is one. */
export function codeOf(proof: FactorProof): string | undefined {
  return 'code' in proof ? proof.code : undefined;
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
  /**
   * Checks the proof against the user's enrolment and spends it: no proof works twice.
   * Undefined when it does not check out.
   */
  check(
    userId: string,
    proof: FactorProof,
    context: ProofContext,
  ): Promise<FactorMatch | undefined>;
  /** Removes the user's enrolment, inside the transaction that changes their MFA. */
  remove(trx: Db, userId: string): Promise<void>;
}

/** What the person typed, as codes are stored: spaces and dashes dropped, lower case. */
export function normalizeCode(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase();
}
