import cookie from '@fastify/cookie';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';
import { requireAuth } from '../../http/authenticate.js';
import { clientContext } from '../../http/client-context.js';
import { problemResponses } from '../../http/schemas.js';
import { PageQuery } from '../../lib/schemas.js';
import { decodeCursor } from '../../lib/cursor.js';
import {
  CSRF_COOKIE,
  REFRESH_COOKIE,
  assertCookieRequestIsOurs,
  clearRefreshCookies,
  wantsCookie,
} from './refresh-cookie.js';
import {
  RefreshBody,
  SessionIdParams,
  SessionList,
  MfaRequiredResponse,
  SessionTokenResponse,
  SignInBody,
  SignOutBody,
} from './sessions.schemas.js';
import type { RefreshService } from './refresh.service.js';
import type { SessionsService } from './sessions.service.js';
import type { SignInService } from './signin.service.js';
import { sendMfaRequired, sendTokenResponse } from './token-response.js';

export interface SessionsRoutesOptions {
  sessions: SessionsService;
  signIn: SignInService;
  refresh: RefreshService;
  /** The refresh cookie's lifetime, and the origins a cookie-mode request may come from. */
  config: Pick<Config, 'refreshTokenTtl' | 'publicUrl' | 'corsOrigins'>;
}

export const sessionsRoutes: FastifyPluginAsyncTypebox<SessionsRoutesOptions> = async (
  app,
  { sessions, signIn, refresh, config },
) => {
  await app.register(cookie);
  const cookieOptions = (csrfToken?: string) => ({
    maxAgeSeconds: config.refreshTokenTtl,
    csrfToken,
  });

  app.post(
    '/api/auth/signin',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Sign in with e-mail and password',
        description:
          'For an account with MFA the answer is `{"mfa_required": true, "mfa_token", "factors"}`: ' +
          'send the token with a code of one of those factors to POST /api/auth/mfa/verify ' +
          'within 5 minutes.',
        body: SignInBody,
        response: {
          200: Type.Union([SessionTokenResponse, MfaRequiredResponse]),
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
    async (request, reply) => {
      const { email, password } = request.body;
      const grant = await signIn.signIn(email, password, clientContext(request));
      if ('mfaToken' in grant) return sendMfaRequired(reply, grant);
      return sendTokenResponse(
        reply,
        grant,
        wantsCookie(request, request.body.cookie) ? cookieOptions() : undefined,
      );
    },
  );

  app.post(
    '/api/auth/refresh',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Exchange a refresh token for a new pair (the old one is spent)',
        description:
          'The refresh token comes in the body, or — for browsers in cookie mode — from the ' +
          'hyperion_refresh cookie, with X-CSRF-Token repeating the hyperion_csrf cookie.',
        body: RefreshBody,
        response: {
          200: SessionTokenResponse,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request, reply) => {
      const fromBody = request.body?.refresh_token;
      const fromCookie = fromBody ? undefined : request.cookies[REFRESH_COOKIE];
      if (!fromBody && !fromCookie) {
        throw new AppError('validation_failed', 'A refresh token is required', [
          { field: 'refresh_token', message: 'is required' },
        ]);
      }
      if (fromCookie) assertCookieRequestIsOurs(request, config);
      const grant = await refresh.refresh((fromBody ?? fromCookie)!, clientContext(request));
      const cookieMode = fromCookie !== undefined || wantsCookie(request, request.body?.cookie);
      return sendTokenResponse(
        reply,
        grant,
        cookieMode ? cookieOptions(request.cookies[CSRF_COOKIE]) : undefined,
      );
    },
  );

  app.post(
    '/api/auth/signout',
    {
      config: { auth: 'optional' },
      schema: {
        tags: ['sessions'],
        summary: 'Sign out of this session, or of every session with {"all": true}',
        description:
          'With a bearer token; or, for a browser in cookie mode, with the hyperion_refresh ' +
          'cookie and X-CSRF-Token repeating the hyperion_csrf cookie.',
        body: SignOutBody,
        response: {
          204: { type: 'null' },
          ...problemResponses('unauthorized', 'forbidden'),
        },
      },
    },
    async (request, reply) => {
      const all = request.body?.all === true;
      const client = clientContext(request);
      if (request.auth) {
        await sessions.signOut(request.auth.userId, request.auth.sessionId, all, client);
      } else {
        // A browser in cookie mode whose access token is gone signs out with its cookie.
        const refreshToken = request.cookies[REFRESH_COOKIE];
        if (!refreshToken) {
          throw new AppError('unauthorized', 'A bearer token or the refresh cookie is required');
        }
        assertCookieRequestIsOurs(request, config);
        await sessions.signOutWithRefreshToken(refreshToken, all, client);
      }
      clearRefreshCookies(reply);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/auth/sessions',
    {
      config: { auth: true },
      schema: {
        tags: ['sessions'],
        summary: "The signed-in user's live sessions, newest first",
        querystring: PageQuery,
        response: { 200: SessionList, ...problemResponses('unauthorized', 'validation_failed') },
      },
    },
    async (request) => {
      const auth = requireAuth(request);
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      return sessions.listSessions(
        auth.userId,
        auth.sessionId,
        after ? { limit, after } : { limit },
      );
    },
  );

  app.delete(
    '/api/auth/sessions/:id',
    {
      config: { auth: true },
      schema: {
        tags: ['sessions'],
        summary: 'End one of your sessions',
        params: SessionIdParams,
        response: { 204: { type: 'null' }, ...problemResponses('unauthorized', 'not_found') },
      },
    },
    async (request, reply) => {
      const auth = requireAuth(request);
      await sessions.revokeOwnSession(auth.userId, request.params.id, clientContext(request));
      return reply.status(204).send(null);
    },
  );
};
