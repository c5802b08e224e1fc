import { type Static, Type } from 'typebox';
import { Email, Timestamp, Uuid } from '../../lib/schemas.js';
import { CookieFlag } from '../sessions/sessions.schemas.js';
import type {
  AuthenticationResponseJSON,
  Passkey,
  RegistrationResponseJSON,
} from './passkeys.types.js';

// WebAuthn's JSON forms (https://www.w3.org/TR/webauthn-3/#dictdef-registrationresponsejson)
// as request bodies: every binary field base64url, each bounded; what a browser adds beyond
// them (extension outputs) passes through untouched for @simplewebauthn to read or ignore.

const base64url = (maxLength: number, description?: string) =>
  Type.String({
    minLength: 1,
    maxLength,
    pattern: '^[A-Za-z0-9_-]+={0,2}$',
    ...(description ? { description } : {}),
  });

const CredentialId = base64url(1400, 'The credential id (base64url)');
const Attachment = Type.Union([Type.Literal('platform'), Type.Literal('cross-platform')]);
const ExtensionOutputs = Type.Object({}, { description: 'clientExtensionResults, as sent' });

export const RegistrationResponse = Type.Object(
  {
    id: CredentialId,
    rawId: CredentialId,
    type: Type.Literal('public-key'),
    response: Type.Object({
      clientDataJSON: base64url(4096),
      attestationObject: base64url(32_768),
      authenticatorData: Type.Optional(base64url(16_384)),
      transports: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { maxItems: 8 }),
      ),
      publicKeyAlgorithm: Type.Optional(Type.Integer()),
      publicKey: Type.Optional(base64url(4096)),
    }),
    authenticatorAttachment: Type.Optional(Attachment),
    clientExtensionResults: ExtensionOutputs,
  },
  { description: "The browser's RegistrationResponseJSON" },
);

export const AuthenticationResponse = Type.Object(
  {
    id: CredentialId,
    rawId: CredentialId,
    type: Type.Literal('public-key'),
    response: Type.Object({
      clientDataJSON: base64url(4096),
      authenticatorData: base64url(16_384),
      signature: base64url(2048),
      userHandle: Type.Optional(Type.Union([base64url(256), Type.Null()])),
    }),
    authenticatorAttachment: Type.Optional(Attachment),
    clientExtensionResults: ExtensionOutputs,
  },
  { description: "The browser's AuthenticationResponseJSON" },
);

/** A passkey's answer to a challenge: its `challenge_id` and the assertion. */
export const PasskeyAssertion = Type.Object(
  { challenge_id: Uuid, response: AuthenticationResponse },
  { additionalProperties: false },
);

export function toRegistrationResponse(
  body: Static<typeof RegistrationResponse>,
): RegistrationResponseJSON {
  return {
    ...body,
    response: { ...body.response },
    clientExtensionResults: { ...body.clientExtensionResults },
  };
}

export function toAuthenticationResponse(
  body: Static<typeof AuthenticationResponse>,
): AuthenticationResponseJSON {
  const { userHandle, ...response } = body.response;
  return {
    ...body,
    // Some browsers send null for a credential without a user handle; the library wants none.
    response: userHandle ? { ...response, userHandle } : response,
    clientExtensionResults: { ...body.clientExtensionResults },
  };
}

export function toPasskeyProof(body: Static<typeof PasskeyAssertion>): {
  challenge_id: string;
  response: AuthenticationResponseJSON;
} {
  return { challenge_id: body.challenge_id, response: toAuthenticationResponse(body.response) };
}

export const PasskeyName = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'Trimmed; up to 100 characters',
});

export const RegisterOptionsBody = Type.Object(
  { name: Type.Optional(PasskeyName) },
  { additionalProperties: false },
);

export const RegisterVerifyBody = Type.Object(
  { response: RegistrationResponse, name: Type.Optional(PasskeyName) },
  { additionalProperties: false },
);

export const RenameBody = Type.Object({ name: PasskeyName }, { additionalProperties: false });

export const SignInOptionsBody = Type.Object(
  {
    email: Type.Optional(Email),
    mfa_token: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 512,
        description: 'The second step of a password sign-in',
      }),
    ),
  },
  { additionalProperties: false },
);

export const SignInVerifyBody = Type.Object(
  { challenge_id: Uuid, response: AuthenticationResponse, cookie: CookieFlag },
  { additionalProperties: false },
);

export const PasskeyParams = Type.Object({ id: Uuid });
export const UserPasskeyParams = Type.Object({ id: Uuid, passkey_id: Uuid });

export const PasskeySchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  created_at: Timestamp,
  last_used_at: Type.Union([Timestamp, Type.Null()]),
  transports: Type.Array(Type.String()),
  backed_up: Type.Boolean(),
});
export type PasskeyView = Static<typeof PasskeySchema>;

export function toPasskeyView(passkey: Passkey): PasskeyView {
  return {
    id: passkey.id,
    name: passkey.name,
    created_at: passkey.created_at.toISOString(),
    last_used_at: passkey.last_used_at ? passkey.last_used_at.toISOString() : null,
    transports: passkey.transports,
    backed_up: passkey.backed_up,
  };
}

export const PasskeyList = Type.Object({ items: Type.Array(PasskeySchema) });

const Descriptor = Type.Object({
  id: Type.String(),
  type: Type.String({ description: 'public-key' }),
  transports: Type.Optional(Type.Array(Type.String())),
});
const Hints = Type.Optional(Type.Array(Type.String()));

/** PublicKeyCredentialCreationOptionsJSON, as an allow-list. */
export const CreationOptionsSchema = Type.Object({
  rp: Type.Object({ id: Type.Optional(Type.String()), name: Type.String() }),
  user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }),
  challenge: Type.String(),
  pubKeyCredParams: Type.Array(
    Type.Object({ alg: Type.Integer(), type: Type.String({ description: 'public-key' }) }),
  ),
  timeout: Type.Optional(Type.Integer()),
  excludeCredentials: Type.Optional(Type.Array(Descriptor)),
  authenticatorSelection: Type.Optional(
    Type.Object({
      authenticatorAttachment: Type.Optional(Type.String()),
      residentKey: Type.Optional(Type.String()),
      requireResidentKey: Type.Optional(Type.Boolean()),
      userVerification: Type.Optional(Type.String()),
    }),
  ),
  hints: Hints,
  attestation: Type.Optional(Type.String()),
  extensions: Type.Optional(Type.Object({ credProps: Type.Optional(Type.Boolean()) })),
});

/** PublicKeyCredentialRequestOptionsJSON plus the challenge's id, as an allow-list. */
export const SignInOptionsSchema = Type.Object({
  challenge_id: Uuid,
  challenge: Type.String(),
  timeout: Type.Optional(Type.Integer()),
  rpId: Type.Optional(Type.String()),
  allowCredentials: Type.Optional(Type.Array(Descriptor)),
  userVerification: Type.Optional(Type.String()),
  hints: Hints,
});
