import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db } from '../../db/create-db.js';
import type { SignInFirstStep } from '../../db/database.js';
import { type Clock, addSeconds } from '../../lib/clock.js';
import type { MfaChallenge, SecondFactorGate } from '../sessions/sessions.types.js';
import type { FactorKind, SecondFactor } from './factor.js';
import * as repo from './mfa.repository.js';

/** How long the second step of a sign-in may take. */
export const MFA_CHALLENGE_TTL_SECONDS = 300;

export interface MfaChallengesDeps {
  db: Db;
  clock: Clock;
  /** The registry (factors.ts): the challenge lists those the user holds. */
  factors: readonly SecondFactor[];
}

/**
 * The MFA side of sign-in's second-factor port: when the password of an account with MFA
 * checks out, sign-in gets a challenge instead of a session. Kept apart from MfaService,
 * which needs sign-in to finish the second step: this needs nothing of sign-in.
 */
export class MfaChallenges implements SecondFactorGate {
  constructor(private readonly deps: MfaChallengesDeps) {}

  /**
   * The token of a sign-in's second step (stored hashed, single use, 5 minutes), with the
   * factors the user can answer it with, so a client offers the right ones. How the sign-in
   * began is kept with it, for the second step's `amr` and audit.
   */
  async challengeFor(
    user: { id: string; mfa_enabled: boolean },
    firstStep: SignInFirstStep = 'password',
  ): Promise<MfaChallenge | undefined> {
    if (!user.mfa_enabled) return undefined;
    const now = this.deps.clock.now();
    const mfaToken = generateOpaqueToken();
    await repo.insertChallenge(this.deps.db, {
      tokenHash: hashOpaqueToken(mfaToken),
      userId: user.id,
      now,
      expiresAt: addSeconds(now, MFA_CHALLENGE_TTL_SECONDS),
      firstStep,
    });
    return {
      mfaRequired: true,
      mfaToken,
      expiresIn: MFA_CHALLENGE_TTL_SECONDS,
      factors: await this.#enrolledKinds(user.id),
    };
  }

  async #enrolledKinds(userId: string): Promise<FactorKind[]> {
    const kinds: FactorKind[] = [];
    for (const factor of this.deps.factors) {
      if (await factor.isEnrolled(userId)) kinds.push(factor.kind);
    }
    return kinds;
  }
}
