import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Db } from '../../db/create-db.js';
import { resultWithin } from '../../lib/timeout.js';

const READY_TIMEOUT_MS = 2_000;

const HealthResponse = Type.Object({ status: Type.Literal('ok') });
const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Object({
    database: Type.Union([Type.Literal('ok'), Type.Literal('down')]),
    redis: Type.Union([Type.Literal('ok'), Type.Literal('down'), Type.Literal('disabled')]),
  }),
});

/** 'ok' if the check answers in time, 'down' otherwise; never throws. */
async function probe(check: () => Promise<unknown>): Promise<'ok' | 'down'> {
  return (
    (await resultWithin(
      check().then(() => 'ok' as const),
      READY_TIMEOUT_MS,
    )) ?? 'down'
  );
}

/**
 * PING through a client that may still be handshaking: the client refuses commands until it is
 * ready (no offline queue, so that requests fail fast while Redis is down), which would report
 * a healthy Redis as down right after start. A client still connecting gets the probe's time
 * budget to finish; one between reconnection attempts has already failed and is down at once.
 */
async function pingRedis(redis: Redis): Promise<unknown> {
  if (redis.status === 'connecting' || redis.status === 'connect') {
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: unknown) => {
        redis.off('ready', settle).off('error', settle).off('end', settle);
        if (error === undefined && redis.status === 'ready') resolve();
        else reject(error instanceof Error ? error : new Error('Redis is not connected'));
      };
      redis.once('ready', settle).once('error', settle).once('end', settle);
    });
  }
  return redis.ping();
}

export interface OpsRoutesOptions {
  /** Probed by readiness, as is Redis when configured. */
  db: Db;
  redis: Redis | undefined;
}

export const opsRoutes: FastifyPluginAsyncTypebox<OpsRoutesOptions> = async (
  app,
  { db, redis },
) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        response: { 200: HealthResponse },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database (and Redis, if configured) answer',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const [database, redisCheck] = await Promise.all([
        probe(() => sql`select 1`.execute(db)),
        redis ? probe(() => pingRedis(redis)) : Promise.resolve('disabled' as const),
      ]);
      const ok = database === 'ok' && redisCheck !== 'down';
      reply.header('cache-control', 'no-store');
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? 'ok' : 'unavailable', checks: { database, redis: redisCheck } });
    },
  );
};
