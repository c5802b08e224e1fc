import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config/config.js';
import type { Clock } from '../../lib/clock.js';
import { AppError } from '../../errors.js';
import { clientContext } from '../../http/client-context.js';
import {
  FORM_CSRF_FIELD,
  assertFormCsrf,
  formCsrfOptions,
  formCsrfToken,
} from '../../http/form-csrf.js';
import { sendPage, sendRedirect } from '../../http/html-page.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { PasskeysService } from '../passkeys/passkeys.service.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { BrowserSession } from '../sessions/sessions.types.js';
import { readBrowserCookie } from './browser-cookie.js';
import { FORM, pageSchema, preparePagePlugin, readForm } from './page-routes.js';
import { readPasskeyRegistration } from './passkey-form.js';
import { passkeysPage } from './passkey-pages.js';
import { PASSKEYS_PAGE } from './return-path.js';

export interface AccountPasskeysRoutesOptions {
  passkeys: Pick<
    PasskeysService,
    'list' | 'registrationOptions' | 'register' | 'rename' | 'remove'
  >;
  sessions: Pick<SessionsService, 'findBrowserSession'>;
  accounts: Pick<AccountsService, 'getUser'>;
  config: Pick<Config, 'publicUrl'>;
  clock: Clock;
}

/**
 * Changing how an account signs in asks for a recent sign-in, as Keycloak's credential pages
 * do: a browser left signed in for days (or a stolen cookie) must not be enough to add an
 * attacker's passkey or remove the owner's.
 */
