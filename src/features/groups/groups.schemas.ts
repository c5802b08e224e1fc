import { Type, type Static } from 'typebox';
import { Timestamp, Uuid } from '../../lib/schemas.js';

const GroupName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '\\S',
  description: 'Trimmed; unique regardless of case',
});
const Description = Type.String({ maxLength: 500 });
const RoleNames = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  maxItems: 100,
  description: 'Roles every member inherits',
});

export const GroupSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  roles: Type.Array(Type.String()),
  created_at: Timestamp,
});
export type GroupView = Static<typeof GroupSchema>;

export const GroupIdParams = Type.Object({ id: Uuid });
export const GroupMemberParams = Type.Object({ id: Uuid, user_id: Uuid });

export const CreateGroupBody = Type.Object(
  { name: GroupName, description: Type.Optional(Description), roles: Type.Optional(RoleNames) },
  { additionalProperties: false },
);
export type CreateGroup = Static<typeof CreateGroupBody>;

export const UpdateGroupBody = Type.Object(
  {
    name: Type.Optional(GroupName),
    description: Type.Optional(Description),
    roles: Type.Optional(RoleNames),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateGroup = Static<typeof UpdateGroupBody>;

export const AddMemberBody = Type.Object({ user_id: Uuid }, { additionalProperties: false });
