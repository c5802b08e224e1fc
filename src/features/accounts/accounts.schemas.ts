import { Type } from 'typebox';
import { PASSWORD_MAX_LENGTH } from '../../crypto/password-policy.js';
import { Email } from '../../http/schemas.js';

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
