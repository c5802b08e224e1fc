import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { PASSWORD_MAX_LENGTH } from '../../crypto/password-policy.js';
import type { PasswordService } from './password.service.js';
import { requireAuth } from '../../http/authenticate.js';
import { clientContext } from '../../http/client-context.js';
import { problemResponses } from '../../http/schemas.js';
import { UserSchema } from '../accounts/accounts.schemas.js';
import { toUserView } from '../accounts/accounts.schemas.js';

// Sized like sign-up's: the policy (weak_password) says what else is wrong with it.
const NewPassword = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH * 4 });

const ForgotBody = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 320 }) },
  { additionalProperties: false },
);
const ResetBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 256 }), password: NewPassword },
  { additionalProperties: false },
);
const ChangeBody = Type.Object(
  { current_password: Type.String({ minLength: 1, maxLength: 1024 }), new_password: NewPassword },
  { additionalProperties: false },
);
const Accepted = Type.Object({ status: Type.Literal('accepted') });

export const passwordRoutes: FastifyPluginAsyncTypebox<{ password: PasswordService }> = async (
  app,
  { password },
) => {
  app.post(
    '/api/auth/password/forgot',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Request a password reset e-mail (202 whether or not the account exists)',
        body: ForgotBody,
        response: { 202: Accepted, ...problemResponses('validation_failed') },
      },
    },
    async (request, reply) => {
      await password.forgot(request.body.email, clientContext(request));
      return reply.status(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/api/auth/password/reset',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Set a new password with the token from the reset e-mail; every session ends',
        body: ResetBody,
        response: {
          200: UserSchema,
          ...problemResponses('validation_failed', 'weak_password', 'invalid_token'),
        },
      },
    },
    async (request) =>
      toUserView(
        await password.reset(request.body.token, request.body.password, clientContext(request)),
      ),
  );

  app.post(
    '/api/auth/password/change',
    {
      config: { auth: true },
      schema: {
        tags: ['accounts'],
        summary: 'Change the password; every other session ends',
        body: ChangeBody,
        response: {
          200: UserSchema,
          ...problemResponses(
            'validation_failed',
            'weak_password',
            'wrong_password',
            'unauthorized',
            'rate_limited',
          ),
        },
      },
    },
    async (request) => {
      const { current_password, new_password } = request.body;
      const user = await password.change(
        requireAuth(request),
        current_password,
        new_password,
        clientContext(request),
      );
      return toUserView(user);
    },
  );
};
