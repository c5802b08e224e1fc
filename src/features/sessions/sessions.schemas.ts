import { Type } from 'typebox';
import { PageOf, Timestamp, Uuid } from '../../lib/schemas.js';
import { UserSchema } from '../accounts/accounts.schemas.js';

/** What a sign-in, a refresh and the token endpoint answer. */
export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  issued_token_type: Type.Optional(
    Type.String({ description: 'Token exchange (RFC 8693) only: the type of the token issued' }),
  ),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  id_token: Type.Optional(
    Type.String({ description: 'OpenID Connect ID token, when `openid` was granted' }),
  ),
  user: Type.Optional(UserSchema),
});

export const CookieFlag = Type.Optional(
  Type.Boolean({ description: 'Deliver the refresh token as an HttpOnly cookie (browsers)' }),
);

export const SignInBody = Type.Object(
  {
    // Not the sign-up pattern: any text is checked, and a malformed address simply fails.
    email: Type.String({ minLength: 1, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    cookie: CookieFlag,
  },
  { additionalProperties: false },
);

// No body at all is fine: a browser in cookie mode sends the token as a cookie.
export const RefreshBody = Type.Union([
  Type.Object(
    {
      refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
      cookie: CookieFlag,
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

export const SignOutBody = Type.Union([
  Type.Object({ all: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  Type.Null(),
]);

export const SessionTokenResponse = Type.Object({
  ...TokenResponseSchema.properties,
  csrf_token: Type.Optional(
    Type.String({ description: 'Cookie mode: repeat it in X-CSRF-Token when refreshing' }),
  ),
});

/** Listed with every MFA challenge, here and at the token endpoint. */
export const MfaFactorList = Type.Array(Type.String(), {
  description:
    'The second factors the user holds, any of which completes the sign-in, e.g. ["totp", "recovery_code"]',
});

export const MfaRequiredResponse = Type.Object({
  mfa_required: Type.Literal(true),
  mfa_token: Type.String({ description: 'For POST /api/auth/mfa/verify; single use' }),
  expires_in: Type.Integer({ description: 'Seconds the token stays usable' }),
  factors: MfaFactorList,
});

export const SessionSchema = Type.Object({
  id: Uuid,
  created_at: Timestamp,
  last_used_at: Timestamp,
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});

export const SessionList = PageOf(SessionSchema);

export const SessionIdParams = Type.Object({ id: Uuid });
