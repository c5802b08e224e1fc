import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import type { Db } from '../../db/create-db.js';
import { toEpochSeconds } from '../../lib/clock.js';
import {
  type FactorDeps,
  type FactorMatch,
  type FactorProof,
  type SecondFactor,
  codeOf,
  normalizeCode,
} from './factor.js';
import * as repo from './mfa.repository.js';

export const OTPAUTH_ISSUER = 'Hyperion Auth';
// One step either side: phones whose clocks drift by up to 30 seconds still work.
const EPOCH_TOLERANCE_SECONDS = 30;
const SIX_DIGITS = /^\d{6}$/;

/** TOTP (RFC 6238) from an authenticator app: a secret set up, then confirmed by a first code. */
export class TotpFactor implements SecondFactor {
  readonly kind = 'totp';
  readonly enablesMfa = true;

  constructor(private readonly deps: FactorDeps) {}

  async isEnrolled(userId: string, db: Db = this.deps.db): Promise<boolean> {
    return Boolean((await repo.findTotp(db, userId))?.confirmed_at);
  }

  accepts(proof: FactorProof): boolean {
    const code = codeOf(proof);
    return code !== undefined && SIX_DIGITS.test(normalizeCode(code));
  }

  /** A current code of a confirmed secret, never one of an already used time step. */
  async check(userId: string, proof: FactorProof): Promise<FactorMatch | undefined> {
    const code = codeOf(proof);
    const totp = await repo.findTotp(this.deps.db, userId);
    if (code === undefined || !totp?.confirmed_at) return undefined;
    const timeStep = await this.match(totp.secret, code, totp.last_time_step);
    if (timeStep === undefined) return undefined;
    // Atomic: of two requests with the same code, one wins.
    return (await repo.advanceTimeStep(this.deps.db, userId, timeStep))
      ? { amr: ['otp'] }
      : undefined;
  }

  async remove(trx: Db, userId: string): Promise<void> {
    await repo.deleteTotp(trx, userId);
  }

  /** A new secret, pending until a first code confirms it; replaces any pending one. */
  async begin(userId: string, label: string): Promise<{ secret: string; otpauth_url: string }> {
    const secret = generateSecret();
    await repo.savePendingTotp(this.deps.db, userId, secret, this.deps.clock.now());
    return { secret, otpauth_url: generateURI({ issuer: OTPAUTH_ISSUER, label, secret }) };
  }

  /** The user's secret, pending or confirmed. */
  async find(userId: string) {
    return repo.findTotp(this.deps.db, userId);
  }

  /**
   * Confirms the pending secret with the time step of the code that proved it; false if that
   * step was spent meanwhile (the same code sent twice).
   */
  async confirm(trx: Db, userId: string, timeStep: number): Promise<boolean> {
    if (!(await repo.advanceTimeStep(trx, userId, timeStep))) return false;
    await repo.confirmTotp(trx, userId, this.deps.clock.now());
    return true;
  }

  /** The time step of a valid code for `secret` later than `lastTimeStep`, if it is one. */
  async match(
    secret: string,
    code: string,
    lastTimeStep: string | null,
  ): Promise<number | undefined> {
    const token = normalizeCode(code);
    if (!SIX_DIGITS.test(token)) return undefined;
    const result = await verifyTotp({
      secret,
      token,
      epoch: toEpochSeconds(this.deps.clock.now()),
      epochTolerance: EPOCH_TOLERANCE_SECONDS,
      ...(lastTimeStep !== null ? { afterTimeStep: Number(lastTimeStep) } : {}),
    });
    // A TOTP result carries its time step (the HOTP branch of the union does not).
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  }
}
