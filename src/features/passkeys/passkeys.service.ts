import type { Db, Trx } from '../../db/create-db.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { AppError } from '../../errors.js';
import { type Actor, auditedBy } from '../../lib/actor.js';
import type { ClientContext } from '../../lib/client.js';
import type { Clock } from '../../lib/clock.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AuditService } from '../audit/audit.service.js';
import type { FailureCounter } from '../rate-limit/counted-attempt.js';
import type { TokenGrant } from '../sessions/sessions.types.js';
import type { SignInService } from '../sessions/signin.service.js';
import type { PasskeyCeremonies } from './passkey-ceremonies.js';
import * as repo from './passkeys.repository.js';
import {
  type AuthenticationResponseJSON,
  type Passkey,
  type PasskeyMfaPort,
  type PasskeySignInOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
  amrOfPasskey,
} from './passkeys.types.js';

export interface PasskeysServiceDeps {
  db: Db;
  clock: Clock;
  ceremonies: PasskeyCeremonies;
  accounts: AccountsService;
  audit: AuditService;
  failures: FailureCounter;
  /** A passkey sign-in ends where a password sign-in does: a session. */
  signIn: Pick<SignInService, 'assertMaySignIn' | 'startSession'>;
  mfa: PasskeyMfaPort;
}

/**
 * The failure budget a passkey whose credential id nobody holds is counted against: not an
 * e-mail address (it has a space), so it is no account's; per source address, the limit is
 * the per-address one every account has.
 */
export const UNKNOWN_PASSKEY_ACCOUNT = 'unknown passkey';

const invalidPasskey = () =>
  new AppError('invalid_credentials', 'The passkey could not be verified');

/** The passkey object of the API, from an allow-list of columns. */
export function toPasskey(record: repo.PasskeyRecord): Passkey {
  return {
    id: record.id,
    name: record.name,
    created_at: record.created_at,
    last_used_at: record.last_used_at,
    transports: [...record.transports],
    backed_up: record.backed_up,
  };
}

/**
 * Passkeys (WebAuthn): a user's registration, list, rename and removal of their passkeys;
 * signing in with one (usernameless or e-mail first), counted against the same failure
 * limits as passwords. As a second factor, the MFA feature's PasskeyFactor uses the same
 * ceremonies; registering or removing one keeps `users.mfa_enabled` in step through MFA.
 */
export class PasskeysService {
  constructor(private readonly deps: PasskeysServiceDeps) {}

  /** Options for navigator.credentials.create(); `name` names the passkey unless verify does. */
  async registrationOptions(
    userId: string,
    name?: string,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const user = await this.deps.accounts.getUser(userId);
    return this.deps.ceremonies.registrationOptions(user, cleanName(name) ?? null);
  }

  async register(
    userId: string,
    response: RegistrationResponseJSON,
    name: string | undefined,
    client: ClientContext,
  ): Promise<Passkey> {
    const { db, clock, ceremonies, accounts, audit, mfa } = this.deps;
    let verified;
    try {
      verified = await ceremonies.verifyRegistration(userId, response);
    } catch {
      throw new AppError('validation_failed', 'The passkey could not be registered', [
        {
          field: 'response',
          message:
            'is not a valid registration for a live challenge of yours ' +
            '(from POST /api/auth/passkeys/register/options)',
        },
      ]);
    }
    const now = clock.now();
    const record = await db.transaction().execute(async (trx) => {
      const stored = await repo.insertPasskey(trx, {
        userId,
        credentialId: verified.credentialId,
        publicKey: verified.publicKey,
        counter: verified.counter,
        transports: verified.transports,
        deviceType: verified.deviceType,
        backedUp: verified.backedUp,
        name: cleanName(name) ?? verified.requestedName ?? defaultName(now),
        now,
      });
      await mfa.factorsChanged(trx, userId);
      await audit.record(
        {
          type: 'passkey.registered',
          actorId: userId,
          userId,
          ...client,
          data: { passkey_id: stored.id, device_type: stored.device_type },
        },
        trx,
      );
      return stored;
    });
    await accounts.usersChanged([userId]);
    return toPasskey(record);
  }

