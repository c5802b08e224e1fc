import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
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
import {
  type RenderedPage,
  escapeHtml,
  htmlPage,
  sendPage,
  sendRedirect,
} from '../../http/html-page.js';
import { clearEmailLinkCookie, readEmailLinkCookie } from '../email-link/email-link-cookie.js';
import type { BrowserLinkOutcome, EmailLinkService } from '../email-link/email-link.service.js';
import { EMAIL_LINK_PAGES } from '../email-tokens/email-tokens.service.js';
import type { AuthorizeService } from '../oidc/authorize.service.js';
import { browserCookieSecure, setBrowserCookie } from '../oidc/browser-cookie.js';
import { pageSchema, preparePagePlugin, readForm, sendOutcome } from '../oidc/page-routes.js';
import { messagePage, mfaPage, mfaPageFactors } from '../oidc/pages.js';
import { safeReturnPath } from '../oidc/return-path.js';

export interface EmailSigninPageRoutesOptions {
  emailLink: Pick<EmailLinkService, 'signInBrowser'>;
  authorize: Pick<AuthorizeService, 'pending' | 'continueAfterSignIn'>;
  config: Pick<Config, 'publicUrl' | 'emailLinkSignin'>;
}

// The token is in the fragment, which never reaches a server: the script copies it into the
// form, and takes it out of the address bar (and so of the history) at once.
const SCRIPT = `const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
history.replaceState(null, '', location.pathname);
document.getElementById('token').value = token;
if (!token) {
  document.getElementById('go').disabled = true;
  document.getElementById('status').textContent = 'This link is incomplete. Open the link from the e-mail again.';
}`;

/**
 * The page a sign-in e-mail links to (#token=…). Fetching it does nothing — a mail scanner that
 * follows every link signs no one in; the person confirms with the button, a form post under
 * the form CSRF token. The form may end at the client the sign-in continues to (`form-action`):
 * the browser that asked for the link names that request in its binding cookie.
 */
function confirmPage(csrf: string, formTarget: string | undefined): RenderedPage {
  return htmlPage({
    title: 'Sign in',
    formTargets: formTarget ? [formTarget] : [],
    body: `<p>Sign in with the link from your e-mail?</p>
<form method="post" action="${EMAIL_LINK_PAGES.email_signin}"><input type="hidden" name="${FORM_CSRF_FIELD}" value="${escapeHtml(csrf)}"><input type="hidden" id="token" name="token" value="">
<button id="go" type="submit" autofocus>Sign in</button>
</form>
<p id="status" role="status"></p>`,
    script: SCRIPT,
  });
}

const WRONG_BROWSER =
  'This sign-in link was asked for in another browser. Open the link in the browser where you asked for it; it still works there.';
const SPENT = 'This sign-in link is spent or expired. Ask for a new one.';

/**
 * GET and POST /account/email-signin (EMAIL_LINK_SIGNIN): the confirmation ends in a browser
 * session (the hosted /login's cookie), then continues the authorization request or return
 * path the link was asked for with, or goes to the second step at /login/mfa.
 */
export const emailSigninPageRoutes: FastifyPluginAsyncTypebox<
  EmailSigninPageRoutesOptions
> = async (app, { emailLink, authorize, config }) => {
  if (!config.emailLinkSignin) return;
  await preparePagePlugin(app);
  const csrf = formCsrfOptions(config.publicUrl);
  const secure = browserCookieSecure(config.publicUrl);

  app.get(
    EMAIL_LINK_PAGES.email_signin,
    {
      schema: pageSchema('The page a sign-in e-mail links to (#token=…)', {
        200: 'The confirmation form; nothing happens until it is sent',
      }),
    },
    async (request, reply) => {
      const requestId = readEmailLinkCookie(request)?.requestId;
      const pending = requestId === undefined ? undefined : await authorize.pending(requestId);
      return sendPage(
        reply,
        confirmPage(formCsrfToken(request, reply, csrf), pending?.params.redirect_uri),
      );
    },
  );

  async function answer(
    reply: FastifyReply,
    outcome: Exclude<BrowserLinkOutcome, { kind: 'wrong_browser' }>,
    csrfToken: () => string,
    client: ReturnType<typeof clientContext>,
  ) {
    const next = outcome.requestId === undefined ? safeReturnPath(outcome.next) : undefined;
    if (outcome.kind === 'mfa') {
      const pending =
        outcome.requestId === undefined ? undefined : await authorize.pending(outcome.requestId);
      const target = pending?.params.redirect_uri;
      const page = mfaPage({
        csrf: csrfToken(),
        mfaToken: outcome.mfaToken,
        factors: mfaPageFactors(outcome.factors.join(' ')),
        ...(outcome.requestId === undefined ? {} : { requestId: outcome.requestId }),
        ...(next === undefined ? {} : { next }),
        ...(target ? { formTarget: target } : {}),
      });
      return sendPage(reply, page);
    }
    setBrowserCookie(reply, outcome.browser, secure);
    if (outcome.requestId !== undefined) {
      const step = await authorize.continueAfterSignIn(
        outcome.requestId,
        outcome.browser.session,
        client,
      );
      return sendOutcome(reply, step, 303);
    }
    if (next) return sendRedirect(reply, next, 303);
    return sendPage(reply, messagePage('You are signed in', 'You can close this page.'));
  }

  app.post(
    EMAIL_LINK_PAGES.email_signin,
    {
      config: { rateLimit: 'auth' },
      schema: pageSchema(
        'Sign in with the e-mail link (the confirmation of its page)',
        {
          200: '"You are signed in", or the second-factor form',
          303: 'Signed in: on to the client, /consent or /device',
        },
        {
          consumes: ['application/x-www-form-urlencoded'],
          body: Type.Object({ [FORM_CSRF_FIELD]: Type.String(), token: Type.String() }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const form = readForm(request.body);
      assertFormCsrf(request, form.get(FORM_CSRF_FIELD), csrf);
      const token = form.get('token') ?? '';
      if (token === '' || token.length > 256)
        return sendPage(reply, messagePage('Sign-in link refused', SPENT, true), 400);
      const client = clientContext(request);
      let outcome: BrowserLinkOutcome;
      try {
        outcome = await emailLink.signInBrowser(token, readEmailLinkCookie(request)?.nonce, client);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        if (error.code === 'invalid_token')
          return sendPage(reply, messagePage('Sign-in link refused', SPENT, true), 400);
        if (error.code === 'account_disabled' || error.code === 'email_not_verified')
          return sendPage(
            reply,
            messagePage('Sign-in refused', error.detail ?? error.message, true),
            403,
          );
        throw error;
      }
      if (outcome.kind === 'wrong_browser')
        return sendPage(
          reply,
          messagePage('Open the link in the right browser', WRONG_BROWSER, true),
          403,
        );
      // The link is spent: its binding has no more use.
      clearEmailLinkCookie(reply, secure);
      return answer(reply, outcome, () => formCsrfToken(request, reply, csrf), client);
    },
  );
};
