import type { FastifyReply } from 'fastify';
import { toUserView } from '../accounts/accounts.schemas.js';
import { setRefreshCookies } from './refresh-cookie.js';
import type { MfaChallenge, TokenGrant } from './sessions.types.js';

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
