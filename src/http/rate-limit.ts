import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `'auth'`: counted against the per-address budget of auth requests (RATE_LIMIT_AUTH_PER_MINUTE). */
    rateLimit?: 'auth';
  }
}

/**
 * Counts one request against a named per-key budget, throwing (AppError rate_limited) once it is
 * spent. The rate-limit feature's, handed in by app.ts: http/ knows no feature.
 */
export type ConsumeLimit = (limit: 'auth_ip', key: string) => Promise<unknown>;

// Reads (GET /me, /sessions, /verify) are left out: /verify is the check a gateway makes on
// every request it forwards, from its own one address.
const COUNTED_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Every request that changes something under /api/auth (sign-up, sign-in, refresh, token,
 * password and e-mail flows, MFA, sign-out, session and account deletion, and whatever joins
 * them) is counted per source address before its body is even read.
 * The address is the peer's, or the one X-Forwarded-For names when the peer is a proxy
 * listed in TRUST_PROXY — so a client cannot choose its own key.
 */
export function registerRateLimits(app: FastifyInstance, consume: ConsumeLimit): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.url.startsWith('/api/auth/') && methods.some((m) => COUNTED_METHODS.includes(m)))
      route.config = { ...route.config, rateLimit: 'auth' };
  });
  app.addHook('onRequest', (request, _reply, done) => {
    // Most requests are not counted: they go on without a promise.
    if (request.routeOptions.config.rateLimit !== 'auth') return done();
    consume('auth_ip', request.ip ?? 'unknown').then(() => done(), done);
  });
}
