import { Type } from 'typebox';
import { InvalidGrantError } from '../../oidc/code-exchange.service.js';
import { authenticateClient } from '../client-auth.js';
import { OAuthError } from '../oauth.errors.js';
import { requiredParam } from '../token-params.js';
import { clientGrantResponse } from './client-grant-response.js';
import { defineGrant } from './grant.js';

// RFC 7636 §4.1: 43 to 128 unreserved characters.
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636, required for every client): the code the browser
 * brought back from /oauth/authorize, for the client it was issued to.
 */
export const authorizationCodeGrant = defineGrant({
  type: 'authorization_code',
  describe:
    'code, redirect_uri, code_verifier; client by HTTP Basic, client_secret, or client_id alone (public clients)',
  params: {
    code: Type.String(),
    redirect_uri: Type.String(),
    code_verifier: Type.String(),
    resource: Type.String(),
  },
  parse(params, authorization) {
    const codeVerifier = requiredParam(params, 'code_verifier');
    if (!CODE_VERIFIER.test(codeVerifier))
      throw new OAuthError(
        'invalid_request',
        'code_verifier must be 43 to 128 unreserved characters',
      );
    return {
      code: requiredParam(params, 'code'),
      redirectUri: requiredParam(params, 'redirect_uri'),
      codeVerifier,
      resource: params.get('resource') || undefined,
      authentication: params,
      authorization,
    };
  },
  async issue(request, { services, client, reply }) {
    const oauthClient = await authenticateClient(
      services.oauthClients,
      request.authentication,
      request.authorization,
      'authorization_code',
    );
    try {
      const grant = await services.codes.exchange(
        {
          code: request.code,
          redirectUri: request.redirectUri,
          codeVerifier: request.codeVerifier,
          resource: request.resource,
          client: oauthClient,
        },
        client,
      );
      return clientGrantResponse(grant, reply);
    } catch (error) {
      if (error instanceof InvalidGrantError) throw new OAuthError(error.code, error.message);
      throw error;
    }
  },
});