  async list(userId: string): Promise<Passkey[]> {
    return (await repo.listPasskeys(this.deps.db, userId)).map(toPasskey);
  }

  /** A new name (trimmed); `client` is taken for the contract's symmetry, not recorded. */
  async rename(
    userId: string,
    passkeyId: string,
    name: string,
    _client: ClientContext,
  ): Promise<Passkey> {
    const clean = cleanName(name);
    if (clean === undefined)
      throw new AppError('validation_failed', 'The name is blank', [
        { field: 'name', message: 'must not be blank' },
      ]);
    const record = await repo.renamePasskey(this.deps.db, userId, passkeyId, clean);
    if (!record) throw new AppError('not_found', 'No such passkey');
    return toPasskey(record);
  }

  /**
   * Removes one of the user's passkeys; 409 when it is their last way to sign in (no
   * password credential and no other passkey). Removing the last passkey may turn MFA off.
   */
  async remove(userId: string, passkeyId: string, client: ClientContext): Promise<void> {
    await this.#remove(userId, passkeyId, {
      actorId: userId,
      ...client,
      data: { passkey_id: passkeyId },
      lastWayGuard: true,
    });
  }

  /** An admin's view of a user's passkeys (404 for an unknown user). */
  async listOf(userId: string): Promise<Passkey[]> {
    await this.deps.accounts.getUser(userId);
    return this.list(userId);
  }

  /**
   * An admin removes a user's passkey (a lost or stolen authenticator), audited with the admin
   * as the actor. Not refused as the last way in: cutting off a stolen key comes first, and a
   * password can still be set by a reset.
   */
  async removeByAdmin(userId: string, passkeyId: string, actor: Actor): Promise<void> {
    await this.deps.accounts.getUser(userId);
    await this.#remove(userId, passkeyId, {
      ...auditedBy(actor, { passkey_id: passkeyId, by_admin: true }),
      lastWayGuard: false,
    });
  }

  async #remove(
    userId: string,
    passkeyId: string,
    event: {
      actorId: string | null;
      ip?: string | null;
      userAgent?: string | null;
      data: Record<string, unknown>;
      lastWayGuard: boolean;
    },
  ): Promise<void> {
    const { db, accounts, audit, mfa } = this.deps;
    const { lastWayGuard, ...audited } = event;
    await db.transaction().execute(async (trx: Trx) => {
      // Two removals at once take turns, so they cannot both see the other passkey remain.
      await accounts.lockUser(trx, userId);
      const owned = (await repo.listPasskeys(trx, userId)).some((p) => p.id === passkeyId);
      if (!owned) throw new AppError('not_found', 'No such passkey');
      if (
        lastWayGuard &&
        (await repo.countPasskeys(trx, userId)) <= 1 &&
        !(await accounts.hasPassword(userId, trx))
      )
        throw new AppError(
          'conflict',
          'This passkey is your only way to sign in; add another passkey or a password first',
        );
      await repo.deletePasskey(trx, userId, passkeyId);
      await mfa.factorsChanged(trx, userId);
      await audit.record({ type: 'passkey.removed', userId, ...audited }, trx);
    });
    await accounts.usersChanged([userId]);
  }

  /**
   * Options for navigator.credentials.get(). `{}`: usernameless (empty allowCredentials).
   * `{email}`: that user's passkeys, or for an address without any a stand-in of the same
   * shape (see PasskeyCeremonies.decoyCredential). `{mfaToken}`: the second step of a
   * password sign-in — the passkeys of that sign-in's user, the challenge bound to the token.
   */
  async signInOptions(
    input: { email?: string } | { mfaToken: string },
  ): Promise<PasskeySignInOptions> {
    const { ceremonies, accounts, mfa, db } = this.deps;
    if ('mfaToken' in input) {
      const userId = await mfa.userOfChallenge(input.mfaToken);
      if (!userId) throw new AppError('unauthorized', 'The MFA token is spent, expired or unknown');
      return ceremonies.assertionOptions({
        purpose: 'mfa',
        userId,
        mfaTokenHash: hashOpaqueToken(input.mfaToken),
        allow: await repo.credentialDescriptorsOf(db, userId),
      });
    }
    if (input.email === undefined)
      return ceremonies.assertionOptions({
        purpose: 'signin',
        userId: null,
        mfaTokenHash: null,
        allow: [],
      });
    const user = await accounts.findUserByEmail(input.email);
    const allow = user ? await repo.credentialDescriptorsOf(db, user.id) : [];
    return ceremonies.assertionOptions({
      purpose: 'signin',
      userId: user?.id ?? null,
      mfaTokenHash: null,
      allow: allow.length > 0 ? allow : [await ceremonies.decoyCredential(input.email)],
    });
  }

  /**
   * Primary sign-in with a passkey, usernameless or e-mail first: who signed in and the
   * `amr`; no session opened. Every failure is the same 401 `invalid_credentials`, counted
   * against the passkey owner's failure limits (the shared budget of password, MFA code and
   * passkey guesses), or for a credential nobody holds against UNKNOWN_PASSKEY_ACCOUNT.
   * A passkey is a factor in its own right, so no second step follows.
   */
  async authenticate(
    challengeId: string,
    response: AuthenticationResponseJSON,
    client: ClientContext,
  ): Promise<{ user: UserWithRoles; amr: string[] }> {
    const { ceremonies, accounts, audit, failures, signIn } = this.deps;
    const ownerId = await ceremonies.ownerOf(response.id);
    const owner = ownerId ? await accounts.findUser(ownerId) : undefined;
    const verified = await failures.attempt(
      owner?.email ?? UNKNOWN_PASSKEY_ACCOUNT,
      client,
      () => ceremonies.verifyAssertion(challengeId, response, { purpose: 'signin' }, client),
      () => this.#recordFailure(owner?.id ?? null, 'invalid_credentials', client),
    );
    if (!verified) throw invalidPasskey();
    // Read again: the account may have changed since the lookup before the check.
    const user = await accounts.getUser(verified.userId);
    try {
      signIn.assertMaySignIn(user);
    } catch (error) {
      if (error instanceof AppError) await this.#recordFailure(user.id, error.code, client);
      throw error;
    }
    await audit.record({
      type: 'passkey.signin',
      actorId: user.id,
      userId: user.id,
      ...client,
      data: { passkey_id: verified.passkeyId },
    });
    return { user, amr: [amrOfPasskey(verified.deviceType)] };
  }

  /** The API's passkey sign-in: authenticate, then a session and its tokens. */
  async signIn(
    challengeId: string,
    response: AuthenticationResponseJSON,
    client: ClientContext,
  ): Promise<TokenGrant> {
    const { user, amr } = await this.authenticate(challengeId, response, client);
    return this.deps.signIn.startSession(user, client, { method: 'passkey', amr });
  }

  /** Deletes the challenges past their five minutes (the hourly housekeeping). */
  async sweepExpired(): Promise<number> {
    return this.deps.ceremonies.sweepExpired();
  }

  async #recordFailure(userId: string | null, reason: string, client: ClientContext) {
    await this.deps.audit.record({
      type: 'user.signin_failed',
      userId,
      outcome: 'failure',
      ...client,
      data: { reason, method: 'passkey' },
    });
  }
}

export const PASSKEY_NAME_MAX_LENGTH = 100;

/** Trimmed; undefined when blank or not given. */
function cleanName(name: string | undefined): string | undefined {
  const trimmed = name?.trim();
  return trimmed ? trimmed.slice(0, PASSKEY_NAME_MAX_LENGTH) : undefined;
}

/** "Passkey (2026-12-07)": something to tell passkeys apart until the person names them. */
function defaultName(now: Date): string {
  return `Passkey (${now.toISOString().slice(0, 10)})`;
}
