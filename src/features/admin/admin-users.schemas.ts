import { Type, type Static } from 'typebox';
import { PageFields, Uuid } from '../../lib/schemas.js';
import { UserSchema } from '../accounts/accounts.schemas.js';

/** GET /api/admin/users/{id}: the user object and the second factors they hold. */
export const AdminUserSchema = Type.Object({
  ...UserSchema.properties,
  factors: Type.Array(Type.String(), {
    description: 'The factors the user holds, e.g. ["totp", "passkey", "recovery_code"]',
  }),
});
export type AdminUserView = Static<typeof AdminUserSchema>;

export const NAME_MAX_LENGTH = 200;

export const UserListQuery = Type.Object(
  {
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Part of the e-mail or name' }),
    ),
    role: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'Held directly or via a group' }),
    ),
    active: Type.Optional(Type.Boolean()),
    ...PageFields,
  },
  { additionalProperties: false },
);
export type UserListQuery = Static<typeof UserListQuery>;

export const UserIdParams = Type.Object({ id: Uuid });

export const AdminUserPatchBody = Type.Object(
  {
    name: Type.Optional(
      Type.Union([
        Type.String({ maxLength: NAME_MAX_LENGTH, description: 'Trimmed; blank clears it' }),
        Type.Null(),
      ]),
    ),
    roles: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        maxItems: 100,
        description: "The user's direct roles, replacing the current ones (group roles stay)",
      }),
    ),
    is_active: Type.Optional(
      Type.Boolean({ description: 'false signs the user out everywhere at once' }),
    ),
    email_verified: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type AdminUserPatch = Static<typeof AdminUserPatchBody>;
