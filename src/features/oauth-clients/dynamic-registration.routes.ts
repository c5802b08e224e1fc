import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply } from 'fastify';
import type { Config } from '../../config/config.js';
import { clientContext } from '../../http/client-context.js';
import { toAppError } from '../../http/problem.js';
import { OAuthErrorSchema } from '../oauth/oauth.errors.js';
import { noStore } from '../sessions/token-response.js';
import {
  RegistrationError,
  RegistrationRequestSchema,
  RegistrationResponseSchema,
} from './dynamic-registration.js';
import type { OAuthClientsService } from './oauth-clients.service.js';

function sendError(reply: FastifyReply, status: number, error: string, description: string) {
  return reply
    .status(status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
    .type('application/json')
    .send(JSON.stringify({ error, error_description: description }));
}

/** Whether an Ajv failure is about a redirect URI list (RFC 7591 has its own code for that). */
function aboutRedirectUris(error: FastifyError): boolean {
  return (error.validation ?? []).some(
    (issue) =>
      /^\/(redirect_uris|post_logout_redirect_uris)(\/|$)/.test(issue.instancePath) ||
      (issue.keyword === 'required' &&
        String((issue.params as { missingProperty?: unknown }).missingProperty) ===
          'redirect_uris'),
  );
}

/**
 * RFC 7591 dynamic client registration at POST /oauth/register. Under OAUTH_DYNAMIC_REGISTRATION
 * `off` the route is not registered at all: the address answers 404 as any unknown one does,
 * and neither discovery nor /openapi.json names it.
 */
export const dynamicRegistrationRoutes: FastifyPluginAsyncTypebox<{
  oauthClients: Pick<OAuthClientsService, 'register'>;
  config: Pick<Config, 'oauthDynamicRegistration'>;
}> = async (app, { oauthClients, config }) => {
  const policy = config.oauthDynamicRegistration;
  if (policy === 'off') return;

  // Every failure, the shared hooks' included, in RFC 7591 §3.2.2's format, which registering
  // clients (the MCP SDKs, openid-client) read; 429 and 503 keep their status.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof RegistrationError)
      return sendError(reply, 400, error.code, error.description);
    const appError = toAppError(error);
    if (appError?.code === 'rate_limited')
      return reply
        .status(429)
        .headers({ 'cache-control': 'no-store', ...appError.headers })
        .type('application/json')
        .send(JSON.stringify({ error: 'rate_limited', error_description: appError.message }));
    if (appError?.code === 'service_unavailable')
      return sendError(reply, 503, 'temporarily_unavailable', appError.message);
    if (appError?.code === 'payload_too_large')
      return sendError(reply, 413, 'invalid_client_metadata', appError.detail ?? appError.message);
    if (appError && appError.status < 500) {
      const fields = (appError.fieldErrors ?? []).map((f) => `${f.field} ${f.message}`).join('; ');
      const description = [appError.detail ?? appError.message, fields].filter(Boolean).join(': ');
      return sendError(
        reply,
        400,
        aboutRedirectUris(error) ? 'invalid_redirect_uri' : 'invalid_client_metadata',
        description,
      );
    }
    request.log.error({ err: error }, 'unhandled error at the registration endpoint');
    return sendError(reply, 500, 'server_error', 'An unexpected error occurred');
  });

  app.post(
    '/oauth/register',
    {
      // Anybody may call it: each address gets the sign-in endpoints' budget, so the registry
      // cannot be flooded from one place.
      config: { ownErrors: true, rateLimit: 'auth' },
      schema: {
        tags: ['oauth'],
        summary: 'Dynamic client registration (RFC 7591)',
        description:
          (policy === 'public'
            ? 'Registers a public client (token_endpoint_auth_method none). '
            : 'Registers a public client (none) or a confidential one (client_secret_basic, ' +
              'client_secret_post; its secret is in this answer only). ') +
          'Redirect URIs must be https, or http on a loopback address (any port). Only the ' +
          'code response type; unknown metadata is ignored. The client is never first-party: ' +
          'people are asked for consent. Errors follow RFC 7591 §3.2.2.',
        body: RegistrationRequestSchema,
        response: {
          201: RegistrationResponseSchema,
          400: OAuthErrorSchema,
          413: OAuthErrorSchema,
          429: OAuthErrorSchema,
          500: OAuthErrorSchema,
          503: OAuthErrorSchema,
        },
      },
    },
    async (request, reply) => {
      // The answer may carry the only copy of a secret: no browser or proxy may keep it.
      noStore(reply);
      return reply
        .status(201)
        .send(await oauthClients.register(request.body, policy, clientContext(request)));
    },
  );
};
