import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';

/** JSON answers load nothing and may not be framed. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** Swagger UI loads its own scripts and styles from /docs and calls the API. */
const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers a browser may read from a cross-origin answer. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'www-authenticate',
];

/**
 * Security headers (helmet) on every answer, a Content-Security-Policy fitting what the
 * answer is (pages that set their own keep it), and CORS only for the origins listed in
 * CORS_ORIGINS — credentials allowed, since cookie mode needs them.
 */
export async function registerSecurity(
  app: FastifyInstance,
  config: Pick<Config, 'corsOrigins'>,
): Promise<void> {
  await app.register(helmet, {
    global: true,
    // Set per kind of answer below.
    contentSecurityPolicy: false,
    // The JWKS and discovery documents are read by other origins' servers and browsers.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!reply.hasHeader('content-security-policy'))
      reply.header('content-security-policy', request.url.startsWith('/docs') ? DOCS_CSP : API_CSP);
    return payload;
  });
  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? [...config.corsOrigins] : false,
    credentials: true,
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'x-csrf-token',
      'x-auth-cookie',
      'x-request-id',
    ],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
}
