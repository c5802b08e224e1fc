import cookie from '@fastify/cookie';
import { Type } from 'typebox';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../errors.js';
import { pageResponses, sendPage, sendRedirect } from '../../http/html-page.js';
import { toAppError } from '../../http/problem.js';
import { acceptFormBodies } from '../../http/strict-text.js';
import {
  type AuthorizeOutcome,
  type AuthorizeService,
  EXPIRED_REQUEST,
  type PendingRequest,
} from './authorize.service.js';
import { messagePage } from './pages.js';

// What the hosted pages' route plugins share: the form parser, HTML error pages, the OpenAPI
// description of their answers, and how an authorization outcome becomes a response.

/** A page's POST takes a form (its schema's body is what the handler reads from it). */
export const FORM = { consumes: ['application/x-www-form-urlencoded'] };

/** A sign-in page's query: the pending authorization request, or a page of ours to return to. */
export const SignInPageQuery = Type.Object({
  request: Type.Optional(Type.String({ maxLength: 128, description: 'The pending request' })),
  next: Type.Optional(
    Type.String({
      maxLength: 256,
      description: 'A page of ours to go on to (/device or /account/passkeys)',
    }),
  ),
});

/** Every page route may answer these (the shared hooks' refusals included), as a page. */
const ERROR_STATUSES: Readonly<Record<number, string>> = {
  400: 'Error page: the request is not valid, or the authorization request is unknown or expired',
  401: 'Error page: wrong credentials or code',
  403: 'Error page: the form was not sent from this site (CSRF), or the account may not sign in',
  413: 'Error page: the body is too large',
  415: 'Error page: the body is not a form',
  429: 'Error page: too many attempts; try again after Retry-After seconds',
  500: 'Error page: an unexpected error',
  503: 'Error page: a dependency is down; try again shortly',
};

/** A page route's schema: its own statuses and the error pages, all text/html. */
export function pageSchema<Extra extends object = object>(
  summary: string,
  statuses: Readonly<Record<number, string>>,
  extra?: Extra,
) {
  return {
    tags: ['pages'],
    summary,
    produces: ['text/html'],
    response: pageResponses({ ...statuses, ...ERROR_STATUSES }),
    ...(extra as Extra),
  };
}

/**
 * Makes an encapsulated plugin a home for pages: cookies, forms read as raw text (the handler
 * parses them, so a repeated field is seen), nothing else (a JSON body is a 415), and every
 * error answered as an HTML page with the error's status and headers (Retry-After), never as
 * JSON a person would see raw.
 */
export async function preparePagePlugin(app: FastifyInstance): Promise<void> {
  await app.register(cookie);
  app.removeAllContentTypeParsers();
  acceptFormBodies(app);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (!appError) request.log.error({ err: error }, 'unhandled error on a page');
    const known = appError ?? new AppError('internal');
    if (known.headers) reply.headers(known.headers);
    const message =
      known.status >= 500
        ? 'Something went wrong on our side. Try again in a moment.'
        : known.code === 'validation_failed'
          ? 'The request is not valid.'
          : (known.detail ?? known.message);
    return sendPage(reply, messagePage('Something went wrong', message, true), known.status);
  });
}

/** The form fields of a page's POST, one value each; anything else is a 400. */
export function readForm(body: unknown): ReadonlyMap<string, string> {
  if (typeof body !== 'string') throw new AppError('validation_failed', 'Expected a form');
  const fields = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(body)) {
    if (fields.has(key)) throw new AppError('validation_failed', `The field ${key} is repeated`);
    if (value.length > 4096)
      throw new AppError('validation_failed', `The field ${key} is too long`);
    fields.set(key, value);
  }
  return fields;
}

/**
 * The authorization's next step as an answer: a redirect (302 after the GET of
 * /oauth/authorize, 303 after any POST so the browser follows with a GET), or the error page.
 */
export function sendOutcome(
  reply: FastifyReply,
  outcome: AuthorizeOutcome,
  status: 302 | 303 = 303,
): FastifyReply {
  switch (outcome.kind) {
    case 'redirect':
      return sendRedirect(reply, outcome.location, status);
    case 'login':
      return sendRedirect(reply, `/login?request=${encodeURIComponent(outcome.requestId)}`, 303);
    case 'consent':
      return sendRedirect(reply, `/consent?request=${encodeURIComponent(outcome.requestId)}`, 303);
    case 'error_page':
      return sendPage(reply, messagePage('Sign-in request refused', outcome.message, true), 400);
  }
}

/**
 * The pending authorization request a page continues (none asked: `{pending: undefined}`), or
 * undefined once a 400 page saying it expired has been sent.
 */
export async function pendingOrExpiredPage(
  authorize: Pick<AuthorizeService, 'pending'>,
  requestId: string | undefined,
  reply: FastifyReply,
): Promise<{ pending: PendingRequest | undefined } | undefined> {
  if (requestId === undefined) return { pending: undefined };
  const pending = await authorize.pending(requestId);
  if (pending) return { pending };
  await sendPage(reply, messagePage('Request expired', EXPIRED_REQUEST, true), 400);
  return undefined;
}
