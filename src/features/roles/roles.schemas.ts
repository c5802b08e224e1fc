import { Type, type Static } from 'typebox';
import { PERMISSION_PATTERN } from '../../lib/permissions.js';

export const ROLE_NAME_PATTERN = '^[a-z][a-z0-9_:.-]{0,63}$';

const RoleName = Type.String({
  pattern: ROLE_NAME_PATTERN,
  maxLength: 64,
  description: 'Lower case letter first, then letters, digits, _ : . -',
});
const Description = Type.String({ maxLength: 500 });
const Permissions = Type.Array(
  Type.String({
    pattern: PERMISSION_PATTERN,
    maxLength: 129,
    description: '`resource:action`, `resource:*` or `*`',
  }),
  { maxItems: 200 },
);

export const RoleSchema = Type.Object({
  name: Type.String(),
  description: Type.String(),
  permissions: Type.Array(Type.String()),
  built_in: Type.Boolean({ description: '`admin` and `user`: they cannot be deleted' }),
});
export type RoleView = Static<typeof RoleSchema>;

export const RoleNameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) });

export const CreateRoleBody = Type.Object(
  {
    name: RoleName,
    description: Type.Optional(Description),
    permissions: Type.Optional(Permissions),
  },
  { additionalProperties: false },
);
export type CreateRole = Static<typeof CreateRoleBody>;

export const UpdateRoleBody = Type.Object(
  { description: Type.Optional(Description), permissions: Type.Optional(Permissions) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateRole = Static<typeof UpdateRoleBody>;
