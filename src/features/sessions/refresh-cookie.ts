import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/config.js';
import { generateOpaqueToken } from '../../crypto/opaque-token.js';
import { AppError } from '../../errors.js';

export const REFRESH_COOKIE = 'hyperion_refresh';
export const CSRF_COOKIE = 'hyperion_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const COOKIE_PATH = '/api/auth';

/** A browser asked for the refresh token as a cookie (body `cookie: true` or `X-Auth-Cookie: 1`). */
export function wantsCookie(request: FastifyRequest, bodyFlag: boolean | undefined): boolean {
  return bodyFlag === true || request.headers['x-auth-cookie'] === '1';
}

/**
 * Sets the refresh token as an HttpOnly cookie that scripts cannot read, scoped to the
 * auth endpoints, plus a readable CSRF token for the double-submit check. Returns the
 * CSRF token so a client on another origin can learn it from the body too.
 */
export function setRefreshCookies(
  reply: FastifyReply,
  refreshToken: string,
  maxAgeSeconds: number,
  csrfToken?: string,
): string {
  const csrf = csrfToken ?? generateOpaqueToken();
  const common = { secure: true, sameSite: 'strict', maxAge: maxAgeSeconds } as const;
  reply.setCookie(REFRESH_COOKIE, refreshToken, { ...common, httpOnly: true, path: COOKIE_PATH });
  reply.setCookie(CSRF_COOKIE, csrf, { ...common, httpOnly: false, path: '/' });
  return csrf;
}

export function clearRefreshCookies(reply: FastifyReply): void {
  reply.clearCookie(REFRESH_COOKIE, {
    path: COOKIE_PATH,
    secure: true,
    httpOnly: true,
    sameSite: 'strict',
  });
  reply.clearCookie(CSRF_COOKIE, { path: '/', secure: true, sameSite: 'strict' });
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * A refresh token taken from a cookie is only honoured on a request a page of ours made:
 * the X-CSRF-Token header must repeat the CSRF cookie (another site can neither read the
 * cookie nor set the header), and an Origin, when sent, must be ours or in CORS_ORIGINS.
 */
export function assertCookieRequestIsOurs(
  request: FastifyRequest,
  config: Pick<Config, 'publicUrl' | 'corsOrigins'>,
): void {
  const origin = request.headers.origin;
  if (origin !== undefined) {
    const allowed = new Set([new URL(config.publicUrl).origin, ...config.corsOrigins]);
    if (!allowed.has(origin)) throw new AppError('forbidden', 'The request origin is not allowed');
  }
  const cookie = request.cookies[CSRF_COOKIE];
  const header = request.headers[CSRF_HEADER];
  if (!cookie || typeof header !== 'string' || !sameText(cookie, header)) {
    throw new AppError('forbidden', 'The X-CSRF-Token header must repeat the hyperion_csrf cookie');
  }
}
