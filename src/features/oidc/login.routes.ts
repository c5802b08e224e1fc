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
import type { AuthorizeService, PendingRequest } from './authorize.service.js';
import {
  browserCookieSecure,
  clearBrowserCookie,
  readBrowserCookie,
  setBrowserCookie,
} from './browser-cookie.js';
import type { HostedSignInService, SignInStep } from './hosted-signin.service.js';
import {
  FORM,
  SignInPageQuery,
  pageSchema,
  pendingOrExpiredPage,
  preparePagePlugin,
  readForm,
  sendOutcome,
} from './page-routes.js';
import {
  emailLinkHref,
  loginPage,
  logoutPage,
  messagePage,
  mfaPage,
  mfaPageFactors,
} from './pages.js';
import { readPasskeyAssertion } from './passkey-form.js';
import { safeReturnPath } from './return-path.js';

export interface LoginRoutesOptions {
  hostedSignIn: HostedSignInService;
  authorize: Pick<AuthorizeService, 'pending'>;
  config: Pick<Config, 'publicUrl' | 'emailLinkSignin'>;
}

// One message for an unknown e-mail and a wrong password: the page must not tell which.
const WRONG_CREDENTIALS = 'The e-mail address or password is wrong.';
// One message for every refused passkey (unknown, removed, replayed, not verified).
const PASSKEY_REFUSED = 'That passkey was not accepted. Try again, or use another way to sign in.';

