import { Type } from 'typebox';
import { TokenExchangeError } from '../../oidc/token-exchange.service.js';
import { TOKEN_EXCHANGE_GRANT } from '../../oidc/oidc.types.js';
import { noStore } from '../../sessions/token-response.js';
import { authenticateClient } from '../client-auth.js';
import { OAuthError } from '../oauth.errors.js';
import { MAX_PARAM_LENGTH, type TokenParams, requiredParam } from '../token-params.js';
import { defineGrant } from './grant.js';

/** RFC 8693 §3: the one token type we take and give (our access tokens are JWTs). */
export const ACCESS_TOKEN_TYPE_URI = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE_URI = 'urn:ietf:params:oauth:token-type:jwt';

/**
 * The target: `resource` (RFC 8707) and/or `audience` (RFC 8693 §2.1), each naming a
 * registered protected API by its identifier; both, only if they name the same one.
 */
function readTarget(params: TokenParams): string {
  const resource = params.get('resource') || undefined;
  const audience = params.get('audience') || undefined;
  if (resource === undefined && audience === undefined)
    throw new OAuthError('invalid_request', 'Parameter resource (or audience) is required');
  if (resource !== undefined && audience !== undefined && resource !== audience)
    throw new OAuthError(
      'invalid_target',
      'resource and audience name different targets; a token is for one protected API',
    );
  const target = (resource ?? audience)!;
  if (target.length > MAX_PARAM_LENGTH)
    throw new OAuthError('invalid_request', 'The resource is too long');
  return target;
}

/**
 * RFC 8693: a confidential client that an admin allowed this grant exchanges a user's access
 * token for a narrower one for one registered protected API, naming itself in `act`. The
 * rules are TokenExchangeService's; this reads the request.
 */
export const tokenExchangeGrant = defineGrant({
  type: TOKEN_EXCHANGE_GRANT,
  describe:
    'subject_token, subject_token_type (access_token), resource or audience, scope?, requested_token_type?; confidential client by HTTP Basic or client_secret',
  params: {
    subject_token: Type.String(),
    subject_token_type: Type.String(),
    resource: Type.String(),
    audience: Type.String(),
    requested_token_type: Type.String(),
  },
  parse(params, authorization) {
    const subjectToken = requiredParam(params, 'subject_token');
    const subjectTokenType = requiredParam(params, 'subject_token_type');
    if (subjectTokenType !== ACCESS_TOKEN_TYPE_URI)
      throw new OAuthError(
        'invalid_request',
        `subject_token_type must be ${ACCESS_TOKEN_TYPE_URI}: only this issuer's access tokens are exchanged`,
      );
    const requested = params.get('requested_token_type') || undefined;
    if (
      requested !== undefined &&
      requested !== ACCESS_TOKEN_TYPE_URI &&
      requested !== JWT_TYPE_URI
    )
      throw new OAuthError(
        'invalid_request',
        `requested_token_type may only be ${ACCESS_TOKEN_TYPE_URI} (or ${JWT_TYPE_URI})`,
      );
    // Delegation by a second token is not supported: the actor is the authenticated client.
    if (params.has('actor_token') || params.has('actor_token_type'))
      throw new OAuthError(
        'invalid_request',
        'actor_token is not supported; the authenticated client is the actor',
      );
    const scope = params.get('scope') || undefined;
    return {
      subjectToken,
      resource: readTarget(params),
      scopes: scope === undefined ? undefined : [...new Set(scope.split(' ').filter(Boolean))],
      params,
      authorization,
    };
  },
  async issue(request, { services, client, reply }) {
    const oauthClient = await authenticateClient(
      services.oauthClients,
      request.params,
      request.authorization,
      TOKEN_EXCHANGE_GRANT,
    );
    // A public client proves nothing about who it is, so it could not be named as the actor.
    if (oauthClient.type !== 'confidential')
      throw new OAuthError('unauthorized_client', 'Token exchange needs a confidential client');
    try {
      const exchanged = await services.tokenExchange.exchange(
        {
          client: oauthClient,
          subjectToken: request.subjectToken,
          resource: request.resource,
          scopes: request.scopes?.length ? request.scopes : undefined,
        },
        client,
      );
      noStore(reply);
      // RFC 8693 §2.2.1; no refresh token: the client exchanges again.
      return {
        access_token: exchanged.accessToken,
        issued_token_type: ACCESS_TOKEN_TYPE_URI,
        token_type: 'bearer' as const,
        expires_in: exchanged.expiresIn,
        scope: exchanged.scope,
      };
    } catch (error) {
      if (error instanceof TokenExchangeError) throw new OAuthError(error.code, error.message);
      throw error;
    }
  },
});
