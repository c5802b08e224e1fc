import { Type } from 'typebox';
import type { ServiceTokenGrant } from '../../service-accounts/service-accounts.service.js';
import { noStore } from '../../sessions/token-response.js';
import { basicChallenge, readClientCredentials } from '../client-auth.js';
import { InvalidClientError, InvalidScopeError, OAuthError } from '../oauth.errors.js';
import { defineGrant } from './grant.js';

/** RFC 6749 §4.4: a service account, by its client id and secret. */
export const clientCredentialsGrant = defineGrant({
  type: 'client_credentials',
  describe: 'client authentication by HTTP Basic or client_id/client_secret',
  // scope is listed here because only this grant acts on it; the others accept and ignore it.
  params: { scope: Type.String(), client_id: Type.String(), client_secret: Type.String() },
  openApiFlow: 'clientCredentials',
  parse: (params, authorization) => ({
    ...readClientCredentials(params, authorization),
    scope: params.get('scope') || undefined,
  }),
  async issue(request, { services, reply }) {
    let grant: ServiceTokenGrant;
    try {
      grant = await services.serviceAccounts.issueToken(
        request.clientId,
        request.clientSecret,
        request.scope,
      );
    } catch (error) {
      if (error instanceof InvalidClientError)
        throw new OAuthError(
          'invalid_client',
          error.message,
          request.viaBasic ? basicChallenge() : {},
        );
      if (error instanceof InvalidScopeError) throw new OAuthError('invalid_scope', error.message);
      throw error;
    }
    noStore(reply);
    // RFC 6749 §4.4.3: no refresh token; the client authenticates again instead.
    return {
      access_token: grant.accessToken,
      token_type: 'bearer' as const,
      expires_in: grant.expiresIn,
      scope: grant.scope,
    };
  },
});
