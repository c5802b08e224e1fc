import type { FastifyReply } from 'fastify';
import type { ClientGrant } from '../../oidc/client-grant.js';
import { noStore } from '../../sessions/token-response.js';

/**
 * The token response of a user's grant to an OAuth client, however the person approved it
 * (an authorization code, a device code): the refresh token only when the grant has one, the
 * ID token only with `openid`, and never cached.
 */
export function clientGrantResponse(grant: ClientGrant, reply: FastifyReply) {
  noStore(reply);
  return {
    access_token: grant.accessToken,
    token_type: 'bearer' as const,
    expires_in: grant.expiresIn,
    ...(grant.refreshToken === null ? {} : { refresh_token: grant.refreshToken }),
    scope: grant.client.scope,
    ...(grant.client.idToken ? { id_token: grant.client.idToken } : {}),
  };
}
