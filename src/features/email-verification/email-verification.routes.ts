import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { EmailVerificationService } from './email-verification.service.js';
import { requireAuth } from '../../http/authenticate.js';
import { clientContext } from '../../http/client-context.js';
import { problemResponses } from '../../http/schemas.js';
import { UserSchema } from '../accounts/accounts.schemas.js';
import { toUserView } from '../accounts/accounts.schemas.js';

export const EmailTokenBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
const Accepted = Type.Object({ status: Type.Literal('accepted') });

export const emailVerificationRoutes: FastifyPluginAsyncTypebox<{
  emailVerification: EmailVerificationService;
}> = async (app, { emailVerification }) => {
  app.post(
    '/api/auth/email/verify/request',
    {
      config: { auth: true },
      schema: {
        tags: ['accounts'],
        summary: 'Send a verification e-mail with a one-time link (valid 24 h)',
        response: { 202: Accepted, ...problemResponses('unauthorized') },
      },
    },
    async (request, reply) => {
      await emailVerification.request(requireAuth(request).userId);
      return reply.status(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/api/auth/email/verify',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Verify the e-mail address with the token from the mail',
        body: EmailTokenBody,
        response: { 200: UserSchema, ...problemResponses('validation_failed', 'invalid_token') },
      },
    },
    async (request) =>
      toUserView(await emailVerification.verify(request.body.token, clientContext(request))),
  );
};
