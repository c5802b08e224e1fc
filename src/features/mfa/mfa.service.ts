import { randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import { type Clock, addSeconds, toEpochSeconds } from '../../lib/clock.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { SessionsService, TokenGrant } from '../sessions/sessions.service.js';
import * as repo from './mfa.repository.js';

export interface MfaServiceDeps {
  db: Db;
  clock: Clock;
  accounts: AccountsService;
  sessions: SessionsService;
  audit: AuditService;
}

export const OTPAUTH_ISSUER = 'Hyperion Auth';
export const RECOVERY_CODE_COUNT = 10;
/** How long the second step of a sign-in may take. */
export const MFA_CHALLENGE_TTL_SECONDS = 300;
// One step either side: phones whose clocks drift by up to 30 seconds still work.
const EPOCH_TOLERANCE_SECONDS = 30;
// No 0/o, 1/l/i: codes are read off paper and typed by hand.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

type SecondFactor = 'totp' | 'recovery_code';

/** `xxxxx-xxxxx`, about 49 random bits: enough for a single-use code behind a rate limit. */
function newRecoveryCode(): string {
  const chars = Array.from(
    { length: 10 },
    () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)],
  );
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}

/** What the person typed, as stored: spaces and dashes dropped, lower case. */
function normalizeCode(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase();
}

const recoveryCodeHash = (code: string) => hashOpaqueToken(normalizeCode(code));

const invalidCode = () => new AppError('invalid_mfa_code', 'The code is wrong or was already used');

/**
 * Issues the token of a sign-in's second step (stored hashed, single use, 5 minutes). Used
 * by the sessions service when the password of an account with MFA checks out.
 */
export async function issueMfaChallenge(
  db: Db,
  userId: string,
  now: Date,
): Promise<{ mfaToken: string; expiresIn: number }> {
  const mfaToken = generateOpaqueToken();
  await repo.insertChallenge(db, {
    tokenHash: hashOpaqueToken(mfaToken),
    userId,
    now,
    expiresAt: addSeconds(now, MFA_CHALLENGE_TTL_SECONDS),
  });
  return { mfaToken, expiresIn: MFA_CHALLENGE_TTL_SECONDS };
}

/** TOTP (RFC 6238) with recovery codes: enrolment, the second sign-in step, removal. */
export class MfaService {
  constructor(private readonly deps: MfaServiceDeps) {}

  /** A new secret, pending until a first code confirms it. */
  async setup(userId: string): Promise<{ secret: string; otpauth_url: string }> {
    const user = await this.deps.accounts.getUser(userId);
    if (user.mfa_enabled)
      throw new AppError('conflict', 'MFA is already on; disable it before setting it up again');
    const secret = generateSecret();
    await repo.savePendingTotp(this.deps.db, userId, secret, this.deps.clock.now());
    return {
      secret,
      otpauth_url: generateURI({ issuer: OTPAUTH_ISSUER, label: user.email, secret }),
    };
  }

