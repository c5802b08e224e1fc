import type { PasskeyCeremonies } from '../passkeys/passkey-ceremonies.js';
import type { FactorDeps, SecondFactor } from './factor.js';
import { PasskeyFactor } from './passkey.factor.js';
import { RecoveryCodeFactor } from './recovery-code.factor.js';
import { TotpFactor } from './totp.factor.js';

/**
 * The registry of second factors. `all` is what sign-in's challenge lists and what a proof is
 * checked against, in this order; the named entries serve their own enrolment endpoints.
 */
export interface MfaFactors {
  totp: TotpFactor;
  passkey: PasskeyFactor;
  recoveryCodes: RecoveryCodeFactor;
  all: readonly SecondFactor[];
}

export interface FactorsDeps extends FactorDeps {
  /** The passkeys feature's ceremonies: the passkey factor checks assertions through them. */
  passkeys: PasskeyCeremonies;
}

export function createFactors(deps: FactorsDeps): MfaFactors {
  const totp = new TotpFactor(deps);
  const passkey = new PasskeyFactor(deps.passkeys);
  const recoveryCodes = new RecoveryCodeFactor(deps);
  return { totp, passkey, recoveryCodes, all: [totp, passkey, recoveryCodes] };
}
