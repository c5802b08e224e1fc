import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditService } from './audit.service.js';
import { problemResponses } from '../../http/schemas.js';
import { PageOf } from '../../lib/schemas.js';
import { AuditEventSchema, AuditQuery } from './audit.schemas.js';

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditService }> = async (
  app,
  { audit },
) => {
  app.get(
    '/api/admin/audit-events',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags: ['admin: audit'],
        summary: 'Query the audit trail (newest first)',
        description:
          'Filters combine: the user concerned, the actor, the event type, the outcome and a ' +
          'time range (`since` inclusive, `until` exclusive). Events older than ' +
          'AUDIT_RETENTION are removed.',
        querystring: AuditQuery,
        response: {
          200: PageOf(AuditEventSchema),
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request) => {
      const query = request.query;
      return audit.list({
        userId: query.user_id,
        actorId: query.actor_id,
        type: query.type,
        outcome: query.outcome,
        since: query.since !== undefined ? new Date(query.since) : undefined,
        until: query.until !== undefined ? new Date(query.until) : undefined,
        limit: query.limit,
        cursor: query.cursor,
      });
    },
  );
};