  /** A first code proves the authenticator works: MFA is on, and 10 recovery codes are made. */
  async confirm(
    userId: string,
    code: string,
    client: ClientContext,
  ): Promise<{ recovery_codes: string[] }> {
    const totp = await repo.findTotp(this.deps.db, userId);
    if (!totp) throw new AppError('conflict', 'Set MFA up first (POST /api/auth/mfa/totp/setup)');
    if (totp.confirmed_at) throw new AppError('conflict', 'MFA is already on');
    const { email } = await this.deps.accounts.getUser(userId);
    const timeStep = await this.#countedCheck(email, client, () =>
      this.#matchTotp(totp.secret, code, totp.last_time_step),
    );
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const now = this.deps.clock.now();
    await this.deps.db.transaction().execute(async (trx) => {
      if (!(await repo.advanceTimeStep(trx, userId, timeStep))) throw invalidCode();
      await repo.confirmTotp(trx, userId, now);
      await this.deps.accounts.setMfaEnabled(trx, userId, true);
      await repo.replaceRecoveryCodes(trx, userId, codes.map(recoveryCodeHash));
      await this.deps.audit.record(
        { type: 'mfa.enabled', actorId: userId, userId, ...client, data: { method: 'totp' } },
        trx,
      );
    });
    return { recovery_codes: codes };
  }

  /** Turning MFA off takes a current code (or a recovery code), not just a session. */
  async disable(userId: string, code: string, client: ClientContext): Promise<void> {
    const user = await this.deps.accounts.getUser(userId);
    if (!user.mfa_enabled) throw new AppError('conflict', 'MFA is not on');
    await this.#countedCheck(user.email, client, () => this.#checkSecondFactor(userId, code));
    await this.deps.db.transaction().execute(async (trx) => {
      await repo.removeMfa(trx, userId);
      await this.deps.accounts.setMfaEnabled(trx, userId, false);
      await this.deps.audit.record(
        { type: 'mfa.disabled', actorId: userId, userId, ...client },
        trx,
      );
    });
  }

  /**
   * The second step of a sign-in: the challenge from the first step and a TOTP or recovery
   * code. Wrong codes count against the same limits as wrong passwords.
   */
  async verify(mfaToken: string, code: string, client: ClientContext): Promise<TokenGrant> {
    const { db, clock, accounts, sessions, audit } = this.deps;
    const tokenHash = hashOpaqueToken(mfaToken);
    const userId = await repo.findLiveChallenge(db, tokenHash, clock.now());
    if (!userId) throw new AppError('unauthorized', 'The MFA token is spent, expired or unknown');
    const user = await accounts.getUser(userId);
    const factor = await this.#countedCheck(
      user.email,
      client,
      () => this.#checkSecondFactor(userId, code),
      () =>
        audit.record({
          type: 'user.signin_failed',
          userId,
          outcome: 'failure',
          ...client,
          data: { reason: 'invalid_mfa_code' },
        }),
    );
    if (!(await repo.spendChallenge(db, tokenHash, clock.now())))
      throw new AppError('unauthorized', 'The MFA token is spent, expired or unknown');
    sessions.assertMaySignIn(user);
    const grant = await sessions.startSession(user, client, { mfa: factor });
    if (factor === 'recovery_code')
      await audit.record({
        type: 'mfa.recovery_code_used',
        actorId: userId,
        userId,
        ...client,
        data: { remaining: await repo.countUnusedRecoveryCodes(db, userId) },
      });
    return grant;
  }

  /**
   * A code check as a counted attempt. Whoever holds a session (perhaps a stolen one) could
   * otherwise guess codes at the request rate; so a wrong code counts against the account's
   * limits exactly like a wrong password (see SessionsService.countedAttempt).
   */
  async #countedCheck<T>(
    email: string,
    client: ClientContext,
    check: () => Promise<T | undefined>,
    onWrong?: () => Promise<void>,
  ): Promise<T> {
    const found = await this.deps.sessions.countedAttempt(email, client, check, onWrong);
    if (found === undefined) throw invalidCode();
    return found;
  }

  /** A six-digit TOTP code (never one of an already used time step) or an unspent recovery code. */
  async #checkSecondFactor(userId: string, code: string): Promise<SecondFactor | undefined> {
    const normalized = normalizeCode(code);
    if (/^\d{6}$/.test(normalized)) {
      const totp = await repo.findTotp(this.deps.db, userId);
      if (!totp?.confirmed_at) return undefined;
      const timeStep = await this.#matchTotp(totp.secret, normalized, totp.last_time_step);
      if (timeStep === undefined) return undefined;
      // Atomic: of two requests with the same code, one wins.
      return (await repo.advanceTimeStep(this.deps.db, userId, timeStep)) ? 'totp' : undefined;
    }
    const spent = await repo.spendRecoveryCode(
      this.deps.db,
      userId,
      recoveryCodeHash(normalized),
      this.deps.clock.now(),
    );
    return spent ? 'recovery_code' : undefined;
  }

  async #matchTotp(
    secret: string,
    code: string,
    lastTimeStep: string | null,
  ): Promise<number | undefined> {
    const token = normalizeCode(code);
    if (!/^\d{6}$/.test(token)) return undefined;
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
