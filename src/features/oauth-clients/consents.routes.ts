import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireAuth } from '../../http/authenticate.js';
import { clientContext } from '../../http/client-context.js';
import { problemResponses } from '../../http/schemas.js';
import { PageOf } from '../../lib/schemas.js';
import type { ConsentsService } from './consents.service.js';
import { ClientIdParams, ConsentSchema } from './oauth-clients.schemas.js';

const TAGS = ['consents'];

export const consentsRoutes: FastifyPluginAsyncTypebox<{ consents: ConsentsService }> = async (
  app,
  { consents },
) => {
  app.get(
    '/api/auth/consents',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'The apps you have allowed, with the scopes you granted each',
        response: { 200: PageOf(ConsentSchema), ...problemResponses('unauthorized') },
      },
    },
    async (request) => consents.list(requireAuth(request).userId),
  );

  app.delete(
    '/api/auth/consents/:client_id',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: "Withdraw your consent to an app; the app's tokens for you stop at once",
        params: ClientIdParams,
        response: {
          204: { type: 'null', description: 'Withdrawn' },
          ...problemResponses('validation_failed', 'unauthorized', 'not_found'),
        },
      },
    },
    async (request, reply) => {
      const auth = requireAuth(request);
      await consents.revoke(auth.userId, request.params.client_id, clientContext(request));
      return reply.status(204).send(null);
    },
  );
};
