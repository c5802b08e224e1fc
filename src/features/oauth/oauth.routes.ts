import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { clientContext } from '../../http/client-context.js';
import { acceptFormBodies } from '../../http/strict-text.js';
import { toAppError } from '../../http/problem.js';
import { TokenResponseSchema } from '../sessions/sessions.schemas.js';
import type { GrantServices } from './grants/grant.js';
import { MfaRequiredSchema } from './grants/password.grant.js';
import { OAUTH_ERROR_RESPONSES, OAuthError } from './oauth.errors.js';
import { TOKEN_REQUEST_DESCRIPTION, TokenRequestSchema } from './oauth.schemas.js';
import { parseTokenRequest } from './token-request.js';

export function sendOAuthError(reply: FastifyReply, error: OAuthError, status = error.status) {
  return reply
    .status(status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...error.headers })
    .type('application/json')
    .send(JSON.stringify({ error: error.code, error_description: error.description }));
}

/**
 * The conventions of the OAuth endpoints (token, revocation, introspection), for every route
 * of the plugin it is called in: form-encoded bodies read strictly as UTF-8, and every
 * failure answered as RFC 6749's `{error, error_description}`.
 */
export function useOAuthFormat(app: FastifyInstance): void {
  acceptFormBodies(app);
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
    if (appError?.code === 'payload_too_large') {
      // The body never reached a grant: HTTP's own 413 tells proxies and generic clients what
      // went wrong (as the 429 does), and the body stays in the OAuth format.
      const description = appError.detail ?? appError.message;
      return sendOAuthError(reply, new OAuthError('invalid_request', description), 413);
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
}

/** The RFC 6749 token endpoint: form-encoded or JSON, with its own error format. */
export const oauthRoutes: FastifyPluginAsyncTypebox<{ services: GrantServices }> = async (
  app,
  { services },
) => {
  useOAuthFormat(app);

  app.post(
    '/api/auth/token',
    {
      // Every failure here, the shared hooks' included, is answered by the handler above.
      config: { ownErrors: true },
      schema: {
        tags: ['oauth'],
        summary: 'OAuth 2.0 token endpoint (RFC 6749)',
        description: TOKEN_REQUEST_DESCRIPTION,
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenRequestSchema,
        response: {
          200: TokenResponseSchema,
          ...OAUTH_ERROR_RESPONSES,
          403: MfaRequiredSchema,
        },
      },
      // The body is validated by parseTokenRequest, which speaks the OAuth error format.
      attachValidation: true,
    },
    async (request, reply) => {
      // Whatever arrived: the schema above only documents it (attachValidation).
      const body: unknown = request.body;
      const issue = parseTokenRequest(body, request.headers.authorization);
      return issue({ services, client: clientContext(request), reply });
    },
  );
};
