import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config/config.js';
import { generateOpaqueToken } from '../../crypto/opaque-token.js';
import { clientContext } from '../../http/client-context.js';
import {
  FORM_CSRF_FIELD,
  assertFormCsrf,
  formCsrfOptions,
  formCsrfToken,
} from '../../http/form-csrf.js';
import { sendPage } from '../../http/html-page.js';
import { setEmailLinkCookie } from '../email-link/email-link-cookie.js';
import { EMAIL_LINK_TTL_SECONDS, type EmailLinkService } from '../email-link/email-link.service.js';
import type { AuthorizeService } from './authorize.service.js';
import { browserCookieSecure } from './browser-cookie.js';
import {
  FORM,
  SignInPageQuery,
  pageSchema,
  pendingOrExpiredPage,
  preparePagePlugin,
  readForm,
} from './page-routes.js';
import { checkInboxPage, emailLinkRequestPage } from './pages.js';
import { safeReturnPath } from './return-path.js';

export interface EmailLinkPageRoutesOptions {
  emailLink: Pick<EmailLinkService, 'request'>;
  authorize: Pick<AuthorizeService, 'pending'>;
  config: Pick<Config, 'publicUrl' | 'emailLinkSignin'>;
}

/**
 * /login/email-link: "E-mail me a sign-in link" from /login. The link it sends is bound to
 * this browser (a nonce in an HttpOnly cookie, its hash with the token) and carries on with
 * the pending authorization request or return path once opened here. Not registered under
 * EMAIL_LINK_SIGNIN=false.
 */
export const emailLinkPageRoutes: FastifyPluginAsyncTypebox<EmailLinkPageRoutesOptions> = async (
  app,
  { emailLink, authorize, config },
) => {
  if (!config.emailLinkSignin) return;
  await preparePagePlugin(app);
  const csrf = formCsrfOptions(config.publicUrl);
  const secure = browserCookieSecure(config.publicUrl);

  const pendingOf = (requestId: string | undefined, reply: FastifyReply) =>
    pendingOrExpiredPage(authorize, requestId, reply);

  app.get(
    '/login/email-link',
    {
      schema: pageSchema(
        'Ask for a sign-in link by e-mail',
        { 200: 'The e-mail form' },
        { querystring: SignInPageQuery },
      ),
    },
    async (request, reply) => {
      const requestId = request.query.request;
      const found = await pendingOf(requestId, reply);
      if (!found) return reply;
      const next = requestId === undefined ? safeReturnPath(request.query.next) : undefined;
      const email = found.pending?.params.login_hint;
      return sendPage(
        reply,
        emailLinkRequestPage({
          csrf: formCsrfToken(request, reply, csrf),
          ...(requestId === undefined ? {} : { requestId }),
          ...(next === undefined ? {} : { next }),
          ...(found.pending ? { client: found.pending.client } : {}),
          ...(email ? { email } : {}),
        }),
      );
    },
  );

  app.post(
    '/login/email-link',
    {
      config: { rateLimit: 'auth' },
      schema: pageSchema(
        'Send a sign-in link, bound to this browser',
        { 200: '"Check your inbox" (the same whether or not the address has an account)' },
        {
          ...FORM,
          body: Type.Object({
            [FORM_CSRF_FIELD]: Type.String(),
            email: Type.String(),
            request: Type.Optional(Type.String()),
            next: Type.Optional(Type.String()),
          }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const form = readForm(request.body);
      assertFormCsrf(request, form.get(FORM_CSRF_FIELD), csrf);
      const requestId = form.get('request');
      const found = await pendingOf(requestId, reply);
      if (!found) return reply;
      const next = requestId === undefined ? safeReturnPath(form.get('next')) : undefined;
      const email = (form.get('email') ?? '').trim();
      if (email === '' || email.length > 320) {
        const page = emailLinkRequestPage({
          csrf: formCsrfToken(request, reply, csrf),
          error: 'Enter your e-mail address.',
          ...(requestId === undefined ? {} : { requestId }),
          ...(next === undefined ? {} : { next }),
          ...(found.pending ? { client: found.pending.client } : {}),
        });
        return sendPage(reply, page, 400);
      }
      const nonce = generateOpaqueToken();
      await emailLink.request(email, clientContext(request), { nonce, requestId, next });
      setEmailLinkCookie(
        reply,
        { nonce, requestId },
        { secure, maxAgeSeconds: EMAIL_LINK_TTL_SECONDS },
      );
      return sendPage(reply, checkInboxPage());
    },
  );
};
