import { Type, type TSchema } from 'typebox';
import { EMAIL_PATTERN } from './email.js';

// The TypeBox building blocks every feature's schemas share. Here rather than in http/, so that
// a service typing itself by its feature's schemas (x.schemas.ts) reaches no HTTP module.

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });

export const Email = Type.String({
  minLength: 3,
  maxLength: 254,
  pattern: EMAIL_PATTERN,
  description: 'E-mail address; compared case-insensitively',
});

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
