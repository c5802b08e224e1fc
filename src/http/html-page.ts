import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/**
 * The one way to render a server page (the hosted sign-in pages, the e-mail-link pages): a
 * plain HTML document with one inline style and at most one inline script, both allowed by
 * hash, and a Content-Security-Policy that allows nothing else.
 */
export interface PageInput {
  title: string;
  /** Trusted HTML: every value from outside must have gone through `escapeHtml`. */
  body: string;
  /** An inline script, when the page cannot work without one (prefer none). */
  script?: string;
  /**
   * Where a form of this page may end up after redirects, besides this origin: Chromium
   * applies `form-action` to every redirect that follows a POST, so the sign-in form that ends
   * at an app's redirect URI must name that app's origin (see `formActionSource`).
   */
  formTargets?: readonly string[];
  /** The page has no form at all: `form-action 'none'`. */
  noForms?: boolean;
}

export interface RenderedPage {
  html: string;
  csp: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text (or an attribute value in double quotes) that cannot break out of where it is put. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}' +
  'button,input{font:inherit;padding:.5rem;margin:.25rem 0;width:100%;box-sizing:border-box}' +
  'label{display:block;margin-top:.75rem}' +
  '[role=alert]{color:#a00;font-weight:600}' +
  ':focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}' +
  '.actions{display:flex;gap:.5rem}' +
  // A code the person compares with another screen (the device's) stays on one line.
  '.code{white-space:nowrap;font-family:ui-monospace,monospace;letter-spacing:.05em}';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const STYLE_HASH = sha256(STYLE);

/**
 * The CSP source a redirect target's origin needs in `form-action`: `https://app.example`,
 * or `com.example.app:` for a native app's private-use scheme. Undefined for anything that is
 * not a URL, so nothing from outside can inject a directive (a URL's origin and scheme hold
 * neither spaces nor semicolons).
 */
export function formActionSource(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : undefined;
}

/**
 * Only this page's own inline style (and script) apply, by hash; nothing loads from anywhere;
 * forms post only here (or end at the named redirect targets); nothing may frame the page (no
 * clickjacking of an "Allow" button) and no <base> can redirect its relative URLs.
 */
function contentSecurityPolicy(input: PageInput): string {
  const targets = (input.formTargets ?? []).flatMap((uri) => formActionSource(uri) ?? []);
  return [
    "default-src 'none'",
    input.script === undefined ? undefined : `script-src ${sha256(input.script)}`,
    `style-src ${STYLE_HASH}`,
    input.script === undefined ? undefined : "connect-src 'self'",
    input.noForms ? "form-action 'none'" : ["form-action 'self'", ...new Set(targets)].join(' '),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ]
    .filter((directive) => directive !== undefined)
    .join('; ');
}

export function htmlPage(input: PageInput): RenderedPage {
  const title = escapeHtml(input.title);
  const script = input.script === undefined ? '' : `\n<script>${input.script}</script>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${STYLE}</style>
</head><body><main><h1>${title}</h1>
${input.body}
</main>${script}</body></html>`;
  return { html, csp: contentSecurityPolicy(input) };
}

/**
 * Sends a page: never cached (it may show who is signed in, or carry a CSRF token), its own
 * CSP replacing the API's, and a referrer policy under which our own forms still send an
 * `Origin` (under `no-referrer` a browser sends `Origin: null`, which the CSRF check refuses)
 * while no other site ever sees our URLs.
 */
export function sendPage(reply: FastifyReply, page: RenderedPage, status = 200): FastifyReply {
  return reply
    .status(status)
    .header('cache-control', 'no-store')
    .header('content-security-policy', page.csp)
    .header('referrer-policy', 'same-origin')
    .type('text/html; charset=utf-8')
    .send(page.html);
}

/**
 * A redirect with a short page naming its target (a client that does not follow redirects
 * still learns where to go), so every answer of a page route is text/html.
 */
export function sendRedirect(reply: FastifyReply, location: string, status: 302 | 303 = 303) {
  const link = escapeHtml(location);
  reply.header('location', location);
  return sendPage(
    reply,
    htmlPage({
      title: 'Redirecting',
      body: `<p><a href="${link}">Continue</a></p>`,
      noForms: true,
    }),
    status,
  );
}

/** OpenAPI response entries for a page route: every status it answers, each an HTML page. */
export function pageResponses(
  statuses: Readonly<Record<number, string>>,
): Record<number, { description: string; type: 'string' }> {
  const responses: Record<number, { description: string; type: 'string' }> = {};
  for (const [status, description] of Object.entries(statuses))
    responses[Number(status)] = { description, type: 'string' };
  return responses;
}
