import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';

/**
 * CSRF protection for the forms of server pages (synchronizer token, double-submit style): a
 * random token per browser in an HttpOnly, SameSite=Strict cookie, repeated in a hidden field
 * of every form. Another site can make a browser post a form to us, but it can neither read
 * the cookie nor the page that holds the field, so it cannot repeat the token; SameSite=Strict
 * keeps the cookie off any request another site starts. Needs @fastify/cookie on the instance.
 */
export const FORM_CSRF_COOKIE = 'hyperion_form_csrf';
export const FORM_CSRF_FIELD = 'csrf_token';

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export interface FormCsrfOptions {
  /** Our origin (PUBLIC_URL's): the only `Origin` a form post may come from. */
  origin: string;
  /** Secure cookie: PUBLIC_URL is https. */
  secure: boolean;
}

export function formCsrfOptions(publicUrl: string): FormCsrfOptions {
  const url = new URL(publicUrl);
  return { origin: url.origin, secure: url.protocol === 'https:' };
}

/**
 * The token to put in this page's forms: the browser's own when it sent one (so two open tabs
 * keep working), else a new one, set as the cookie.
 */
export function formCsrfToken(
  request: FastifyRequest,
  reply: FastifyReply,
  options: FormCsrfOptions,
): string {
  const sent = request.cookies[FORM_CSRF_COOKIE];
  if (sent !== undefined && TOKEN_SHAPE.test(sent)) return sent;
  const token = randomBytes(32).toString('base64url');
  // A session cookie (no Max-Age): it lives as long as the browser, not longer.
  reply.setCookie(FORM_CSRF_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure: options.secure,
    path: '/',
  });
  return token;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Refuses (403 `forbidden`) a form post that is not our own page's: the field must repeat the
 * cookie (compared in constant time, so its timing tells nothing about the token), and an
 * `Origin`, when the browser sends one, must be ours — `null` included, which a sandboxed
 * frame or a privacy redirect sends and which proves nothing.
 */
export function assertFormCsrf(
  request: FastifyRequest,
  field: string | undefined,
  options: FormCsrfOptions,
): void {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== options.origin)
    throw new AppError('forbidden', 'The form was not sent from this site');
  const cookie = request.cookies[FORM_CSRF_COOKIE];
  if (!cookie || !field || !TOKEN_SHAPE.test(cookie) || !sameText(cookie, field))
    throw new AppError(
      'forbidden',
      'The form has expired or was not sent from this site; reload the page and try again',
    );
}
