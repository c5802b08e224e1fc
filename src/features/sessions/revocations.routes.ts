import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type CallerVerifier, readBearerToken, resolveBearer } from '../../http/authenticate.js';
import { problemResponses } from '../../http/schemas.js';
import type { Clock } from '../../lib/clock.js';
import { grants } from '../../lib/permissions.js';
import { Timestamp, Uuid } from '../../lib/schemas.js';
import { RevocationStream } from './revocation-stream.js';
import { type RevocationSignals, RevocationWaker } from './revocation-waker.js';
import type { SessionsService } from './sessions.service.js';

const PERMISSION = 'revocations:read';
const STREAM_PAGE_SIZE = 500;
const HEARTBEAT_MS = 15_000;

const RevocationsQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({ maxLength: 400, description: 'next_cursor of the previous answer' }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 500 }),
  },
  { additionalProperties: false },
);

const RevocationsHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({
      maxLength: 400,
      description: 'Event stream only: the id of the last event received; wins over `since`',
    }),
  ),
});

const RevocationsPage = Type.Object({
  items: Type.Array(Type.Object({ session_id: Uuid, revoked_at: Timestamp })),
  next_cursor: Type.String({
    description: 'Where to ask from next time (unchanged when nothing new was revoked)',
  }),
});

/**
 * The revocation feed for resource servers that verify tokens offline: the sessions revoked
 * since their last look, so they refuse a revoked session's tokens within a poll instead of
 * at the tokens' expiry — or, as a Server-Sent Events stream, within about a second.
 */
export const revocationsRoutes: FastifyPluginAsyncTypebox<{
  sessions: Pick<SessionsService, 'listRevocations' | 'readRevocations' | 'newestRevocationCursor'>;
  /** Where this instance learns of revocations (SessionGuard). */
  signals: RevocationSignals;
  /** Re-checks a streaming reader's token now and then. */
  verifier: CallerVerifier;
  clock: Clock;
}> = async (app, { sessions, signals, verifier, clock }) => {
  const waker = new RevocationWaker({
    signals,
    newestCursor: () => sessions.newestRevocationCursor(),
    onError: (error) => app.log.warn({ err: error }, 'revocation feed: reading its end failed'),
  });
  const open = new Set<RevocationStream>();
  // Open streams would hold the server's close for ever: shutdown ends them (the readers
  // reconnect to another instance with Last-Event-ID).
  app.addHook('preClose', async () => {
    for (const stream of [...open]) stream.end();
  });

  app.get(
    '/api/auth/revocations',
    {
      config: { permission: PERMISSION },
      schema: {
        tags: ['sessions'],
        summary: 'Revoked sessions, oldest first, since a cursor (for resource servers)',
        description:
          'For a service token with the scope `revocations:read`. Without `since`, starts ' +
          'ACCESS_TOKEN_TTL ago: older revocations concern no unexpired token. Poll with the ' +
          "answer's `next_cursor`; a token whose `sid` is listed must be refused.\n\n" +
          'With `Accept: text/event-stream`, a live stream of the same items (Server-Sent ' +
          'Events): each revoked session is an event `id: <the next_cursor after it>`, ' +
          '`event: revoked`, `data: {"session_id","revoked_at"}`; the backlog since ' +
          '`Last-Event-ID` (or `since`) first, then a comment, then new revocations within ' +
          'about a second, a comment every 15 s, `retry: 1000`. The stream ends when the ' +
          'token expires or its session or service account is revoked.',
        querystring: RevocationsQuery,
        headers: RevocationsHeaders,
        response: {
          200: RevocationsPage,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const streaming = request.headers.accept?.includes('text/event-stream') === true;
      const since = streaming
        ? (request.headers['last-event-id'] ?? request.query.since)
        : request.query.since;
      if (!streaming) return sessions.listRevocations(since, request.query.limit);
      const first = await sessions.readRevocations(since, STREAM_PAGE_SIZE);
      // The hook verified the token just now; read it again (a cache hit) for its expiry.
      const raw = readBearerToken(request) ?? '';
      const bearer = await resolveBearer(verifier, raw, { serviceTokens: true });
      const stream = new RevocationStream({
        res: reply.raw,
        headers: reply.getHeaders() as Record<string, string | number | string[]>,
        first,
        read: (cursor) => sessions.readRevocations(cursor, STREAM_PAGE_SIZE),
        pageSize: STREAM_PAGE_SIZE,
        waker,
        ownSessionId: bearer.kind === 'user' ? bearer.sessionId : undefined,
        stillAllowed: async () => {
          const now = await resolveBearer(verifier, raw, { serviceTokens: true });
          return now.kind === 'user' || grants(now.scopes, PERMISSION);
        },
        expiresInMs: bearer.token.exp * 1000 - clock.now().getTime(),
        heartbeatMs: HEARTBEAT_MS,
        onEnd: () => open.delete(stream),
      });
      open.add(stream);
      reply.hijack();
      stream.start();
      return reply;
    },
  );
};
