import { type Static, Type } from 'typebox';
import { Timestamp, Uuid } from '../../lib/schemas.js';

// RFC 6749 §3.3 scope-token: printable ASCII without space, quote or backslash.
export const RESOURCE_SCOPE_NAME = '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,64}$';

export const ResourceScopeSchema = Type.Object(
  {
    name: Type.String({
      pattern: RESOURCE_SCOPE_NAME,
      description: 'A scope-token, e.g. `notes:read`',
    }),
    description: Type.String({ maxLength: 200, description: 'What the consent page says' }),
  },
  { additionalProperties: false },
);

export const ResourceSchema = Type.Object({
  id: Uuid,
  identifier: Type.String({ description: 'Absolute URI: the `aud` of tokens bound to it' }),
  name: Type.String(),
  scopes: Type.Array(ResourceScopeSchema),
  access_token_ttl: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Seconds; null: ACCESS_TOKEN_TTL',
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type ResourceView = Static<typeof ResourceSchema>;

const Scopes = Type.Array(ResourceScopeSchema, {
  maxItems: 100,
  description: 'The scopes it defines; names must be unique',
});
const Ttl = Type.Union([Type.Integer({ minimum: 60, maximum: 86_400 }), Type.Null()], {
  description: 'Lifetime of its access tokens in seconds (60 to 86400); null: ACCESS_TOKEN_TTL',
});
const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });

export const CreateResourceBody = Type.Object(
  {
    identifier: Type.String({ minLength: 1, maxLength: 2048 }),
    name: Name,
    scopes: Type.Optional(Scopes),
    access_token_ttl: Type.Optional(Ttl),
  },
  { additionalProperties: false },
);
export type CreateResource = Static<typeof CreateResourceBody>;

export const UpdateResourceBody = Type.Object(
  {
    name: Type.Optional(Name),
    scopes: Type.Optional(Scopes),
    access_token_ttl: Type.Optional(Ttl),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateResource = Static<typeof UpdateResourceBody>;

export const ResourceIdParams = Type.Object({ id: Uuid });
