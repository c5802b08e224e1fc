import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Db } from '../../db/create-db.js';

export type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
};

/** The API's passkey object. */
export interface Passkey {
  id: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  transports: string[];
  backed_up: boolean;
}

export type PasskeySignInOptions = PublicKeyCredentialRequestOptionsJSON & { challenge_id: string };

/** Device-bound (a security key, most platform authenticators) or synced (a passkey manager). */
export type PasskeyDeviceType = 'singleDevice' | 'multiDevice';

/** An assertion that checked out: whose passkey answered, and of which kind. */
export interface VerifiedPasskey {
  passkeyId: string;
  userId: string;
  deviceType: PasskeyDeviceType;
}

/**
 * RFC 8176 for a passkey: `hwk` (proof of a hardware-bound key) for a device-bound credential,
 * `swk` (a software key) for one synced between devices.
 */
export function amrOfPasskey(deviceType: PasskeyDeviceType): 'hwk' | 'swk' {
  return deviceType === 'singleDevice' ? 'hwk' : 'swk';
}

/**
 * What the passkeys feature needs of MFA, implemented by MfaService and wired in services.ts
 * (MFA imports passkeys for its factor, so passkeys only sees this port).
 */
export interface PasskeyMfaPort {
  /**
   * A passkey was added or removed in `trx`: `users.mfa_enabled` follows the factors again.
   * The caller calls accounts.usersChanged once `trx` has committed.
   */
  factorsChanged(trx: Db, userId: string): Promise<boolean>;
  /** The user whose sign-in's second step this MFA token is (live, unspent), if any. */
  userOfChallenge(mfaToken: string): Promise<string | undefined>;
}
