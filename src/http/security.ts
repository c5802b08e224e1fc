import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Config } from '../config/config.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false`: the answer is read by a gateway, never rendered by a browser (forward auth), so
     * it goes without the browser security headers; it is on every gateway-proxied request.
     */
    browserHeaders?: false;
  }
}

/** JSON answers load nothing and may not be framed. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** Swagger UI loads its own scripts and styles from /docs and calls the API. */
const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The headers helmet sets for our options, read once by running its middleware on a response
 * that is never sent. They depend on the options alone, so every answer gets the same set;
 * building the middleware per request (as @fastify/helmet does) cost about a quarter of a
 * forward-auth check's CPU.
 */
export function helmetHeaders(): Readonly<Record<string, string>> {
  const response = new ServerResponse(new IncomingMessage(new Socket()));
  helmet({ contentSecurityPolicy: false, crossOriginResourcePolicy: { policy: 'cross-origin' } })(
    response.req,
    response,
    () => {},
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.getHeaders()))
    if (value !== undefined) headers[name] = String(value);
  return Object.freeze(headers);
}

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
 * Security headers (helmet's) on every answer a browser may read — all but those of routes
 * declaring `browserHeaders: false` — with a Content-Security-Policy fitting what the answer
 * is (pages that set their own keep it), and CORS only for the origins listed in
 * CORS_ORIGINS — credentials allowed, since cookie mode needs them.
 */
export async function registerSecurity(
  app: FastifyInstance,
  config: Pick<Config, 'corsOrigins'>,
): Promise<void> {
  const apiHeaders = { ...helmetHeaders(), 'content-security-policy': API_CSP };
  const docsHeaders = { ...apiHeaders, 'content-security-policy': DOCS_CSP };
  // Set before anything can answer, so problems carry them too; a page that sets its own CSP
  // replaces the default. A callback hook: nothing here waits.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.browserHeaders !== false)
      reply.headers(request.url.startsWith('/docs') ? docsHeaders : apiHeaders);
    done();
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
