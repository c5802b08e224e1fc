import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { clientContext } from '../../http/client-context.js';
import { toAppError } from '../../http/problem.js';
import { TokenResponseSchema } from '../../http/schemas.js';
import { noStore, sendTokenResponse } from '../sessions/token-response.js';
import { basicChallenge } from './client-auth.js';
import { InvalidClientError, InvalidScopeError, OAuthError } from './oauth.errors.js';
import { type TokenRequest, grantFromAppError, parseTokenRequest } from './token-request.js';

// Describes the request in OpenAPI; the handler parses it itself (see attachValidation).
const TokenRequestSchema = Type.Object(
  {
    grant_type: Type.String({ enum: ['password', 'refresh_token', 'client_credentials'] }),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    refresh_token: Type.Optional(Type.String()),
    scope: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    client_secret: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const OAuthErrorSchema = Type.Object({ error: Type.String(), error_description: Type.String() });

function sendOAuthError(reply: FastifyReply, error: OAuthError) {
  return reply
    .status(error.status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...error.headers })
    .type('application/json')
    .send(JSON.stringify({ error: error.code, error_description: error.description }));
}

/** The RFC 6749 token endpoint: form-encoded or JSON, with its own error format. */
export const oauthRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (app, { deps }) => {
  const { sessions, serviceAccounts } = deps.services;

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, body);
    },
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof OAuthError) return sendOAuthError(reply, error);
    const appError = toAppError(error);
    if (appError?.code === 'rate_limited') {
      // RFC 6749 names no error for this; clients and libraries act on the 429 and Retry-After.
      return reply
        .status(429)
        .headers({ 'cache-control': 'no-store', ...appError.headers })
        .type('application/json')
        .send(JSON.stringify({ error: 'rate_limited', error_description: appError.message }));
    }
    if (appError?.code === 'service_unavailable') {
      return sendOAuthError(reply, new OAuthError('temporarily_unavailable', appError.message));
    }
    if (appError && appError.status < 500) {
      return sendOAuthError(
        reply,
        new OAuthError('invalid_request', appError.detail ?? appError.message),
      );
    }
    request.log.error({ err: error }, 'unhandled error at the token endpoint');
    return sendOAuthError(reply, new OAuthError('server_error', 'An unexpected error occurred'));
  });

  app.post(
    '/api/auth/token',
    {
      // Every failure here, the shared hooks' included, is answered by the handler above.
      config: { ownErrors: true },
      schema: {
        tags: ['oauth'],
        summary: 'OAuth 2.0 token endpoint (RFC 6749)',
        description:
          'grant_type=password (username, password), refresh_token (refresh_token) or ' +
          'client_credentials (client authentication by HTTP Basic or client_id/client_secret). ' +
          'Form-encoded or JSON. Errors are {error, error_description}.',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenRequestSchema,
        response: {
          200: TokenResponseSchema,
          400: OAuthErrorSchema,
          401: OAuthErrorSchema,
          403: Type.Object({ ...OAuthErrorSchema.properties, mfa_token: Type.String() }),
          429: OAuthErrorSchema,
          500: OAuthErrorSchema,
          503: OAuthErrorSchema,
        },
      },
      // The body is validated by parseTokenRequest, which speaks the OAuth error format.
      attachValidation: true,
    },
    async (request, reply) => {
      const body: unknown = request.body;
      const tokenRequest: TokenRequest = parseTokenRequest(body, request.headers.authorization);
      const client = clientContext(request);
      try {
        switch (tokenRequest.grantType) {
          case 'password': {
            const grant = await sessions.signIn(
              tokenRequest.username,
              tokenRequest.password,
              client,
            );
            if ('mfaToken' in grant) {
              // As Auth0 answers it: the client completes the sign-in at /api/auth/mfa/verify.
              noStore(reply);
              return reply.status(403).send({
                error: 'mfa_required',
                error_description: 'A second factor is required: POST /api/auth/mfa/verify',
                mfa_token: grant.mfaToken,
              });
            }
            return sendTokenResponse(reply, grant);
          }
          case 'refresh_token':
            return sendTokenResponse(
              reply,
              await sessions.refresh(tokenRequest.refreshToken, client),
            );
          case 'client_credentials': {
            const grant = await serviceAccounts.issueToken(
              tokenRequest.clientId,
              tokenRequest.clientSecret,
              tokenRequest.scope,
            );
            noStore(reply);
            // RFC 6749 §4.4.3: no refresh token; the client authenticates again instead.
            return {
              access_token: grant.accessToken,
              token_type: 'bearer' as const,
              expires_in: grant.expiresIn,
              scope: grant.scope,
            };
          }
        }
      } catch (error) {
        if (error instanceof InvalidClientError)
          throw new OAuthError(
            'invalid_client',
            error.message,
            tokenRequest.grantType === 'client_credentials' && tokenRequest.viaBasic
              ? basicChallenge()
              : {},
          );
        if (error instanceof InvalidScopeError)
          throw new OAuthError('invalid_scope', error.message);
        throw grantFromAppError(error);
      }
    },
  );
};
