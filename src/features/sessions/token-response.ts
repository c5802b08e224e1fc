import type { FastifyReply } from 'fastify';
import { toUserView } from '../accounts/accounts.schemas.js';
import { setRefreshCookies } from './refresh-cookie.js';
import type { ClientTokens, MfaChallenge, TokenGrant } from './sessions.types.js';

/** Marks a response that carries a token as never to be stored by a browser or proxy. */
export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/** The first step of an MFA sign-in went through: a code is due. */
export function sendMfaRequired(reply: FastifyReply, challenge: MfaChallenge) {
  noStore(reply);
  return {
    mfa_required: true as const,
    mfa_token: challenge.mfaToken,
    expires_in: challenge.expiresIn,
    factors: challenge.factors,
  };
}

/**
 * A token response (RFC 6749 §5.1). In cookie mode the refresh token goes into an
 * HttpOnly cookie instead of the body, where page scripts could read it.
 */
export function sendTokenResponse(
  reply: FastifyReply,
  grant: TokenGrant,
  cookie?: { maxAgeSeconds: number; csrfToken?: string | undefined },
) {
  noStore(reply);
  if (grant.client) return clientTokenBody(grant, grant.client);
  const body = {
    access_token: grant.accessToken,
    token_type: 'bearer' as const,
    expires_in: grant.expiresIn,
    user: toUserView(grant.user),
  };
  if (cookie) {
    const csrf = setRefreshCookies(
      reply,
      grant.refreshToken,
      cookie.maxAgeSeconds,
      cookie.csrfToken,
    );
    return { ...body, csrf_token: csrf };
  }
  return { ...body, refresh_token: grant.refreshToken };
}

/**
 * An OAuth client's token response: its scope and, with `openid`, its ID token; never the user
 * object (claims reach a client through the ID token and userinfo, by scope).
 */
function clientTokenBody(grant: TokenGrant, client: ClientTokens) {
  return {
    access_token: grant.accessToken,
    token_type: 'bearer' as const,
    expires_in: grant.expiresIn,
    refresh_token: grant.refreshToken,
    scope: client.scope,
    ...(client.idToken ? { id_token: client.idToken } : {}),
  };
}
