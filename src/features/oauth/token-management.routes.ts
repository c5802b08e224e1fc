import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { clientContext } from '../../http/client-context.js';
import type { ClientRegistry } from '../oidc/oidc.ports.js';
import type { TokenStatusService } from '../oidc/token-status.service.js';
import { noStore } from '../sessions/token-response.js';
import { authenticateClient } from './client-auth.js';
import { OAUTH_ERROR_RESPONSES, OAuthError } from './oauth.errors.js';
import { useOAuthFormat } from './oauth.routes.js';
import { readParams, requiredParam } from './token-params.js';

const TokenRequest = Type.Object(
  {
    token: Type.String(),
    token_type_hint: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    client_secret: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const IntrospectionResponse = Type.Object({
  active: Type.Boolean(),
  sub: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  aud: Type.Optional(Type.Array(Type.String())),
  iss: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.String()),
  sid: Type.Optional(Type.String()),
  jti: Type.Optional(Type.String()),
});

const ERRORS = OAUTH_ERROR_RESPONSES;

export interface TokenManagementRoutesOptions {
  oauthClients: Pick<ClientRegistry, 'authenticateClient'>;
  tokenStatus: Pick<TokenStatusService, 'revoke' | 'introspect'>;
}

/** RFC 7009 revocation and RFC 7662 introspection, in the token endpoint's formats. */
export const tokenManagementRoutes: FastifyPluginAsyncTypebox<
  TokenManagementRoutesOptions
> = async (app, { oauthClients, tokenStatus }) => {
  useOAuthFormat(app);

  app.post(
    '/oauth/revoke',
    {
      config: { ownErrors: true },
      schema: {
        tags: ['oauth'],
        summary: 'Token revocation (RFC 7009)',
        description:
          'Revokes a refresh token or an access token issued to the authenticated client ' +
          '(its whole grant). Always 200 once the client is authenticated, whatever the token.',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenRequest,
        response: { 200: Type.Object({}), ...ERRORS },
      },
      attachValidation: true,
    },
    async (request, reply) => {
      const params = readParams(request.body);
      const token = requiredParam(params, 'token');
      const client = await authenticateClient(oauthClients, params, request.headers.authorization);
      await tokenStatus.revoke(token, client, clientContext(request));
      noStore(reply);
      return {};
    },
  );

  app.post(
    '/oauth/introspect',
    {
      config: { ownErrors: true },
      schema: {
        tags: ['oauth'],
        summary: 'Token introspection (RFC 7662)',
        description:
          'For confidential clients (resource servers): whether a token is active now, and its ' +
          'claims. A revoked session makes its tokens inactive at once.',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenRequest,
        response: { 200: IntrospectionResponse, ...ERRORS },
      },
      attachValidation: true,
    },
    async (request, reply) => {
      const params = readParams(request.body);
      const token = requiredParam(params, 'token');
      const client = await authenticateClient(oauthClients, params, request.headers.authorization);
      if (client.type !== 'confidential')
        throw new OAuthError('invalid_client', 'Introspection is for confidential clients');
      noStore(reply);
      return tokenStatus.introspect(token, client);
    },
  );
};
