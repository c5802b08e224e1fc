import { Type, type Static, type TSchema } from 'typebox';
import { ERROR_CATALOG, type ErrorCode } from '../errors.js';

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
// Deliberately loose (RFC 5321 is not a regex); ownership is proven by the verification e-mail.
// Every quantifier is followed by a character it cannot match (labels exclude the dot), so
// matching is linear: the earlier `[^\s@]+\.[^\s@]+` backtracked quadratically, and Ajv
// (allErrors) runs the pattern even on a string already over maxLength — seconds of CPU
// for one 64 KiB request.
export const EMAIL_PATTERN = '^\\s*[^\\s@]+@[^\\s@.]+(?:\\.[^\\s@.]+)+\\s*$';

export const Email = Type.String({
  minLength: 3,
  maxLength: 254,
  pattern: EMAIL_PATTERN,
  description: 'E-mail address; compared case-insensitively',
});

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

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    request_id: Type.String(),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
    ),
  },
  { description: 'RFC 9457 problem details (application/problem+json)' },
);

export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  user: Type.Optional(UserSchema),
});

/**
 * The error responses a route documents, by code. Problems are sent by the error
 * handler as pre-rendered JSON, so these schemas only describe them in OpenAPI.
 */
export function problemResponses(...codes: ErrorCode[]): Record<number, typeof ProblemSchema> {
  const codesByStatus = new Map<number, string[]>();
  for (const code of codes) {
    const { status } = ERROR_CATALOG[code];
    codesByStatus.set(status, [...(codesByStatus.get(status) ?? []), code]);
  }
  const responses: Record<number, typeof ProblemSchema> = {};
  for (const [status, statusCodes] of codesByStatus) {
    responses[status] = Type.Object(ProblemSchema.properties, {
      description: `Problem: ${statusCodes.join(', ')}`,
    });
  }
  return responses;
}

/** `limit` and `cursor` of every keyset-paginated list. */
export const PageFields = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  cursor: Type.Optional(
    Type.String({ maxLength: 400, description: 'next_cursor of the previous page' }),
  ),
};

export const PageQuery = Type.Object(PageFields, { additionalProperties: false });

/** Every list answers `{"items": [...], "next_cursor": "..." | null}`. */
export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  });
}
