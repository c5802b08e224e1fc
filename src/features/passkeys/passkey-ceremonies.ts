import { createHmac } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Config } from '../../config/config.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db } from '../../db/create-db.js';
import type { PasskeyChallengePurpose } from '../../db/database.js';
import type { ClientContext } from '../../lib/client.js';
import { type Clock, addSeconds } from '../../lib/clock.js';
import { normalizeEmail } from '../../lib/email.js';
import type { AuditService } from '../audit/audit.service.js';
import * as repo from './passkeys.repository.js';
import type { PasskeyDeviceType, PasskeySignInOptions, VerifiedPasskey } from './passkeys.types.js';

type WebAuthnServer = typeof import('@simplewebauthn/server');
type WebAuthnHelpers = typeof import('@simplewebauthn/server/helpers');
let webauthnModules: Promise<[WebAuthnServer, WebAuthnHelpers]> | undefined;

/**
 * @simplewebauthn/server, loaded at the first ceremony: its X.509/ASN.1 dependencies cost about
 * 25 MB and 0.7 s to import, which a process that never sees a passkey (a CLI command, most
 * instances most of the time) should not pay at start.
 */
function webauthnLibrary(): Promise<[WebAuthnServer, WebAuthnHelpers]> {
  webauthnModules ??= Promise.all([
    import('@simplewebauthn/server'),
    import('@simplewebauthn/server/helpers'),
  ]);
  return webauthnModules;
}

/** A ceremony's challenge lives this long, and the browser is told to wait as long. */
export const PASSKEY_CHALLENGE_TTL_SECONDS = 300;
const RP_NAME = 'Hyperion Auth';
const MAX_TRANSPORTS = 8;

export interface PasskeyCeremoniesDeps {
  db: Db;
  clock: Clock;
  config: Pick<Config, 'webauthn'>;
  audit: AuditService;
}

/** A registration that checked out, ready to be stored. */
export interface VerifiedRegistration {
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
  /** The name asked for with the options, if one was. */
  requestedName: string | null;
}

/** What an assertion must match besides its signature. */
export interface AssertionExpectation {
  purpose: 'signin' | 'mfa';
  /** mfa: the user whose second step it is, and the hash of that step's MFA token. */
  userId?: string;
  mfaTokenHash?: string;
}

/** The user handle we give authenticators: the user id's UTF-8 bytes (base64url on the wire). */
const userHandleOf = (userId: string) => Buffer.from(userId, 'utf8');

/**
 * The WebAuthn ceremonies over @simplewebauthn/server: the options a browser is given, and
 * the check of what it answers, against a challenge taken from the database exactly once.
 * Every failure is `undefined` (or a thrown Error for registration), never a reason: the
 * callers answer one refusal for all of them.
 */
export class PasskeyCeremonies {
  /** The decoy key never changes once stored: read once per instance. */
  #decoyKey: Promise<Buffer> | undefined;

  constructor(private readonly deps: PasskeyCeremoniesDeps) {}

  async registrationOptions(
    user: { id: string; email: string; name: string | null },
    passkeyName: string | null,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { db, config } = this.deps;
    const existing = await repo.credentialDescriptorsOf(db, user.id);
    const [{ generateRegistrationOptions }] = await webauthnLibrary();
    const options = await generateRegistrationOptions({
      rpName: RP_NAME,
      rpID: config.webauthn.rpId,
      userID: userHandleOf(user.id),
      userName: user.email,
      userDisplayName: user.name ?? user.email,
      timeout: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
      attestationType: 'none',
      // The same authenticator twice is refused by the browser before it asks the person.
      excludeCredentials: existing.map((passkey) => ({
        id: passkey.credential_id,
        transports: passkey.transports as never,
      })),
      // Discoverable: a passkey signs in without an e-mail typed first.
      authenticatorSelection: {
        residentKey: 'required',
        requireResidentKey: true,
        userVerification: config.webauthn.userVerification,
      },
    });
    await this.#storeChallenge(options.challenge, 'register', user.id, null, passkeyName);
    return options;
  }

