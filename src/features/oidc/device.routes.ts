import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config/config.js';
import { clientContext } from '../../http/client-context.js';
import {
  FORM_CSRF_FIELD,
  assertFormCsrf,
  formCsrfOptions,
  formCsrfToken,
} from '../../http/form-csrf.js';
import { sendPage, sendRedirect } from '../../http/html-page.js';
import { readBrowserCookie } from './browser-cookie.js';
import type { DeviceService } from './device.service.js';
import { FORM, pageSchema, preparePagePlugin, readForm } from './page-routes.js';
import { deviceCodePage, deviceConfirmPage, messagePage } from './pages.js';
import { deviceReturnPath } from './return-path.js';

export interface DeviceRoutesOptions {
  devices: Pick<DeviceService, 'signedIn' | 'lookUp' | 'answer'>;
  config: Pick<Config, 'publicUrl'>;
}

const WRONG_CODE =
  'That code is wrong or has expired. Check the code on your device, or start again there.';

/** What is echoed back into the form: only what could be a code, and never long. */
function echo(typed: string | undefined): string | undefined {
  return typed !== undefined && typed.length <= 64 ? typed : undefined;
}

/**
 * RFC 8628's verification pages: /device (the code, typed or prefilled from
 * verification_uri_complete) and /device/confirm (Allow or Deny). Signed in first, through
 * /login and back here.
 */
export const deviceRoutes: FastifyPluginAsyncTypebox<DeviceRoutesOptions> = async (
  app,
  { devices, config },
) => {
  await preparePagePlugin(app);
  const csrf = formCsrfOptions(config.publicUrl);

  const toLogin = (reply: FastifyReply, userCode: string | undefined) =>
    sendRedirect(reply, `/login?next=${encodeURIComponent(deviceReturnPath(echo(userCode)))}`, 303);

  app.get(
    '/device',
    {
      schema: pageSchema(
        'Device sign-in: the code the device shows (RFC 8628)',
        { 200: 'The code form', 303: 'Not signed in: to /login, then back here' },
        {
          querystring: Type.Object({
            user_code: Type.Optional(
              Type.String({ maxLength: 64, description: 'Prefills the form' }),
            ),
          }),
        },
      ),
    },
    async (request, reply) => {
      const userCode = request.query.user_code;
      if (!(await devices.signedIn(readBrowserCookie(request)))) return toLogin(reply, userCode);
      const page = deviceCodePage({
        csrf: formCsrfToken(request, reply, csrf),
        ...(userCode === undefined ? {} : { userCode }),
      });
      return sendPage(reply, page);
    },
  );

  app.post(
    '/device',
    {
      schema: pageSchema(
        'Device sign-in: check the code',
        {
          200: 'The device to allow or deny',
          303: 'Not signed in: to /login, then back here',
        },
        {
          ...FORM,
          body: Type.Object({ [FORM_CSRF_FIELD]: Type.String(), user_code: Type.String() }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const form = readForm(request.body);
      // Before anything else: a forged post must not even count as a guess.
      assertFormCsrf(request, form.get(FORM_CSRF_FIELD), csrf);
      const typed = form.get('user_code') ?? '';
      if (!(await devices.signedIn(readBrowserCookie(request)))) return toLogin(reply, typed);
      // Counted per address (429 page beyond the limit) unless the code is a live one.
      const found = await devices.lookUp(typed, clientContext(request));
      const token = formCsrfToken(request, reply, csrf);
      if (!found) {
        const again = deviceCodePage({
          csrf: token,
          error: WRONG_CODE,
          ...(echo(typed) === undefined ? {} : { userCode: typed }),
        });
        return sendPage(reply, again, 400);
      }
      return sendPage(reply, deviceConfirmPage({ csrf: token, ...found }));
    },
  );

  app.post(
    '/device/confirm',
    {
      schema: pageSchema(
        'Device sign-in: allow or deny the device',
        {
          200: 'Allowed or denied: the device learns it at its next poll',
          303: 'Not signed in: to /login, then back to /device',
        },
        {
          ...FORM,
          body: Type.Object({
            [FORM_CSRF_FIELD]: Type.String(),
            user_code: Type.String(),
            decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
          }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const form = readForm(request.body);
      // A forged post must not approve a device, nor count against anyone's budget.
      assertFormCsrf(request, form.get(FORM_CSRF_FIELD), csrf);
      const typed = form.get('user_code') ?? '';
      const decision = form.get('decision');
      const session = await devices.signedIn(readBrowserCookie(request));
      if (!session) return toLogin(reply, typed);
      if (decision !== 'allow' && decision !== 'deny') {
        const page = messagePage('Something went wrong', 'Choose Allow or Deny.', true);
        return sendPage(reply, page, 400);
      }
      const answer = await devices.answer(
        typed,
        session,
        decision === 'allow',
        clientContext(request),
      );
      if (answer === 'gone') {
        const again = deviceCodePage({
          csrf: formCsrfToken(request, reply, csrf),
          error: WRONG_CODE,
        });
        return sendPage(reply, again, 400);
      }
      const page =
        answer === 'approved'
          ? messagePage(
              'Device connected',
              'Your device is signing in now. You can close this page and go back to it.',
            )
          : messagePage(
              'Device not connected',
              'You denied the request. Your device will not be signed in.',
            );
      return sendPage(reply, page);
    },
  );
};
