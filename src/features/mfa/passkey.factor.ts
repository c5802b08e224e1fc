import type { Db } from '../../db/create-db.js';
import type { PasskeyCeremonies } from '../passkeys/passkey-ceremonies.js';
import { amrOfPasskey } from '../passkeys/passkeys.types.js';
import type { FactorMatch, FactorProof, ProofContext, SecondFactor } from './factor.js';

/**
 * A passkey as the second step of a password sign-in: an assertion answering a challenge of
 * purpose `mfa` bound to that sign-in's MFA token (POST /api/auth/passkeys/signin/options
 * with `mfa_token`). A factor in its own right: registering a passkey turns MFA on. The
 * passkeys themselves are the passkeys feature's (registered through its API).
 */
export class PasskeyFactor implements SecondFactor {
  readonly kind = 'passkey';
  readonly enablesMfa = true;

  constructor(private readonly passkeys: PasskeyCeremonies) {}

  async isEnrolled(userId: string, db?: Db): Promise<boolean> {
    return this.passkeys.hasPasskey(userId, db);
  }

  accepts(proof: FactorProof): boolean {
    return 'passkey' in proof;
  }

  async check(
    userId: string,
    proof: FactorProof,
    context: ProofContext,
  ): Promise<FactorMatch | undefined> {
    if (!('passkey' in proof) || context.mfaTokenHash === undefined) return undefined;
    const verified = await this.passkeys.verifyAssertion(
      proof.passkey.challenge_id,
      proof.passkey.response,
      { purpose: 'mfa', userId, mfaTokenHash: context.mfaTokenHash },
      context.client,
    );
    return verified ? { amr: [amrOfPasskey(verified.deviceType)] } : undefined;
  }

  async remove(trx: Db, userId: string): Promise<void> {
    await this.passkeys.removeAll(trx, userId);
  }
}
