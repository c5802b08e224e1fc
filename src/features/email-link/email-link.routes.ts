import cookie from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config/config.js';
import { clientContext } from '../../http/client-context.js';
import { problemResponses } from '../../http/schemas.js';
import { MfaRequiredResponse, SessionTokenResponse } from '../sessions/sessions.schemas.js';
import { sendMfaRequired, sendTokenResponse } from '../sessions/token-response.js';
import { readEmailLinkCookie } from './email-link-cookie.js';
import type { EmailLinkService } from './email-link.service.js';

const RequestBody = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 320 }) },
  { additionalProperties: false },
);
const VerifyBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
const Accepted = Type.Object({ status: Type.Literal('accepted') });

export interface EmailLinkRoutesOptions {
  emailLink: EmailLinkService;
  config: Pick<Config, 'emailLinkSignin'>;
}

/**
 * Sign-in by e-mail link through the API. Under EMAIL_LINK_SIGNIN=false (the default) the
 * routes are not registered at all: the addresses answer 404 like any unknown one, as dynamic
 * registration does when it is off.
 */
export const emailLinkRoutes: FastifyPluginAsyncTypebox<EmailLinkRoutesOptions> = async (
  app,
  { emailLink, config },
) => {
  if (!config.emailLinkSignin) return;
  // Only to read the binding of a link asked for at /login (verify with that browser's nonce).
  await app.register(cookie);

  app.post(
    '/api/auth/email-link/request',
    {
      schema: {
        tags: ['sessions'],
        summary: 'E-mail a single-use sign-in link (202 whether or not the account exists)',
        description:
          'The link opens /account/email-signin#token=… and lives 15 minutes; a newer link ' +
          'spends the older ones. The token in it goes to POST /api/auth/email-link/verify.',
        body: RequestBody,
        response: { 202: Accepted, ...problemResponses('validation_failed', 'rate_limited') },
      },
    },
    async (request, reply) => {
      await emailLink.request(request.body.email, clientContext(request));
      return reply.status(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/api/auth/email-link/verify',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Sign in with the token of an e-mail sign-in link (single use)',
        description:
          'Answers as POST /api/auth/signin: the token response, or for an account with MFA ' +
          '`{"mfa_required": true, "mfa_token", "factors"}` for POST /api/auth/mfa/verify. ' +
          'Opening the link proves the address: it is marked verified. A link asked for at ' +
          '/login works only in the browser that asked for it (its hyperion_email_link cookie).',
        body: VerifyBody,
        response: {
          200: Type.Union([SessionTokenResponse, MfaRequiredResponse]),
          ...problemResponses(
            'validation_failed',
            'invalid_token',
            'account_disabled',
            'rate_limited',
          ),
        },
      },
    },
    async (request, reply) => {
      const grant = await emailLink.verify(
        request.body.token,
        readEmailLinkCookie(request)?.nonce,
        clientContext(request),
      );
      if ('mfaToken' in grant) return sendMfaRequired(reply, grant);
      return sendTokenResponse(reply, grant);
    },
  );
};