export const RECENT_SIGN_IN_SECONDS = 15 * 60;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The passkey a form names (a hidden field, not the path: a page's every refusal is a page). */
function passkeyIdOf(form: ReadonlyMap<string, string>): string {
  const id = form.get('passkey_id') ?? '';
  if (!UUID.test(id)) throw new AppError('not_found', 'No such passkey');
  return id;
}
const OPTIONS_PAGE_SCHEMA = pageSchema(
  "Registration options for the page's ceremony (PublicKeyCredentialCreationOptionsJSON)",
  { 401: 'Error page: not signed in recently' },
  { ...FORM, body: Type.Object({ [FORM_CSRF_FIELD]: Type.String() }) },
);

/**
 * /account/passkeys: the hosted page where a person signed in at /login adds, renames and
 * removes their passkeys, through the same PasskeysService as the API (same rules, same audit).
 */
export const accountPasskeysRoutes: FastifyPluginAsyncTypebox<
  AccountPasskeysRoutesOptions
> = async (app, { passkeys, sessions, accounts, config, clock }) => {
  await preparePagePlugin(app);
  const csrf = formCsrfOptions(config.publicUrl);
  const toLogin = (reply: FastifyReply) =>
    sendRedirect(reply, `/login?next=${encodeURIComponent(PASSKEYS_PAGE)}`, 303);

  /** The browser session, if it proved who it is recently enough to change the sign-in ways. */
  async function recentSession(request: FastifyRequest): Promise<BrowserSession | undefined> {
    const session = await sessions.findBrowserSession(readBrowserCookie(request));
    if (!session) return undefined;
    const age = (clock.now().getTime() - session.authTime.getTime()) / 1000;
    return age <= RECENT_SIGN_IN_SECONDS ? session : undefined;
  }

  /** A post's session: CSRF first (a forged post changes nothing), then a recent sign-in. */
  async function postingSession(request: FastifyRequest) {
    const form = readForm(request.body);
    assertFormCsrf(request, form.get(FORM_CSRF_FIELD), csrf);
    const session = await recentSession(request);
    if (!session)
      throw new AppError('unauthorized', 'Sign in again (at /login) to change your passkeys');
    return { form, session };
  }

  async function render(
    request: FastifyRequest,
    reply: FastifyReply,
    session: BrowserSession,
    outcome: { notice?: string; error?: string } = {},
    status = 200,
  ) {
    const [user, list] = await Promise.all([
      accounts.getUser(session.userId),
      passkeys.list(session.userId),
    ]);
    const page = passkeysPage({
      csrf: formCsrfToken(request, reply, csrf),
      email: user.email,
      passkeys: list,
      ...outcome,
    });
    return sendPage(reply, page, status);
  }

  /** The service's refusals a person can act on, shown on the page; anything else propagates. */
  async function attempt(
    request: FastifyRequest,
    reply: FastifyReply,
    session: BrowserSession,
    action: () => Promise<string>,
  ) {
    try {
      return await render(request, reply, session, { notice: await action() });
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500 || error.status === 429) throw error;
      return render(
        request,
        reply,
        session,
        { error: error.detail ?? error.message },
        error.status,
      );
    }
  }

  app.get(
    PASSKEYS_PAGE,
    {
      schema: pageSchema('Your passkeys: add, rename, remove', {
        200: 'The passkeys page',
        303: 'Not signed in (or not recently): to /login, then back here',
      }),
    },
    async (request, reply) => {
      const session = await recentSession(request);
      return session ? render(request, reply, session) : toLogin(reply);
    },
  );

  app.post(
    `${PASSKEYS_PAGE}/options`,
    {
      schema: {
        ...OPTIONS_PAGE_SCHEMA,
        // The options are JSON for the page's script; its refusals are pages like the others'.
        produces: ['application/json', 'text/html'],
        response: {
          ...OPTIONS_PAGE_SCHEMA.response,
          200: Type.Object(
            { challenge: Type.String(), rp: Type.Object({}, { additionalProperties: true }) },
            { additionalProperties: true },
          ),
        },
      },
      attachValidation: true,
    },
    async (request, reply) => {
      const { session } = await postingSession(request);
      const options = await passkeys.registrationOptions(session.userId);
      return reply.header('cache-control', 'no-store').send(options);
    },
  );

  app.post(
    PASSKEYS_PAGE,
    {
      config: { rateLimit: 'auth' },
      schema: pageSchema(
        'Add the passkey the browser just created',
        { 200: 'The passkeys page, saying whether it was added' },
        {
          ...FORM,
          body: Type.Object({
            [FORM_CSRF_FIELD]: Type.String(),
            passkey_response: Type.String(),
            name: Type.Optional(Type.String()),
          }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const { form, session } = await postingSession(request);
      const name = form.get('name')?.trim() || undefined;
      return attempt(request, reply, session, async () => {
        const response = readPasskeyRegistration(form);
        const added = await passkeys.register(
          session.userId,
          response,
          name,
          clientContext(request),
        );
        return `Passkey "${added.name}" added.`;
      });
    },
  );

  app.post(
    `${PASSKEYS_PAGE}/rename`,
    {
      schema: pageSchema(
        'Rename a passkey',
        { 200: 'The passkeys page', 404: 'Error page: no such passkey of yours' },
        {
          ...FORM,
          body: Type.Object({
            [FORM_CSRF_FIELD]: Type.String(),
            passkey_id: Type.String(),
            name: Type.String(),
          }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const { form, session } = await postingSession(request);
      const name = (form.get('name') ?? '').trim();
      return attempt(request, reply, session, async () => {
        if (name === '' || name.length > 100)
          throw new AppError('validation_failed', 'A name is 1 to 100 characters');
        const renamed = await passkeys.rename(
          session.userId,
          passkeyIdOf(form),
          name,
          clientContext(request),
        );
        return `Passkey renamed to "${renamed.name}".`;
      });
    },
  );

  app.post(
    `${PASSKEYS_PAGE}/remove`,
    {
      schema: pageSchema(
        'Remove a passkey',
        {
          200: 'The passkeys page',
          404: 'Error page: no such passkey of yours',
          409: 'The passkeys page: it is your last way to sign in',
        },
        {
          ...FORM,
          body: Type.Object({ [FORM_CSRF_FIELD]: Type.String(), passkey_id: Type.String() }),
        },
      ),
      attachValidation: true,
    },
    async (request, reply) => {
      const { form, session } = await postingSession(request);
      return attempt(request, reply, session, async () => {
        await passkeys.remove(session.userId, passkeyIdOf(form), clientContext(request));
        return 'Passkey removed.';
      });
    },
  );
};
