import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { VerifiedAccessToken } from '../crypto/access-tokens.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';

/** Who made an authenticated request. */
export interface AuthContext {
  userId: string;
  sessionId: string;
  email: string | undefined;
  roles: string[];
  token: VerifiedAccessToken;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `true`: the route needs a signed-in user's bearer token. `'optional'`: a bearer token,
     * if sent, must be valid; without one the handler decides (sign-out by refresh cookie).
     */
    auth?: boolean | 'optional';
  }
  interface FastifyRequest {
    auth: AuthContext | undefined;
  }
}

const BEARER = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i;

export function readBearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/** The caller of a route declared with `auth: true`; the hook has already checked them. */
export function requireAuth(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new AppError('unauthorized');
  return request.auth;
}

/**
 * One hook enforces what routes declare: a route with `config: { auth: true }` gets the
 * verified caller in `request.auth`, or the request ends with 401 before its handler.
 * The token's session is checked too, so a revoked session stops working at once.
 */
export function registerAuthentication(app: FastifyInstance, deps: Deps): void {
  app.decorateRequest('auth', undefined);
  app.addHook('onRoute', (route) => {
    const auth = route.config?.auth;
    if (auth) {
      const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { oauth2: [] }];
      // An empty requirement in OpenAPI means "or no credentials at all".
      if (auth === 'optional') security.push({});
      route.schema = { ...route.schema, security };
    }
  });
  app.addHook('preHandler', async (request) => {
    const auth = request.routeOptions.config.auth;
    if (!auth) return;
    const raw = readBearerToken(request);
    if (!raw) {
      if (auth === 'optional' && request.headers.authorization === undefined) return;
      throw new AppError('unauthorized', 'A bearer token is required');
    }
    const token = await deps.tokens.verify(raw);
    // Service tokens carry no session and cannot act as a user.
    if (!token.sid) throw new AppError('unauthorized', 'A user access token is required');
    await deps.services.sessions.assertSessionActive(token.sid, token.sub);
    request.auth = {
      userId: token.sub,
      sessionId: token.sid,
      email: token.email,
      roles: token.roles,
      token,
    };
  });
}
