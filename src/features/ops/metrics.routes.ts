import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';
import { readBearerToken } from '../../http/authenticate.js';
import type { Metrics } from './metrics.js';

/**
 * Counts and times every answer by route template (never the raw URL, whose ids would make a
 * series per user). On the root instance, so that every route, 404s included, is counted.
 */
export function registerRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  // Callback hooks here and in the kernel: a hook that waits for nothing need not cost a promise.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestAnswered(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

/** Compares digests, so that the time taken says nothing of how much of the token matched. */
function sameToken(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export interface MetricsRoutesOptions {
  metrics: Metrics;
  /** METRICS_TOKEN: when set, scraping needs it as a bearer token. */
  config: Pick<Config, 'metricsToken'>;
}

export const metricsRoutes: FastifyPluginAsyncTypebox<MetricsRoutesOptions> = async (
  app,
  { metrics, config },
) => {
  const token = config.metricsToken;
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (a bearer token when METRICS_TOKEN is set)',
        ...(token ? { security: [{ bearerAuth: [] }] } : {}),
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (request, reply) => {
      if (token !== undefined) {
        const given = readBearerToken(request);
        if (given === undefined || !sameToken(given, token)) {
          reply.header('www-authenticate', 'Bearer realm="hyperion-auth-metrics"');
          throw new AppError('unauthorized', 'The metrics token is missing or wrong');
        }
      }
      reply.header('cache-control', 'no-store');
      return reply.type(metrics.contentType).send(await metrics.render());
    },
  );
};
