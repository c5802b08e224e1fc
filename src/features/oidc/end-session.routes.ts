import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';
import { clientContext } from '../../http/client-context.js';
import {
  FORM_CSRF_FIELD,
  assertFormCsrf,
  formCsrfOptions,
  formCsrfToken,
} from '../../http/form-csrf.js';
import { sendPage, sendRedirect } from '../../http/html-page.js';
import { browserCookieSecure, clearBrowserCookie, readBrowserCookie } from './browser-cookie.js';
import type { EndSessionRequest, EndSessionService } from './end-session.service.js';
import type { HostedSignInService } from './hosted-signin.service.js';
import { pageSchema, preparePagePlugin, readForm } from './page-routes.js';
import { endSessionPage, messagePage } from './pages.js';

const PARAMS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state'] as const;
const MAX_LENGTH = 8192;

const LogoutQuery = Type.Object(
  {
    id_token_hint: Type.Optional(Type.String({ maxLength: MAX_LENGTH })),
    client_id: Type.Optional(Type.String({ maxLength: 256 })),
    post_logout_redirect_uri: Type.Optional(Type.String({ maxLength: 2048 })),
    state: Type.Optional(Type.String({ maxLength: 2048 })),
    logout_hint: Type.Optional(Type.String({ maxLength: 512 })),
    ui_locales: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: true },
);

export interface EndSessionRoutesOptions {
  endSession: Pick<EndSessionService, 'plan'>;
  /** The one way a browser is signed out (as at /logout). */
  hostedSignIn: Pick<HostedSignInService, 'signOut'>;
  config: Pick<Config, 'publicUrl'>;
}

function requestOf(fields: ReadonlyMap<string, string>): EndSessionRequest {
  const request: Record<string, string | undefined> = {};
  for (const name of PARAMS) {
    const value = fields.get(name) || undefined;
    if (value !== undefined && value.length > MAX_LENGTH)
      throw new AppError('validation_failed', `${name} is too long`);
    request[name] = value;
  }
  return {
    idTokenHint: request['id_token_hint'],
    clientId: request['client_id'],
    postLogoutRedirectUri: request['post_logout_redirect_uri'],
    state: request['state'],
  };
}

/** OpenID Connect RP-Initiated Logout 1.0: GET or POST /oauth/logout. */
export const endSessionRoutes: FastifyPluginAsyncTypebox<EndSessionRoutesOptions> = async (
  app,
  { endSession, hostedSignIn, config },
) => {
  await preparePagePlugin(app);
  const csrf = formCsrfOptions(config.publicUrl);
  const secure = browserCookieSecure(config.publicUrl);

  async function finish(request: FastifyRequest, reply: FastifyReply, redirectTo?: string) {
    await hostedSignIn.signOut(readBrowserCookie(request), clientContext(request));
    clearBrowserCookie(reply, secure);
    if (redirectTo) return sendRedirect(reply, redirectTo);
    return sendPage(reply, messagePage('You are signed out', 'You can close this page.'));
  }

  async function handle(
    request: FastifyRequest,
    reply: FastifyReply,
    fields: ReadonlyMap<string, string>,
  ) {
    const logout = requestOf(fields);
    const plan = await endSession.plan(logout, readBrowserCookie(request));
    if (fields.get('confirm') === 'yes') {
      // The confirmation form of this very page: ours only (CSRF), then sign out.
      assertFormCsrf(request, fields.get(FORM_CSRF_FIELD), csrf);
      return finish(request, reply, plan.redirectTo);
    }
    if (plan.confirmed) return finish(request, reply, plan.redirectTo);
    return sendPage(
      reply,
      endSessionPage({
        csrf: formCsrfToken(request, reply, csrf),
        client: plan.client,
        fields: {
          client_id: plan.client?.client_id,
          post_logout_redirect_uri: logout.postLogoutRedirectUri,
          state: logout.state,
        },
        formTarget: plan.redirectTo,
      }),
    );
  }

  const statuses = {
    200: 'Signed out, or a page asking to confirm',
    303: 'Signed out; on to the registered post_logout_redirect_uri (with state)',
  };
  app.get(
    '/oauth/logout',
    {
      schema: pageSchema('RP-initiated logout (OpenID Connect)', statuses, {
        querystring: LogoutQuery,
      }),
    },
    async (request, reply) =>
      handle(request, reply, new Map(Object.entries(request.query as Record<string, string>))),
  );
  app.post(
    '/oauth/logout',
    {
      schema: pageSchema('RP-initiated logout (OpenID Connect), as a form post', statuses, {
        consumes: ['application/x-www-form-urlencoded'],
        body: Type.Object(
          {
            ...LogoutQuery.properties,
            [FORM_CSRF_FIELD]: Type.Optional(Type.String()),
            confirm: Type.Optional(Type.String()),
          },
          { additionalProperties: true },
        ),
      }),
      attachValidation: true,
    },
    async (request, reply) => handle(request, reply, readForm(request.body)),
  );
};
