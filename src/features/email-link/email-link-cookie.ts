import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The cookie that binds an e-mail sign-in link to the browser that asked for it at /login: a
 * random nonce (its SHA-256 is stored with the token), so a link forwarded, intercepted or
 * opened by someone else's browser signs no one in. It also names the pending authorization
 * request, so that the link's page may let its form end at that client's redirect URI
 * (`form-action`); the request the sign-in actually continues is the one sealed with the
 * token. HttpOnly (no script reads it); SameSite=Lax, like the browser session's cookie, so it
 * rides along when the person opens the link from their mail (a cross-site navigation), while
 * staying off cross-site posts, frames and subresources.
 */
export const EMAIL_LINK_COOKIE = 'hyperion_email_link';

const NONCE_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const REQUEST_SHAPE = /^[A-Za-z0-9_-]{1,128}$/;

export interface EmailLinkCookie {
  nonce: string;
  requestId: string | undefined;
}

export function setEmailLinkCookie(
  reply: FastifyReply,
  value: EmailLinkCookie,
  options: { secure: boolean; maxAgeSeconds: number },
): void {
  const text =
    value.requestId !== undefined && REQUEST_SHAPE.test(value.requestId)
      ? `${value.nonce}.${value.requestId}`
      : value.nonce;
  reply.setCookie(EMAIL_LINK_COOKIE, text, {
    httpOnly: true,
    sameSite: 'lax',
    secure: options.secure,
    path: '/',
    maxAge: options.maxAgeSeconds,
  });
}

/** The browser's binding, if it holds a well-formed one. Needs @fastify/cookie on the instance. */
export function readEmailLinkCookie(request: FastifyRequest): EmailLinkCookie | undefined {
  const text = request.cookies[EMAIL_LINK_COOKIE];
  if (text === undefined) return undefined;
  const [nonce = '', requestId, ...rest] = text.split('.');
  if (!NONCE_SHAPE.test(nonce) || rest.length > 0) return undefined;
  if (requestId !== undefined && !REQUEST_SHAPE.test(requestId)) return undefined;
  return { nonce, requestId };
}

export function clearEmailLinkCookie(reply: FastifyReply, secure: boolean): void {
  reply.clearCookie(EMAIL_LINK_COOKIE, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
}
