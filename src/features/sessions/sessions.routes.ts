import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Deps } from '../../deps.js';
import { problemResponses } from '../../http/schemas.js';
import { SignInBody, SignInResponse } from './sessions.schemas.js';
import { clientContext, sendTokenResponse } from './token-response.js';

export const sessionsRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (app, { deps }) => {
  const { sessions } = deps.services;

  app.post(
    '/api/auth/signin',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Sign in with e-mail and password',
        body: SignInBody,
        response: {
          200: SignInResponse,
          ...problemResponses(
            'validation_failed',
            'invalid_credentials',
            'account_disabled',
            'email_not_verified',
          ),
        },
      },
    },
    async (request, reply) => {
      const grant = await sessions.signIn(
        request.body.email,
        request.body.password,
        clientContext(request),
      );
      return sendTokenResponse(reply, grant);
    },
  );
};
