import { Type } from 'typebox';
import { TokenResponseSchema } from '../../http/schemas.js';

export const SignInBody = Type.Object(
  {
    // Not the sign-up pattern: any text is checked, and a malformed address simply fails.
    email: Type.String({ minLength: 1, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export const SignInResponse = TokenResponseSchema;
