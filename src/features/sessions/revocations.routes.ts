import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problemResponses } from '../../http/schemas.js';
import { Timestamp, Uuid } from '../../lib/schemas.js';
import type { SessionsService } from './sessions.service.js';

const RevocationsQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({ maxLength: 400, description: 'next_cursor of the previous answer' }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 500 }),
  },
  { additionalProperties: false },
);

const RevocationsPage = Type.Object({
  items: Type.Array(Type.Object({ session_id: Uuid, revoked_at: Timestamp })),
  next_cursor: Type.String({
    description: 'Where to ask from next time (unchanged when nothing new was revoked)',
  }),
});

/**
 * The revocation feed for resource servers that verify tokens offline: the sessions revoked
 * since their last look, so they refuse a revoked session's tokens within a poll instead of
 * at the tokens' expiry.
 */
export const revocationsRoutes: FastifyPluginAsyncTypebox<{
  sessions: Pick<SessionsService, 'listRevocations'>;
}> = async (app, { sessions }) => {
  app.get(
    '/api/auth/revocations',
    {
      config: { permission: 'revocations:read' },
      schema: {
        tags: ['sessions'],
        summary: 'Revoked sessions, oldest first, since a cursor (for resource servers)',
        description:
          'For a service token with the scope `revocations:read`. Without `since`, starts ' +
          'ACCESS_TOKEN_TTL ago: older revocations concern no unexpired token. Poll with the ' +
          "answer's `next_cursor`; a token whose `sid` is listed must be refused.",
        querystring: RevocationsQuery,
        response: {
          200: RevocationsPage,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return sessions.listRevocations(request.query.since, request.query.limit);
    },
  );
};