/** /login (with its second step at /login/mfa) and /logout: the browser session's pages. */
export const loginRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (
  app,
  { hostedSignIn, authorize, config },
) => {
  await preparePagePlugin(app);
  const csrf = formCsrfOptions(config.publicUrl);
  const secure = browserCookieSecure(config.publicUrl);

  const pendingOf = (requestId: string | undefined, reply: FastifyReply) =>
    pendingOrExpiredPage(authorize, requestId, reply);

  const targetOf = (pending: PendingRequest | undefined) => pending?.params.redirect_uri;

  /** "E-mail me a sign-in link" (EMAIL_LINK_SIGNIN), keeping the request or return path. */
  const emailLinkOf = (requestId: string | undefined, next: string | undefined) =>
    config.emailLinkSignin ? { emailLinkHref: emailLinkHref(requestId, next) } : {};

  /** /login again, after a refused sign-in: the error, the e-mail typed, the request kept. */
  function loginAgain(
    request: FastifyRequest,
    reply: FastifyReply,
    step: {
      requestId: string | undefined;
      pending: PendingRequest | undefined;
      next: string | undefined;
    },
    error: string,
    status: number,
    email?: string,
  ) {
    const { requestId, pending, next } = step;
    const target = targetOf(pending);
    const page = loginPage({
      csrf: formCsrfToken(request, reply, csrf),
      error,
      ...(email === undefined ? {} : { email }),
      ...(requestId === undefined ? {} : { requestId }),
      ...(next === undefined ? {} : { next }),
      ...(pending ? { client: pending.client } : {}),
      ...(target ? { formTarget: target } : {}),
      ...emailLinkOf(requestId, next),
    });
    return sendPage(reply, page, status);
  }

  /**
   * A first step's outcome as an answer, for every way of proving who one is at /login (a
   * password, a passkey): on to the second step or signed in; a wrong proof is /login again
   * with `wrong` (401), an account that may not sign in says why (403).
   */
  async function answerFirstStep(
    request: FastifyRequest,
    reply: FastifyReply,
    posted: NonNullable<Awaited<ReturnType<typeof readStepForm>>>,
    prove: () => Promise<SignInStep>,
    wrong: string,
    email?: string,
  ) {
    let step: SignInStep;
    try {
      step = await prove();
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      if (error.code === 'invalid_credentials' || error.code === 'validation_failed')
        return loginAgain(request, reply, posted, wrong, 401, email);
      if (error.code === 'account_disabled' || error.code === 'email_not_verified')
        return loginAgain(request, reply, posted, error.detail ?? error.message, 403, email);
      throw error;
    }
    return afterStep(request, reply, step, posted.requestId, posted.pending, posted.next);
  }

  /**
   * What both sign-in steps' posts start with: the form, checked against CSRF first (a forged
   * post must not even count as an attempt), and the pending request it continues; undefined
   * once a 400 page for a gone request has been sent.
   */
  async function readStepForm(request: FastifyRequest, reply: FastifyReply) {
    const form = readForm(request.body);
    assertFormCsrf(request, form.get(FORM_CSRF_FIELD), csrf);
    const requestId = form.get('request');
    const found = await pendingOf(requestId, reply);
    const next = requestId === undefined ? safeReturnPath(form.get('next')) : undefined;
    return found && { form, requestId, pending: found.pending, next };
  }

  function afterStep(
    request: FastifyRequest,
    reply: FastifyReply,
    step: SignInStep,
    requestId: string | undefined,
    pending: PendingRequest | undefined,
    next: string | undefined,
  ) {
    if (step.kind === 'mfa') {
      const page = mfaPage({
        csrf: formCsrfToken(request, reply, csrf),
        mfaToken: step.mfaToken,
        factors: mfaPageFactors(step.factors.join(' ')),
        ...(requestId === undefined ? {} : { requestId }),
        ...(next === undefined ? {} : { next }),
        ...(pending ? { formTarget: pending.params.redirect_uri } : {}),
      });
      return sendPage(reply, page);
    }
    setBrowserCookie(reply, step.browser, secure);
    if (step.next) return sendOutcome(reply, step.next, 303);
    if (next) return sendRedirect(reply, next, 303);
    return sendPage(reply, messagePage('You are signed in', 'You can close this page.'));
  }

  app.get(
    '/login',
    {
      schema: pageSchema(
        'Sign-in page',
        { 200: 'The sign-in form' },
        { querystring: SignInPageQuery },
      ),
    },
    async (request, reply) => {
      const found = await pendingOf(request.query.request, reply);
      if (!found) return reply;
      const { pending } = found;
      const target = targetOf(pending);
      const email = pending?.params.login_hint;
      const next = pending ? undefined : safeReturnPath(request.query.next);
      return sendPage(
        reply,
        loginPage({
          csrf: formCsrfToken(request, reply, csrf),
          ...(request.query.request === undefined ? {} : { requestId: request.query.request }),
          ...(next === undefined ? {} : { next }),
          ...(pending ? { client: pending.client } : {}),
          ...(target ? { formTarget: target } : {}),
          ...(email ? { email } : {}),
          ...emailLinkOf(request.query.request, next),
        }),
      );
    },
  );

  app.post(
    '/login',
    {
      // Counted per address like the API's sign-in; the per-account limits are the service's.
      config: { rateLimit: 'auth' },
      schema: pageSchema(
        'Sign in with e-mail and password',
        {
          200: 'The second-factor form, or "you are signed in"',
          303: 'Signed in: on to the client, /consent, /login or /device',
        },
        {
          ...FORM,
          body: Type.Object({
            [FORM_CSRF_FIELD]: Type.String(),
            email: Type.String(),
            password: Type.String(),
            request: Type.Optional(Type.String()),
            next: Type.Optional(Type.String()),
          }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const posted = await readStepForm(request, reply);
      if (!posted) return reply;
      const { form, requestId } = posted;
      const email = form.get('email') ?? '';
      const password = form.get('password') ?? '';
      if (email === '' || password === '')
        return loginAgain(
          request,
          reply,
          posted,
          'Enter your e-mail address and password.',
          400,
          email,
        );
      return answerFirstStep(
        request,
        reply,
        posted,
        () => hostedSignIn.password(email, password, requestId, clientContext(request)),
        WRONG_CREDENTIALS,
        email,
      );
    },
  );

  app.post(
    '/login/passkey',
    {
      // Counted per address like every sign-in; a refused passkey counts as a failure too.
      config: { rateLimit: 'auth' },
      schema: pageSchema(
        'Sign in with a passkey (the form the script of /login fills after the browser ceremony)',
        {
          200: '"You are signed in"',
          303: 'Signed in: on to the client, /consent, /login or /device',
        },
        {
          ...FORM,
          body: Type.Object({
            [FORM_CSRF_FIELD]: Type.String(),
            passkey_challenge_id: Type.String(),
            passkey_response: Type.String(),
            request: Type.Optional(Type.String()),
            next: Type.Optional(Type.String()),
          }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const posted = await readStepForm(request, reply);
      if (!posted) return reply;
      const assertion = readPasskeyAssertion(posted.form);
      if (assertion === undefined || assertion === 'malformed')
        return loginAgain(request, reply, posted, PASSKEY_REFUSED, 400);
      const { challenge_id, response } = assertion.passkey;
      return answerFirstStep(
        request,
        reply,
        posted,
        () =>
          hostedSignIn.passkey(challenge_id, response, posted.requestId, clientContext(request)),
        PASSKEY_REFUSED,
      );
    },
  );

  app.post(
    '/login/mfa',
    {
      config: { rateLimit: 'auth' },
      schema: pageSchema(
        'Second step of the sign-in: a TOTP or recovery code, or a passkey',
        {
          200: '"You are signed in"',
          303: 'Signed in: on to the client, /consent, /login or /device',
        },
        {
          ...FORM,
          body: Type.Object({
            [FORM_CSRF_FIELD]: Type.String(),
            mfa_token: Type.String(),
            code: Type.Optional(Type.String()),
            factors: Type.Optional(Type.String()),
            passkey_challenge_id: Type.Optional(Type.String()),
            passkey_response: Type.Optional(Type.String()),
            request: Type.Optional(Type.String()),
            next: Type.Optional(Type.String()),
          }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const posted = await readStepForm(request, reply);
      if (!posted) return reply;
      const { form, requestId, pending, next } = posted;
      const mfaToken = form.get('mfa_token') ?? '';
      const factors = mfaPageFactors(form.get('factors'));
      const assertion = readPasskeyAssertion(form);
      const again = (message: string, status: number) => {
        const target = targetOf(pending);
        const page = mfaPage({
          csrf: formCsrfToken(request, reply, csrf),
          mfaToken,
          factors,
          error: message,
          ...(requestId === undefined ? {} : { requestId }),
          ...(next === undefined ? {} : { next }),
          ...(target ? { formTarget: target } : {}),
        });
        return sendPage(reply, page, status);
      };
      if (assertion === 'malformed') return again(PASSKEY_REFUSED, 400);
      let step: SignInStep;
      try {
        step = await hostedSignIn.secondFactor(
          mfaToken,
          assertion ?? { code: form.get('code') ?? '' },
          requestId,
          clientContext(request),
        );
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        if (error.code === 'invalid_mfa_code')
          return again(
            assertion ? PASSKEY_REFUSED : 'The code is wrong. Try the current code from your app.',
            401,
          );
        if (error.code === 'unauthorized') {
          const page = messagePage(
            'Sign-in expired',
            'This sign-in took too long or was already completed. Sign in again.',
            true,
          );
          return sendPage(reply, page, 401);
        }
        throw error;
      }
      return afterStep(request, reply, step, requestId, pending, next);
    },
  );

  app.get(
    '/logout',
    { schema: pageSchema('Sign-out page', { 200: 'The sign-out form' }) },
    async (request, reply) => sendPage(reply, logoutPage(formCsrfToken(request, reply, csrf))),
  );

  app.post(
    '/logout',
    {
      schema: pageSchema(
        'Sign out of the browser session',
        { 200: '"You are signed out"' },
        { ...FORM, body: Type.Object({ [FORM_CSRF_FIELD]: Type.String() }) },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const form = readForm(request.body);
      // A forged sign-out is a nuisance attack; refused like every other form.
      assertFormCsrf(request, form.get(FORM_CSRF_FIELD), csrf);
      await hostedSignIn.signOut(readBrowserCookie(request), clientContext(request));
      clearBrowserCookie(reply, secure);
      return sendPage(reply, messagePage('You are signed out', 'You can close this page.'));
    },
  );
};
