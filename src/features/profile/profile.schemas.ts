import { Type, type Static, type TSchema } from 'typebox';
import { Timestamp, Uuid } from '../../lib/schemas.js';

export const FULL_NAME_MAX_LENGTH = 200;
export const AVATAR_URL_MAX_LENGTH = 2048;
// BCP 47 only asks implementations to support 35 characters; extensions can make a tag longer.
export const LOCALE_MAX_LENGTH = 64;
// The longest IANA zone name is ~32 characters.
export const TIMEZONE_MAX_LENGTH = 64;
export const E164_PATTERN = '^\\+[1-9]\\d{1,14}$';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ProfileSchema = Type.Object({
  user_id: Uuid,
  full_name: Nullable(Type.String()),
  avatar_url: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  locale: Nullable(Type.String()),
  timezone: Nullable(Type.String()),
  updated_at: Nullable(Timestamp),
});
export type ProfileView = Static<typeof ProfileSchema>;

/**
 * Shapes only (types, lengths, the E.164 pattern); what needs a parser — the URL scheme, the
 * locale and the time zone — is checked by the service. `null` clears a field; an absent
 * field is left as it is.
 */
export const ProfileUpdateBody = Type.Object(
  {
    full_name: Type.Optional(
      Nullable(
        Type.String({ maxLength: FULL_NAME_MAX_LENGTH, description: 'Trimmed; blank clears it' }),
      ),
    ),
    avatar_url: Type.Optional(
      Nullable(
        Type.String({
          maxLength: AVATAR_URL_MAX_LENGTH,
          description: 'An absolute http or https URL',
        }),
      ),
    ),
    phone: Type.Optional(
      Nullable(
        Type.String({
          maxLength: 16,
          pattern: E164_PATTERN,
          description: 'E.164, e.g. +14155550123',
        }),
      ),
    ),
    locale: Type.Optional(
      Nullable(
        Type.String({
          maxLength: LOCALE_MAX_LENGTH,
          description: 'A BCP 47 language tag, stored in canonical form (en-us → en-US)',
        }),
      ),
    ),
    timezone: Type.Optional(
      Nullable(
        Type.String({
          maxLength: TIMEZONE_MAX_LENGTH,
          description: 'An IANA time zone such as Europe/Paris or UTC (case-insensitive)',
        }),
      ),
    ),
  },
  { additionalProperties: false },
);
export type ProfileUpdate = Static<typeof ProfileUpdateBody>;
