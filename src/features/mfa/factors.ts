import type { FactorDeps, SecondFactor } from './factor.js';
import { RecoveryCodeFactor } from './recovery-code.factor.js';
import { TotpFactor } from './totp.factor.js';

/**
 * The registry of second factors. `all` is what sign-in's challenge lists and what a proof is
 * checked against, in this order; the named entries serve their own enrolment endpoints.
 */
export interface MfaFactors {
  totp: TotpFactor;
  recoveryCodes: RecoveryCodeFactor;
  all: readonly SecondFactor[];
}

export function createFactors(deps: FactorDeps): MfaFactors {
  const totp = new TotpFactor(deps);
  const recoveryCodes = new RecoveryCodeFactor(deps);
  return { totp, recoveryCodes, all: [totp, recoveryCodes] };
}
