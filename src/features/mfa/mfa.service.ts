import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { SignInFirstStep } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import type { Clock } from '../../lib/clock.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AuditService } from '../audit/audit.service.js';
import type { FailureCounter } from '../rate-limit/counted-attempt.js';
import { FIRST_STEP_AMR, type TokenGrant } from '../sessions/sessions.types.js';
import type { SignInService } from '../sessions/signin.service.js';
import type { FactorKind, FactorProof, ProofContext } from './factor.js';
import type { MfaFactors } from './factors.js';
import * as repo from './mfa.repository.js';

export interface MfaServiceDeps {
  db: Db;
  clock: Clock;
  accounts: AccountsService;
  /** The second step of a sign-in ends where the first would have: a session. */
  signIn: Pick<SignInService, 'assertMaySignIn' | 'startSession'>;
  audit: AuditService;
  failures: FailureCounter;
  factors: MfaFactors;
}

const invalidCode = () => new AppError('invalid_mfa_code', 'The code is wrong or was already used');

/**
 * Multi-factor authentication over the registry of second factors: TOTP enrolment (with its
 * recovery codes), turning it off, and the second sign-in step, which any enrolled factor
 * may answer.
 */
export class MfaService {
  constructor(private readonly deps: MfaServiceDeps) {}

  /** A new TOTP secret, pending until a first code confirms it. */
  async setup(userId: string): Promise<{ secret: string; otpauth_url: string }> {
    const user = await this.deps.accounts.getUser(userId);
    if (await this.deps.factors.totp.isEnrolled(userId))
      throw new AppError('conflict', 'MFA is already on; disable it before setting it up again');
    return this.deps.factors.totp.begin(userId, user.email);
  }

