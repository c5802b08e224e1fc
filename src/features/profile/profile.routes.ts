import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ProfileService } from './profile.service.js';
import { requireAuth } from '../../http/authenticate.js';
import { problemResponses } from '../../http/schemas.js';
import { ProfileSchema, ProfileUpdateBody } from './profile.schemas.js';

export const profileRoutes: FastifyPluginAsyncTypebox<{ profiles: ProfileService }> = async (
  app,
  { profiles },
) => {
  app.get(
    '/api/profile',
    {
      config: { auth: true },
      schema: {
        tags: ['profile'],
        summary: "The signed-in user's profile",
        response: { 200: ProfileSchema, ...problemResponses('unauthorized', 'token_expired') },
      },
    },
    async (request) => profiles.getProfile(requireAuth(request).userId),
  );

  app.patch(
    '/api/profile',
    {
      config: { auth: true },
      schema: {
        tags: ['profile'],
        summary: "Change the signed-in user's profile",
        description:
          'Any subset of the fields; `null` clears one, unknown fields are ignored. ' +
          'Nothing changes unless every given field is valid.',
        body: ProfileUpdateBody,
        response: {
          200: ProfileSchema,
          ...problemResponses('validation_failed', 'unauthorized', 'token_expired'),
        },
      },
    },
    async (request) => profiles.updateProfile(requireAuth(request).userId, request.body),
  );
};
