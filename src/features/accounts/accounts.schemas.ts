import { Type, type Static } from 'typebox';
import { PASSWORD_MAX_LENGTH } from '../../crypto/password-policy.js';
import { Email, Timestamp, Uuid } from '../../lib/schemas.js';
import type { UserWithRoles } from './accounts.types.js';

/** The public shape of a user, in every answer that shows one (accounts, admin, groups, tokens). */
export const UserSchema = Type.Object({
  id: Uuid,
  email: Type.String(),
  email_verified: Type.Boolean(),
  name: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()),
  is_active: Type.Boolean(),
  mfa_enabled: Type.Boolean(),
  created_at: Timestamp,
  last_signin_at: Type.Union([Timestamp, Type.Null()]),
});
export type UserView = Static<typeof UserSchema>;

export const SignUpBody = Type.Object(
  {
    email: Email,
    // The schema caps the size; the password policy (weak_password) says what else is wrong.
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH * 4 }),
    name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const DeleteAccountBody = Type.Object(
  { password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

/** The public shape of a user; built from an allow-list, so nothing secret can slip in. */
export function toUserView(user: UserWithRoles): UserView {
  return {
    id: user.id,
    email: user.email,
    email_verified: user.email_verified,
    name: user.name,
    roles: user.roles,
    is_active: user.is_active,
    mfa_enabled: user.mfa_enabled,
    created_at: user.created_at.toISOString(),
    last_signin_at: user.last_signin_at ? user.last_signin_at.toISOString() : null,
  };
}
