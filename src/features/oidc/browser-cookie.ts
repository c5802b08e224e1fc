import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BrowserSignIn } from '../sessions/sessions.types.js';

/**
 * The browser session's cookie (the sign-in at /login, shared by every app that signs in
 * through us: SSO). HttpOnly: no script of any page can read it. SameSite=Lax, not Strict: an
 * app's link or redirect to /oauth/authorize is a cross-site top-level navigation, and the
 * cookie must ride along for the person to be recognised there (OIDC prompt=none needs it);
 * Lax still keeps it off cross-site posts, frames and subresource requests.
 */
export const BROWSER_COOKIE = 'hyperion_session';

export function browserCookieSecure(publicUrl: string): boolean {
  return new URL(publicUrl).protocol === 'https:';
}

export function readBrowserCookie(request: FastifyRequest): string | undefined {
  return request.cookies[BROWSER_COOKIE];
}

export function setBrowserCookie(reply: FastifyReply, signIn: BrowserSignIn, secure: boolean) {
  reply.setCookie(BROWSER_COOKIE, signIn.cookieToken, {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    maxAge: signIn.maxAgeSeconds,
  });
}

export function clearBrowserCookie(reply: FastifyReply, secure: boolean) {
  reply.clearCookie(BROWSER_COOKIE, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
}
