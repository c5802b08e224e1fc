import cookie from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';
import { requireAuth } from '../../http/authenticate.js';
import { clientContext } from '../../http/client-context.js';
import { problemResponses } from '../../http/schemas.js';
import { SessionTokenResponse } from '../sessions/sessions.schemas.js';
import { wantsCookie } from '../sessions/refresh-cookie.js';
import { noStore, sendTokenResponse } from '../sessions/token-response.js';
import type { PasskeysService } from './passkeys.service.js';
import {
  CreationOptionsSchema,
  PasskeyList,
  PasskeyParams,
  PasskeySchema,
  RegisterOptionsBody,
  RegisterVerifyBody,
  RenameBody,
  SignInOptionsBody,
  SignInOptionsSchema,
  SignInVerifyBody,
  toAuthenticationResponse,
  toPasskeyView,
  toRegistrationResponse,
} from './passkeys.schemas.js';

const TAGS = ['passkeys'];

export const passkeysRoutes: FastifyPluginAsyncTypebox<{
  passkeys: PasskeysService;
  config: Pick<Config, 'refreshTokenTtl'>;
}> = async (app, { passkeys, config }) => {
  // Cookie mode at sign-in sets the refresh cookie, as the sessions plugin does.
  await app.register(cookie);
  app.post(
    '/api/auth/passkeys/register/options',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Start registering a passkey: options for navigator.credentials.create()',
        description:
          'The challenge is single-use and lives 5 minutes. `name` names the passkey unless ' +
          'the verify call gives one. The user’s passkeys are excluded.',
        body: RegisterOptionsBody,
        response: {
          200: CreationOptionsSchema,
          ...problemResponses('validation_failed', 'unauthorized'),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      // An empty body parses as none.
      return passkeys.registrationOptions(requireAuth(request).userId, request.body?.name);
    },
  );

  app.post(
    '/api/auth/passkeys/register/verify',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: "Finish registering a passkey with the browser's RegistrationResponseJSON",
        description:
          'Answers a live registration challenge of the caller (the one its clientDataJSON ' +
          'names). A passkey turns MFA on: a password sign-in then asks for a second factor.',
        body: RegisterVerifyBody,
        response: {
          201: PasskeySchema,
          ...problemResponses('validation_failed', 'unauthorized', 'conflict'),
        },
      },
    },
    async (request, reply) => {
      const passkey = await passkeys.register(
        requireAuth(request).userId,
        toRegistrationResponse(request.body.response),
        request.body.name,
        clientContext(request),
      );
      return reply.status(201).send(toPasskeyView(passkey));
    },
  );

  app.get(
    '/api/auth/passkeys',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: "The caller's passkeys",
        response: { 200: PasskeyList, ...problemResponses('unauthorized') },
      },
    },
    async (request) => ({
      items: (await passkeys.list(requireAuth(request).userId)).map(toPasskeyView),
    }),
  );

  app.patch(
    '/api/auth/passkeys/:id',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Rename a passkey',
        params: PasskeyParams,
        body: RenameBody,
        response: {
          200: PasskeySchema,
          ...problemResponses('validation_failed', 'unauthorized', 'not_found'),
        },
      },
    },
    async (request) =>
      toPasskeyView(
        await passkeys.rename(
          requireAuth(request).userId,
          request.params.id,
          request.body.name,
          clientContext(request),
        ),
      ),
  );

  app.delete(
    '/api/auth/passkeys/:id',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Remove a passkey',
        description: '409 when it is the last way to sign in (no password and no other passkey).',
        params: PasskeyParams,
        response: {
          204: { type: 'null', description: 'Removed' },
          ...problemResponses('validation_failed', 'unauthorized', 'not_found', 'conflict'),
        },
      },
    },
    async (request, reply) => {
      await passkeys.remove(requireAuth(request).userId, request.params.id, clientContext(request));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/auth/passkeys/signin/options',
    {
      schema: {
        tags: TAGS,
        summary: 'Options for navigator.credentials.get(), with the challenge_id to answer with',
        description:
          '`{}`: usernameless (empty allowCredentials). `{email}`: that account’s passkeys; the ' +
          'same shape whether or not it exists. `{mfa_token}`: the second step of a password ' +
          'sign-in (answer at POST /api/auth/mfa/verify). Single-use, 5 minutes.',
        body: SignInOptionsBody,
        response: {
          200: SignInOptionsSchema,
          ...problemResponses('validation_failed', 'unauthorized'),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      // An empty body parses as none: usernameless, as `{}`.
      const { email, mfa_token: mfaToken } = request.body ?? {};
      if (email !== undefined && mfaToken !== undefined)
        throw new AppError('validation_failed', 'Give at most one of email and mfa_token', [
          { field: 'mfa_token', message: 'not with email' },
        ]);
      return passkeys.signInOptions(
        mfaToken !== undefined ? { mfaToken } : email !== undefined ? { email } : {},
      );
    },
  );

  app.post(
    '/api/auth/passkeys/signin/verify',
    {
      schema: {
        tags: TAGS,
        summary: 'Sign in with a passkey: the token response, as a password sign-in gives',
        description:
          'Anything wrong (unknown passkey, spent or expired challenge, another origin or RP ' +
          'id, a bad signature, no user verification when required) is 401 ' +
          '`invalid_credentials`, counted against the same limits as wrong passwords. ' +
          '`cookie: true` (or `X-Auth-Cookie: 1`) delivers the refresh token as a cookie, as ' +
          'at POST /api/auth/signin.',
        body: SignInVerifyBody,
        response: {
          200: SessionTokenResponse,
          ...problemResponses(
            'validation_failed',
            'invalid_credentials',
            'account_disabled',
            'email_not_verified',
            'rate_limited',
          ),
        },
      },
    },
    async (request, reply) =>
      sendTokenResponse(
        reply,
        await passkeys.signIn(
          request.body.challenge_id,
          toAuthenticationResponse(request.body.response),
          clientContext(request),
        ),
        wantsCookie(request, request.body.cookie)
          ? { maxAgeSeconds: config.refreshTokenTtl }
          : undefined,
      ),
  );
};
