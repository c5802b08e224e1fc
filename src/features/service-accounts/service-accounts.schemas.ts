import { Type, type Static } from 'typebox';
import { Timestamp, Uuid } from '../../lib/schemas.js';
import { PERMISSION_PATTERN } from '../../lib/permissions.js';

export const ServiceAccountSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  client_id: Type.String(),
  scopes: Type.Array(Type.String()),
  created_at: Timestamp,
  secret_rotated_at: Type.Union([Timestamp, Type.Null()]),
  last_used_at: Type.Union([Timestamp, Type.Null()]),
});
export type ServiceAccountView = Static<typeof ServiceAccountSchema>;

export const ServiceAccountWithSecretSchema = Type.Object({
  ...ServiceAccountSchema.properties,
  client_secret: Type.String({
    description: 'Shown only in this response; store it now. Only its hash is kept.',
  }),
});

export const ServiceAccountIdParams = Type.Object({ id: Uuid });

export const CreateServiceAccountBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
    // Each scope is a permission: a valid RFC 6749 scope-token (no space, quote or
    // backslash) that the authorization hook can match against what a route declares.
    scopes: Type.Array(
      Type.String({
        pattern: PERMISSION_PATTERN,
        maxLength: 129,
        description:
          'A permission (`resource:action`, `resource:*` or `*`) the account may act with',
      }),
      { maxItems: 50, description: 'Permissions the account may use; duplicates are dropped' },
    ),
  },
  { additionalProperties: false },
);
export type CreateServiceAccount = Static<typeof CreateServiceAccountBody>;
