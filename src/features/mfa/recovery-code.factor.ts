import { randomInt } from 'node:crypto';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db } from '../../db/create-db.js';
import {
  type FactorDeps,
  type FactorMatch,
  type FactorProof,
  type SecondFactor,
  codeOf,
  normalizeCode,
} from './factor.js';
import * as repo from './mfa.repository.js';

export const RECOVERY_CODE_COUNT = 10;
// No 0/o, 1/l/i: codes are read off paper and typed by hand.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
// Ten characters once typed (the dash and any spaces dropped); never six digits like TOTP.
const RECOVERY_SHAPE = /^[a-z0-9]{10}$/;

/** `xxxxx-xxxxx`, about 49 random bits: enough for a single-use code behind a rate limit. */
function newRecoveryCode(): string {
  const chars = Array.from(
    { length: 10 },
    () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)],
  );
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}

const recoveryCodeHash = (code: string) => hashOpaqueToken(normalizeCode(code));

/** Single-use codes shown once at enrolment and stored hashed: the way back without the phone. */
export class RecoveryCodeFactor implements SecondFactor {
  readonly kind = 'recovery_code';
  readonly enablesMfa = false;

  constructor(private readonly deps: FactorDeps) {}

  async isEnrolled(userId: string, db: Db = this.deps.db): Promise<boolean> {
    return (await repo.countUnusedRecoveryCodes(db, userId)) > 0;
  }

  accepts(proof: FactorProof): boolean {
    const code = codeOf(proof);
    return code !== undefined && RECOVERY_SHAPE.test(normalizeCode(code));
  }

  /** Spends an unused code; each works once. It adds no method of its own to `amr`. */
  async check(userId: string, proof: FactorProof): Promise<FactorMatch | undefined> {
    const code = codeOf(proof);
    if (code === undefined) return undefined;
    const spent = await repo.spendRecoveryCode(
      this.deps.db,
      userId,
      recoveryCodeHash(code),
      this.deps.clock.now(),
    );
    return spent ? { amr: [] } : undefined;
  }

  async remove(trx: Db, userId: string): Promise<void> {
    await repo.deleteRecoveryCodes(trx, userId);
  }

  /** A fresh set of codes replaces the old one; the plain codes are returned to be shown once. */
  async issue(trx: Db, userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await repo.replaceRecoveryCodes(trx, userId, codes.map(recoveryCodeHash));
    return codes;
  }

  async remaining(userId: string): Promise<number> {
    return repo.countUnusedRecoveryCodes(this.deps.db, userId);
  }
}
