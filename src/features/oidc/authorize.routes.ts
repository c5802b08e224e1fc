import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config/config.js';
import { clientContext } from '../../http/client-context.js';
import {
  FORM_CSRF_FIELD,
  assertFormCsrf,
  formCsrfOptions,
  formCsrfToken,
} from '../../http/form-csrf.js';
import { sendPage } from '../../http/html-page.js';
import { readRawParams } from './authorize-params.js';
import { EXPIRED_REQUEST, type AuthorizeService } from './authorize.service.js';
import { readBrowserCookie } from './browser-cookie.js';
import { pageSchema, preparePagePlugin, readForm, sendOutcome } from './page-routes.js';
import { consentPage, messagePage } from './pages.js';

export interface AuthorizeRoutesOptions {
  authorize: AuthorizeService;
  config: Pick<Config, 'publicUrl'>;
}

const text = (description: string) => Type.Optional(Type.String({ description }));

/** The parameters, for the OpenAPI document only: the handler reads the raw query or form. */
const AuthorizeParams = Type.Object({
  client_id: Type.String({
    description:
      "A registered client's id, or the https URL of the client's metadata document (when OAUTH_CIMD is on)",
  }),
  redirect_uri: Type.String({ description: 'Exactly as registered' }),
  response_type: Type.String({ description: '`code`' }),
  scope: Type.String({ description: 'openid profile email phone offline_access' }),
  code_challenge: Type.String({ description: 'BASE64URL(SHA-256(code_verifier))' }),
  code_challenge_method: Type.String({ description: '`S256` (plain is refused)' }),
  state: text('Returned unchanged'),
  nonce: text('Copied into the ID token'),
  prompt: text('none, login, consent (space-separated)'),
  max_age: text('Seconds since the last sign-in beyond which the user signs in again'),
  login_hint: text('E-mail address to prefill'),
  id_token_hint: text('An ID token we issued: the user expected'),
  response_mode: text('`query` only'),
});

const AUTHORIZE_DESCRIPTION =
  'OAuth 2.1 authorization code with PKCE (S256) and OpenID Connect. Shows /login and /consent ' +
  'as needed, then redirects to redirect_uri with `code`, `state` and `iss`; errors redirect ' +
  'with `error`, `error_description`, `state` and `iss`, except an unknown client, a client ' +
  'metadata document that cannot be used (invalid_client) or an unregistered redirect_uri: a ' +
  '400 error page. Unknown parameters are ignored.';

const AUTHORIZE_STATUSES = {
  302: 'Redirect to the client (code or error)',
  303: 'Redirect to /login or /consent',
};

const RequestQuery = Type.Object({
  request: Type.Optional(Type.String({ maxLength: 128, description: 'The pending request' })),
});

/** GET and POST /oauth/authorize, and the consent page. */
export const authorizeRoutes: FastifyPluginAsyncTypebox<AuthorizeRoutesOptions> = async (
  app,
  { authorize, config },
) => {
  await preparePagePlugin(app);
  const csrf = formCsrfOptions(config.publicUrl);

  app.get(
    '/oauth/authorize',
    {
      schema: pageSchema('Authorization endpoint', AUTHORIZE_STATUSES, {
        description: AUTHORIZE_DESCRIPTION,
        querystring: AuthorizeParams,
      }),
      // Checked by the handler, which must redirect most errors to the client, not answer 400.
      attachValidation: true,
    },
    async (request, reply) => {
      const query = request.url.includes('?')
        ? request.url.slice(request.url.indexOf('?') + 1)
        : '';
      const outcome = await authorize.authorize(
        readRawParams(query),
        readBrowserCookie(request),
        clientContext(request),
      );
      return sendOutcome(reply, outcome, 302);
    },
  );

  // No CSRF token here: the form that posts to this endpoint is the client's, on its own site.
  // Nothing is granted by the post itself: the answer goes only to a registered redirect URI,
  // and the browser cookie (SameSite=Lax) does not ride on a cross-site post, so a post from
  // elsewhere meets the sign-in page rather than a live session.
  app.post(
    '/oauth/authorize',
    {
      schema: pageSchema(
        'Authorization endpoint (form post)',
        { 303: 'Redirect to the client, /login or /consent' },
        {
          description: AUTHORIZE_DESCRIPTION,
          consumes: ['application/x-www-form-urlencoded'],
          body: AuthorizeParams,
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const body = typeof request.body === 'string' ? request.body : '';
      const outcome = await authorize.authorize(
        readRawParams(body),
        readBrowserCookie(request),
        clientContext(request),
      );
      return sendOutcome(reply, outcome, 303);
    },
  );

  app.get(
    '/consent',
    {
      schema: pageSchema(
        'Consent page: the client and the scopes it asks for',
        { 200: 'The consent form' },
        { querystring: RequestQuery },
      ),
    },
    async (request, reply) => {
      const found = await authorize.forConsent(request.query.request, readBrowserCookie(request));
      if (!found || request.query.request === undefined)
        return sendPage(reply, messagePage('Request expired', EXPIRED_REQUEST, true), 400);
      const page = consentPage({
        csrf: formCsrfToken(request, reply, csrf),
        requestId: request.query.request,
        client: found.client,
        scopes: found.params.scopes,
        redirectUri: found.params.redirect_uri,
        resource: found.resource,
      });
      return sendPage(reply, page);
    },
  );

  app.post(
    '/consent',
    {
      schema: pageSchema(
        'Allow or deny the client',
        { 303: 'Redirect to the client: a code, or error=access_denied' },
        {
          consumes: ['application/x-www-form-urlencoded'],
          body: Type.Object({
            [FORM_CSRF_FIELD]: Type.String(),
            request: Type.String(),
            decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
          }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const form = readForm(request.body);
      // Before anything else: a forged post must not grant consent or even reveal anything.
      assertFormCsrf(request, form.get(FORM_CSRF_FIELD), csrf);
      const decision = form.get('decision');
      const requestId = form.get('request');
      if (!requestId || (decision !== 'allow' && decision !== 'deny'))
        return sendPage(reply, messagePage('Request expired', EXPIRED_REQUEST, true), 400);
      const outcome = await authorize.answerConsent(
        requestId,
        readBrowserCookie(request),
        decision === 'allow',
        clientContext(request),
      );
      return sendOutcome(reply, outcome, 303);
    },
  );
};
