import { type KeyObject, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { type CBORType, encodeCBOR } from '@levischuck/tiny-cbor';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { FastifyInstance } from 'fastify';
import { json } from './app.js';

// A software authenticator for API-level tests: it answers the service's WebAuthn options with
// real RegistrationResponseJSON / AuthenticationResponseJSON (attestation "none", an ES256 key
// from node:crypto, COSE and CBOR as an authenticator writes them), with knobs to make each
// part wrong. Nothing here is the service's code: the service checks it with @simplewebauthn.

/** The test app's relying party (PUBLIC_URL http://auth.test). */
export const TEST_RP_ID = 'auth.test';
export const TEST_ORIGIN = 'http://auth.test';

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();
const b64url = (data: Uint8Array) => Buffer.from(data).toString('base64url');

export interface CeremonyKnobs {
  /** The origin the "browser" puts into clientDataJSON. */
  origin?: string;
  /** The RP id whose hash the authenticator data carries. */
  rpId?: string;
  /** The user-verified flag (default true). */
  userVerified?: boolean;
  /** The user-present flag (default true). */
  userPresent?: boolean;
  /** The signature counter to report (default: one more than the last). */
  counter?: number;
  /** Answer this challenge instead of the options' one. */
  challenge?: string;
  /** clientDataJSON's type (default webauthn.create / webauthn.get). */
  type?: string;
  /** Sign with another key: a bad signature. */
  forgeSignature?: boolean;
  /** The user handle to send (default: the one registered; null sends none). */
  userHandle?: string | null;
}

export interface AuthenticatorOptions {
  /** Backup eligible (a synced, multi-device passkey) — default false: device-bound. */
  backupEligible?: boolean;
  /** Backed up (only with backupEligible). */
  backedUp?: boolean;
  transports?: string[];
}

export class SoftAuthenticator {
  readonly credentialId = randomBytes(16);
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  #counter = 0;
  #userHandle: string | undefined;

  constructor(private readonly options: AuthenticatorOptions = {}) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#privateKey = pair.privateKey;
    this.#publicKey = pair.publicKey;
  }

  get id(): string {
    return b64url(this.credentialId);
  }

  get counter(): number {
    return this.#counter;
  }

  /** The credential public key as COSE (EC2, ES256, P-256). */
  coseKey(): Uint8Array {
    const jwk = this.#publicKey.export({ format: 'jwk' });
    return encodeCBOR(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
  }

  #flags(knobs: CeremonyKnobs, extra = 0): number {
    let flags = extra;
    if (knobs.userPresent !== false) flags |= FLAG_UP;
    if (knobs.userVerified !== false) flags |= FLAG_UV;
    if (this.options.backupEligible) flags |= FLAG_BE;
    if (this.options.backupEligible && this.options.backedUp) flags |= FLAG_BS;
    return flags;
  }

  #authData(rpId: string, flags: number, counter: number, attested?: Uint8Array): Buffer {
    const counterBytes = Buffer.alloc(4);
    counterBytes.writeUInt32BE(counter);
    return Buffer.concat([
      sha256(rpId),
      Buffer.from([flags]),
      counterBytes,
      ...(attested ? [attested] : []),
    ]);
  }

  #clientData(type: string, challenge: string, knobs: CeremonyKnobs): Buffer {
    return Buffer.from(
      JSON.stringify({
        type: knobs.type ?? type,
        challenge: knobs.challenge ?? challenge,
        origin: knobs.origin ?? TEST_ORIGIN,
        crossOrigin: false,
      }),
    );
  }

  /** navigator.credentials.create() answering these options. */
  register(
    options: PublicKeyCredentialCreationOptionsJSON,
    knobs: CeremonyKnobs = {},
  ): RegistrationResponseJSON {
    this.#userHandle = options.user.id;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([
      Buffer.alloc(16), // AAGUID: none
      idLength,
      this.credentialId,
      this.coseKey(),
    ]);
    const authData = this.#authData(
      knobs.rpId ?? options.rp.id ?? TEST_RP_ID,
      this.#flags(knobs, FLAG_AT),
      this.#counter,
      attested,
    );
    const attestationObject = encodeCBOR(
      new Map<string, CBORType>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, CBORType>()],
        ['authData', authData],
      ]),
    );
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(this.#clientData('webauthn.create', options.challenge, knobs)),
        attestationObject: b64url(attestationObject),
        transports: (this.options.transports ?? ['internal']) as never,
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: { credProps: { rk: true } },
    };
  }

  /** navigator.credentials.get() answering these options with this passkey. */
  assert(
    options: PublicKeyCredentialRequestOptionsJSON,
    knobs: CeremonyKnobs = {},
  ): AuthenticationResponseJSON {
    const counter = knobs.counter ?? this.#counter + 1;
    this.#counter = Math.max(this.#counter, counter);
    const authData = this.#authData(
      knobs.rpId ?? options.rpId ?? TEST_RP_ID,
      this.#flags(knobs),
      counter,
    );
    const clientData = this.#clientData('webauthn.get', options.challenge, knobs);
    const signed = Buffer.concat([authData, sha256(clientData)]);
    const key = knobs.forgeSignature
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
      : this.#privateKey;
    // ECDSA in DER, as WebAuthn's ES256 signatures are.
    const signature = sign('sha256', signed, key);
    const userHandle = knobs.userHandle === undefined ? this.#userHandle : knobs.userHandle;
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle ? { userHandle } : {}),
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }
}

export interface PasskeyBody {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  transports: string[];
  backed_up: boolean;
}

export type SignInOptionsBody = PublicKeyCredentialRequestOptionsJSON & { challenge_id: string };

/** Registers the authenticator's passkey for the signed-in user through the API. */
export async function registerPasskey(
  app: FastifyInstance,
  auth: { authorization: string },
  authenticator: SoftAuthenticator,
  body: { name?: string } = {},
): Promise<PasskeyBody> {
  const options = await app.inject({
    method: 'POST',
    url: '/api/auth/passkeys/register/options',
    headers: auth,
    payload: {},
  });
  if (options.statusCode !== 200)
    throw new Error(`register options failed: ${options.statusCode} ${options.body}`);
  const response = authenticator.register(json<PublicKeyCredentialCreationOptionsJSON>(options));
  const verify = await app.inject({
    method: 'POST',
    url: '/api/auth/passkeys/register/verify',
    headers: auth,
    payload: { response, ...body },
  });
  if (verify.statusCode !== 201)
    throw new Error(`register verify failed: ${verify.statusCode} ${verify.body}`);
  return json<PasskeyBody>(verify);
}

/** Sign-in options: usernameless (`{}`), e-mail first, or for an MFA step. */
export async function passkeySignInOptions(
  app: FastifyInstance,
  body: { email?: string; mfa_token?: string } = {},
): Promise<SignInOptionsBody> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/passkeys/signin/options',
    payload: body,
  });
  if (response.statusCode !== 200)
    throw new Error(`sign-in options failed: ${response.statusCode} ${response.body}`);
  return json<SignInOptionsBody>(response);
}

/** Posts an assertion to the sign-in endpoint. */
export async function passkeySignIn(
  app: FastifyInstance,
  challengeId: string,
  response: AuthenticationResponseJSON,
) {
  return app.inject({
    method: 'POST',
    url: '/api/auth/passkeys/signin/verify',
    payload: { challenge_id: challengeId, response },
  });
}