  /**
   * Checks a registration response against the caller's live registration challenge (the one
   * its clientDataJSON names), taking that challenge. Throws for anything wrong.
   */
  async verifyRegistration(
    userId: string,
    response: RegistrationResponseJSON,
  ): Promise<VerifiedRegistration> {
    const { db, clock, config } = this.deps;
    const [{ verifyRegistrationResponse }, { decodeClientDataJSON }] = await webauthnLibrary();
    const sent = decodeClientDataJSON(response.response.clientDataJSON).challenge;
    if (typeof sent !== 'string') throw new Error('no challenge in clientDataJSON');
    const challenge = await repo.takeRegistrationChallenge(db, userId, hashOpaqueToken(sent));
    if (!challenge || challenge.expires_at <= clock.now())
      throw new Error('the challenge is spent, expired or not this user’s');
    const verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: (value) => hashOpaqueToken(value) === challenge.challenge_hash,
      expectedOrigin: [...config.webauthn.origins],
      expectedRPID: config.webauthn.rpId,
      requireUserVerification: config.webauthn.userVerification === 'required',
    });
    if (!verified.verified) throw new Error('the registration did not verify');
    const info = verified.registrationInfo;
    return {
      credentialId: info.credential.id,
      publicKey: info.credential.publicKey,
      counter: info.credential.counter,
      transports: (response.response.transports ?? []).slice(0, MAX_TRANSPORTS),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      requestedName: challenge.passkey_name,
    };
  }

  /**
   * Options for an assertion. `allow` empty: usernameless (any discoverable passkey of this
   * RP). The challenge is stored hashed, bound to its purpose, user and MFA token.
   */
  async assertionOptions(request: {
    purpose: 'signin' | 'mfa';
    userId: string | null;
    mfaTokenHash: string | null;
    allow: readonly { credential_id: string; transports: readonly string[] }[];
  }): Promise<PasskeySignInOptions> {
    const { config } = this.deps;
    const [{ generateAuthenticationOptions }] = await webauthnLibrary();
    const options: PublicKeyCredentialRequestOptionsJSON = await generateAuthenticationOptions({
      rpID: config.webauthn.rpId,
      allowCredentials: request.allow.map((passkey) => ({
        id: passkey.credential_id,
        transports: [...passkey.transports],
      })),
      userVerification: config.webauthn.userVerification,
      timeout: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
    });
    const challengeId = await this.#storeChallenge(
      options.challenge,
      request.purpose,
      request.userId,
      request.mfaTokenHash,
      null,
    );
    return { ...options, challenge_id: challengeId };
  }

  /**
   * The stand-in for an e-mail with no passkey (unknown, or a user without one): one
   * credential id derived by HMAC from the address under a key shared by every instance, so
   * asking twice, or asking another instance, gives the same answer a real user's would.
   */
  async decoyCredential(email: string): Promise<{ credential_id: string; transports: string[] }> {
    this.#decoyKey ??= repo.decoyKey(this.deps.db).catch((error: unknown) => {
      this.#decoyKey = undefined; // a failed read is tried again next time
      throw error;
    });
    const key = await this.#decoyKey;
    const id = createHmac('sha256', key)
      .update(`passkey-decoy:${normalizeEmail(email)}`)
      .digest()
      .toString('base64url');
    return { credential_id: id, transports: ['internal', 'hybrid'] };
  }

  /** Whose passkey this credential id is, if anyone's (to count a failure against them). */
  async ownerOf(credentialId: string): Promise<string | undefined> {
    return (await repo.findCredential(this.deps.db, credentialId))?.user_id;
  }

  /**
   * Checks an assertion: takes the challenge (so no answer works twice, and a wrong one
   * spends it too), then the challenge's purpose and binding, the credential, the user
   * handle, and @simplewebauthn's checks (challenge, origin, RP id, UP/UV flags, signature).
   * A counter that went backwards is refused, flagged and audited. On success the counter and
   * the last use are recorded.
   */
  async verifyAssertion(
    challengeId: string,
    response: AuthenticationResponseJSON,
    expected: AssertionExpectation,
    client: ClientContext,
  ): Promise<VerifiedPasskey | undefined> {
    const { db, clock } = this.deps;
    const challenge = await repo.takeChallenge(db, challengeId);
    if (!challenge || challenge.expires_at <= clock.now()) return undefined;
    if (challenge.purpose !== expected.purpose) return undefined;
    if (expected.purpose === 'mfa') {
      if (challenge.user_id !== expected.userId) return undefined;
      if (!expected.mfaTokenHash || challenge.mfa_token_hash !== expected.mfaTokenHash)
        return undefined;
    }
    if (response.id !== response.rawId) return undefined;
    const credential = await repo.findCredential(db, response.id);
    if (!credential) return undefined;
    // A challenge bound to a user (e-mail first, or MFA) is answered by that user's passkey.
    if (challenge.user_id !== null && challenge.user_id !== credential.user_id) return undefined;
    const handle = response.response.userHandle;
    if (handle && handle !== userHandleOf(credential.user_id).toString('base64url'))
      return undefined;
    const info = await this.#checkAssertion(response, challenge.challenge_hash, credential);
    if (!info) return undefined;
    const now = clock.now();
    if (counterRegressed(credential.counter, info.newCounter)) {
      await repo.flagCounterRegression(db, credential.id, now);
      await this.deps.audit.record({
        type: 'passkey.counter_regressed',
        userId: credential.user_id,
        outcome: 'failure',
        ...client,
        data: {
          passkey_id: credential.id,
          stored_counter: credential.counter,
          received_counter: info.newCounter,
        },
      });
      return undefined;
    }
    const recorded = await repo.recordUse(db, {
      id: credential.id,
      checkedCounter: credential.counter,
      newCounter: info.newCounter,
      backedUp: info.credentialBackedUp,
      now,
    });
    if (!recorded) return undefined;
    return {
      passkeyId: credential.id,
      userId: credential.user_id,
      deviceType: credential.device_type,
    };
  }

  /**
   * @simplewebauthn's checks of an assertion: the challenge (by its hash), origin, RP id,
   * type, UP (and UV when required) flags, and the signature. The counter is judged by the
   * caller after the signature: the library would refuse a lower counter before checking the
   * signature, and a forged answer must not flag a passkey.
   */
  async #checkAssertion(
    response: AuthenticationResponseJSON,
    challengeHash: string,
    credential: repo.StoredCredential,
  ): Promise<{ newCounter: number; credentialBackedUp: boolean } | undefined> {
    const { webauthn } = this.deps.config;
    try {
      const [{ verifyAuthenticationResponse }] = await webauthnLibrary();
      const verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: (value) => hashOpaqueToken(value) === challengeHash,
        expectedOrigin: [...webauthn.origins],
        expectedRPID: webauthn.rpId,
        credential: {
          id: credential.credential_id,
          publicKey: credential.public_key,
          counter: 0,
          transports: credential.transports,
        },
        requireUserVerification: webauthn.userVerification === 'required',
      });
      return verified.verified ? verified.authenticationInfo : undefined;
    } catch {
      return undefined;
    }
  }

  async hasPasskey(userId: string, db: Db = this.deps.db): Promise<boolean> {
    return (await repo.countPasskeys(db, userId)) > 0;
  }

  /** Removes every passkey of the user (MFA turned off with none left: a no-op then). */
  async removeAll(trx: Db, userId: string): Promise<void> {
    await repo.deletePasskeysOf(trx, userId);
  }

  /** Deletes every challenge past its five minutes (the hourly housekeeping). */
  async sweepExpired(): Promise<number> {
    return repo.deleteExpiredChallenges(this.deps.db, this.deps.clock.now());
  }

  async #storeChallenge(
    challenge: string,
    purpose: PasskeyChallengePurpose,
    userId: string | null,
    mfaTokenHash: string | null,
    passkeyName: string | null,
  ): Promise<string> {
    const now = this.deps.clock.now();
    return repo.insertChallenge(this.deps.db, {
      challengeHash: hashOpaqueToken(challenge),
      purpose,
      userId,
      mfaTokenHash,
      passkeyName,
      now,
      expiresAt: addSeconds(now, PASSKEY_CHALLENGE_TTL_SECONDS),
    });
  }
}

/**
 * WebAuthn §7.2 step 21: a counter that does not move forward, unless both the stored and the
 * received one are 0 (authenticators without a counter, as synced passkeys often are), is a
 * sign that the credential's key was copied.
 */
export function counterRegressed(stored: number, received: number): boolean {
  return (stored > 0 || received > 0) && received <= stored;
}
