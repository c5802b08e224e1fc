import type { FastifyReply, FastifyRequest } from 'fastify';
import { toUserView } from '../accounts/accounts.service.js';
import type { ClientContext, TokenGrant } from './sessions.service.js';

/** The client a request comes from, as sessions record it. */
export function clientContext(request: FastifyRequest): ClientContext {
  return { ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null };
}

/** A token response (RFC 6749 §5.1); never cached by a browser or proxy. */
export function sendTokenResponse(reply: FastifyReply, grant: TokenGrant) {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  return {
    access_token: grant.accessToken,
    token_type: 'bearer' as const,
    expires_in: grant.expiresIn,
    refresh_token: grant.refreshToken,
    user: toUserView(grant.user),
  };
}
