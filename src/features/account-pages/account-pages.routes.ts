import type { FastifyPluginAsync } from 'fastify';
import { type RenderedPage, htmlPage, pageResponses, sendPage } from '../../http/html-page.js';
import { EMAIL_LINK_PAGES } from '../email-tokens/email-tokens.service.js';

/*
 * The pages the links in our e-mails open, for teams without a front end of their own yet.
 * The token travels in the URL fragment, which browsers never send to a server: it stays out
 * of access logs and proxies, and a mail scanner that fetches the link spends nothing. The
 * page posts it to the API only when the person acts.
 */
// The script every e-mail-link page shares: read the token from the fragment, post to the API.
const COMMON_SCRIPT = `const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
const status = (text) => { document.getElementById('status').textContent = text; };
async function post(path, body) {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  return { ok: response.ok, data };
}`;

/**
 * Through the shared page kit: only this page's own script and style run (by hash), it talks
 * only to this origin, no form posts anywhere (the script posts), and nothing may frame it.
 */
function page(title: string, body: string, script: string): RenderedPage {
  return htmlPage({
    title,
    body: `${body}<p id="status" role="status"></p>`,
    script: `${COMMON_SCRIPT}\n${script}`,
    noForms: true,
  });
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
  for (const [path, rendered, summary] of [
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
      response: pageResponses({ 200: 'An HTML page' }),
    };
    app.get(path, { schema }, async (_request, reply) => sendPage(reply, rendered));
  }
};
