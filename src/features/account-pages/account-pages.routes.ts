import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { EMAIL_LINK_PAGES } from '../email-tokens/email-tokens.service.js';

/**
 * The pages the links in our e-mails open, for teams without a front end of their own yet.
 * The token travels in the URL fragment, which browsers never send to a server: it stays out
 * of access logs and proxies, and a mail scanner that fetches the link spends nothing. The
 * page posts it to the API only when the person acts.
 */
function page(title: string, body: string, script: string): { html: string; csp: string } {
  const html = pageHtml(title, body, script);
  return { html, csp: contentSecurityPolicy(html) };
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Only this page's own inline script and style run (by hash), it talks only to this origin,
 * and nothing may frame it: an injected script or a clickjacking frame gets nowhere.
 */
function contentSecurityPolicy(html: string): string {
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
  return [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "connect-src 'self'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function pageHtml(title: string, body: string, script: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}
button,input{font:inherit;padding:.5rem;margin:.25rem 0;width:100%;box-sizing:border-box}#status{margin-top:1rem}</style>
</head><body><h1>${title}</h1>${body}<p id="status" role="status"></p>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
const status = (text) => { document.getElementById('status').textContent = text; };
async function post(path, body) {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  return { ok: response.ok, data };
}
${script}
</script></body></html>`;
}

const VERIFY_PAGE = page(
  'Verify your e-mail address',
  '<button id="go" type="button">Verify my address</button>',
  `document.getElementById('go').addEventListener('click', async () => {
  const { ok, data } = await post('/api/auth/email/verify', { token });
  status(ok ? 'Your address is verified. You can close this page.' : (data.detail || 'This link is spent or expired.'));
});`,
);

const RESET_PAGE = page(
  'Choose a new password',
  `<form id="form"><label>New password <input id="password" type="password" autocomplete="new-password" required minlength="8" maxlength="128"></label>
<button type="submit">Set password</button></form>`,
  `document.getElementById('form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const { ok, data } = await post('/api/auth/password/reset', { token, password: document.getElementById('password').value });
  const reasons = (data.errors || []).map((e) => e.field + ' ' + e.message).join('; ');
  status(ok ? 'Your password is changed; sign in with it.' : [data.detail || 'This link is spent or expired.', reasons].filter(Boolean).join(': '));
});`,
);

export const accountPagesRoutes: FastifyPluginAsync = async (app) => {
  for (const [path, { html, csp }, summary] of [
    [
      EMAIL_LINK_PAGES.verify_email,
      VERIFY_PAGE,
      'The page a verification e-mail links to (#token=…)',
    ],
    [
      EMAIL_LINK_PAGES.reset_password,
      RESET_PAGE,
      'The page a password-reset e-mail links to (#token=…)',
    ],
  ] as const) {
    const schema = {
      tags: ['pages'],
      summary,
      produces: ['text/html'],
      response: { 200: { description: 'An HTML page', type: 'string' } },
    };
    app.get(path, { schema }, async (_request, reply) =>
      reply
        .header('cache-control', 'no-store')
        .header('content-security-policy', csp)
        .type('text/html; charset=utf-8')
        .send(html),
    );
  }
};