  /** A first code proves the authenticator works: MFA is on, and 10 recovery codes are made. */
  async confirm(
    userId: string,
    code: string,
    client: ClientContext,
  ): Promise<{ recovery_codes: string[] }> {
    const { totp, recoveryCodes } = this.deps.factors;
    const pending = await totp.find(userId);
    if (!pending)
      throw new AppError('conflict', 'Set MFA up first (POST /api/auth/mfa/totp/setup)');
    if (pending.confirmed_at) throw new AppError('conflict', 'MFA is already on');
    const { email } = await this.deps.accounts.getUser(userId);
    const timeStep = await this.#countedCheck(email, client, () =>
      totp.match(pending.secret, code, pending.last_time_step),
    );
    const codes = await this.deps.db.transaction().execute(async (trx) => {
      if (!(await totp.confirm(trx, userId, timeStep))) throw invalidCode();
      const issued = await recoveryCodes.issue(trx, userId);
      await this.#syncMfaEnabled(trx, userId);
      await this.deps.audit.record(
        { type: 'mfa.enabled', actorId: userId, userId, ...client, data: { method: 'totp' } },
        trx,
      );
      return issued;
    });
    await this.deps.accounts.usersChanged([userId]);
    return { recovery_codes: codes };
  }

  /**
   * Removes TOTP; this takes a current code (or a recovery code), not just a session. With no
   * factor left that keeps MFA on, the recovery codes and pending sign-in steps go too.
   */
  async disable(userId: string, code: string, client: ClientContext): Promise<void> {
    const { totp } = this.deps.factors;
    const user = await this.deps.accounts.getUser(userId);
    if (!(await totp.isEnrolled(userId))) throw new AppError('conflict', 'MFA is not on');
    await this.#countedCheck(user.email, client, () =>
      this.#checkAnyFactor(userId, { code }, { client }),
    );
    await this.deps.db.transaction().execute(async (trx) => {
      await totp.remove(trx, userId);
      await this.#syncFactors(trx, userId);
      await this.deps.audit.record(
        { type: 'mfa.disabled', actorId: userId, userId, ...client },
        trx,
      );
    });
    await this.deps.accounts.usersChanged([userId]);
  }

  /**
   * A factor of the passkeys feature was added or removed in `trx` (its PasskeyMfaPort):
   * `users.mfa_enabled` follows, and with no factor left that keeps MFA on, the recovery codes
   * and pending sign-in steps go, as when TOTP is turned off. A change of MFA itself is
   * audited. The caller calls accounts.usersChanged once `trx` has committed.
   */
  async factorsChanged(trx: Trx, userId: string): Promise<boolean> {
    // Locked before reading, so two changes at once see each other's outcome.
    await repo.lockUserMfa(trx, userId);
    const before = (await this.deps.accounts.findUser(userId, trx))?.mfa_enabled ?? false;
    const enabled = await this.#syncFactors(trx, userId);
    if (enabled !== before)
      await this.deps.audit.record(
        enabled
          ? { type: 'mfa.enabled', actorId: userId, userId, data: { method: 'passkey' } }
          : { type: 'mfa.disabled', actorId: userId, userId, data: { method: 'passkey' } },
        trx,
      );
    return enabled;
  }

  /** The user of a live, unspent sign-in step (the passkeys feature's options for it). */
  async userOfChallenge(mfaToken: string): Promise<string | undefined> {
    const challenge = await repo.findLiveChallenge(
      this.deps.db,
      hashOpaqueToken(mfaToken),
      this.deps.clock.now(),
    );
    return challenge?.user_id;
  }

  /** The kinds of factor the user holds, in the registry's order (the admin's user view). */
  async enrolledKinds(userId: string): Promise<FactorKind[]> {
    const kinds: FactorKind[] = [];
    for (const factor of this.deps.factors.all)
      if (await factor.isEnrolled(userId)) kinds.push(factor.kind);
    return kinds;
  }

  /** Syncs `mfa_enabled`; when it ends up off, clears what only MFA needed. */
  async #syncFactors(trx: Trx, userId: string): Promise<boolean> {
    const enabled = await this.#syncMfaEnabled(trx, userId);
    if (!enabled) {
      for (const factor of this.deps.factors.all) await factor.remove(trx, userId);
      await repo.deleteChallenges(trx, userId);
    }
    return enabled;
  }

  /**
   * The second step of a sign-in: the challenge from the first step and a proof of any factor
   * the user holds. Wrong codes count against the same limits as wrong passwords.
   */
  async verify(mfaToken: string, proof: FactorProof, client: ClientContext): Promise<TokenGrant> {
    const { user, factor, amr, firstStep } = await this.prove(mfaToken, proof, client);
    return this.deps.signIn.startSession(user, client, {
      mfa: factor,
      amr,
      ...(firstStep === 'password' ? {} : { method: firstStep }),
    });
  }

  /**
   * The second step's proof without opening a session: the user, and the factor that
   * answered, and the sign-in's RFC 8176 `amr` (`pwd`, the factor's methods, `mfa`). The
   * challenge is spent. Each door (the API, the hosted /login page) then opens its own kind
   * of session.
   */
  async prove(
    mfaToken: string,
    proof: FactorProof,
    client: ClientContext,
  ): Promise<{
    user: UserWithRoles;
    factor: FactorKind;
    amr: string[];
    firstStep: SignInFirstStep;
  }> {
    const { db, clock, accounts, signIn, audit, factors } = this.deps;
    const tokenHash = hashOpaqueToken(mfaToken);
    const challenge = await repo.findLiveChallenge(db, tokenHash, clock.now());
    if (!challenge)
      throw new AppError('unauthorized', 'The MFA token is spent, expired or unknown');
    const userId = challenge.user_id;
    const firstStep = challenge.first_step;
    const user = await accounts.getUser(userId);
    const match = await this.#countedCheck(
      user.email,
      client,
      () => this.#checkAnyFactor(userId, proof, { mfaTokenHash: tokenHash, client }),
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
    signIn.assertMaySignIn(user);
    const factor = match.kind;
    if (factor === 'recovery_code')
      await audit.record({
        type: 'mfa.recovery_code_used',
        actorId: userId,
        userId,
        ...client,
        data: { remaining: await factors.recoveryCodes.remaining(userId) },
      });
    const amr = new Set([...FIRST_STEP_AMR[firstStep], ...match.amr, 'mfa']);
    return { user, factor, amr: [...amr], firstStep };
  }

  /**
   * A code check as a counted attempt. Whoever holds a session (perhaps a stolen one) could
   * otherwise guess codes at the request rate; so a wrong code counts against the account's
   * limits exactly like a wrong password (see FailureCounter).
   */
  async #countedCheck<T>(
    email: string,
    client: ClientContext,
    check: () => Promise<T | undefined>,
    onWrong?: () => Promise<void>,
  ): Promise<T> {
    const found = await this.deps.failures.attempt(email, client, check, onWrong);
    if (found === undefined) throw invalidCode();
    return found;
  }

  /**
   * The first registered factor whose shape the proof has and which accepts it, with the
   * methods it adds to `amr`.
   */
  async #checkAnyFactor(
    userId: string,
    proof: FactorProof,
    context: ProofContext,
  ): Promise<{ kind: FactorKind; amr: readonly string[] } | undefined> {
    for (const factor of this.deps.factors.all) {
      if (!factor.accepts(proof)) continue;
      const match = await factor.check(userId, proof, context);
      if (match) return { kind: factor.kind, amr: match.amr };
    }
    return undefined;
  }

  /**
   * `users.mfa_enabled` follows the factors: on while the user holds at least one confirmed
   * factor that enables MFA, whichever it is — so removing one factor cannot switch MFA off
   * while another remains. Returns the new value. The caller calls accounts.usersChanged
   * once the transaction has committed.
   */
  async #syncMfaEnabled(trx: Trx, userId: string): Promise<boolean> {
    await repo.lockUserMfa(trx, userId);
    let enabled = false;
    for (const factor of this.deps.factors.all) {
      if (factor.enablesMfa && (await factor.isEnrolled(userId, trx))) enabled = true;
    }
    await this.deps.accounts.setMfaEnabled(trx, userId, enabled);
    return enabled;
  }
}
