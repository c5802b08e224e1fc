import { Type } from 'typebox';
import { sendTokenResponse } from '../../sessions/token-response.js';
import { authenticateClient, readClientAuthentication } from '../client-auth.js';
import { requiredParam } from '../token-params.js';
import { defineGrant } from './grant.js';

/**
 * RFC 6749 §6: rotates like /api/auth/refresh (the presented token is spent). A refresh token
 * issued to an OAuth client is bound to it: the client authenticates (or, public, names
 * itself) and only its own tokens are accepted; one of this service's own (API) refresh
 * tokens is presented without a client.
 */
export const refreshTokenGrant = defineGrant({
  type: 'refresh_token',
  describe: 'refresh_token; an OAuth client authenticates as at the code exchange',
  params: { refresh_token: Type.String() },
  parse: (params, authorization) => ({
    refreshToken: requiredParam(params, 'refresh_token'),
    resource: params.get('resource') || undefined,
    // Read now so that a malformed client authentication is refused before anything runs.
    claimsClient: readClientAuthentication(params, authorization) !== undefined,
    params,
    authorization,
  }),
  async issue(request, { services, client, reply }) {
    const clientId = request.claimsClient
      ? (
          await authenticateClient(
            services.oauthClients,
            request.params,
            request.authorization,
            'refresh_token',
          )
        ).client_id
      : null;
    return sendTokenResponse(
      reply,
      await services.refresh.refresh(request.refreshToken, client, {
        clientId,
        resource: request.resource,
      }),
    );
  },
});
