import { FORM_CSRF_FIELD } from '../../http/form-csrf.js';
import { type RenderedPage, escapeHtml, htmlPage } from '../../http/html-page.js';
import { WEBAUTHN_BROWSER_SCRIPT, WEBAUTHN_PAGE_HELPERS } from '../../http/webauthn-browser.js';

// /account/passkeys: a signed-in person's passkeys — add one (the browser ceremony), rename,
// remove. The same accessibility rules as the sign-in pages (pages.ts): one <h1>, a label for
// every field, plain forms, errors in role=alert and news in role=status.

export interface PasskeyListItem {
  id: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  backed_up: boolean;
}

export interface PasskeysPageInput {
  csrf: string;
  email: string;
  passkeys: readonly PasskeyListItem[];
  /** What the last action did ("Passkey added."), or what went wrong. */
  notice?: string;
  error?: string;
}

const day = (at: Date) => at.toISOString().slice(0, 10);

// The registration ceremony: options from this page's own endpoint (the form's CSRF token
// sent along, as with every post of ours), the browser's dialog, then the form posts the
// result with the name typed.
const REGISTER_SCRIPT = `${WEBAUTHN_BROWSER_SCRIPT}
${WEBAUTHN_PAGE_HELPERS}
onPasskeyButton(async () => {
  const csrf = document.getElementById('passkey-form').elements.${FORM_CSRF_FIELD}.value;
  const optionsJSON = await postForJson('/account/passkeys/options', new URLSearchParams({ ${FORM_CSRF_FIELD}: csrf }));
  const response = await webauthn.startRegistration({ optionsJSON });
  submitPasskeyForm({ passkey_response: JSON.stringify(response) }, 'Saving…');
}, 'This browser cannot create passkeys.');`;

function passkeyItem(passkey: PasskeyListItem, csrf: string): string {
  const id = escapeHtml(passkey.id);
  const lastUsed = passkey.last_used_at ? `last used ${day(passkey.last_used_at)}` : 'never used';
  const synced = passkey.backed_up ? ', synced' : '';
  const fields = `<input type="hidden" name="${FORM_CSRF_FIELD}" value="${escapeHtml(csrf)}"><input type="hidden" name="passkey_id" value="${id}">`;
  return `<li><strong>${escapeHtml(passkey.name)}</strong> (added ${day(passkey.created_at)}, ${lastUsed}${synced})
<form method="post" action="/account/passkeys/rename">${fields}
<label for="name-${id}">New name for ${escapeHtml(passkey.name)}</label>
<input id="name-${id}" name="name" type="text" required maxlength="100" value="${escapeHtml(passkey.name)}">
<button type="submit">Rename</button>
</form>
<form method="post" action="/account/passkeys/remove">${fields}
<button type="submit">Remove ${escapeHtml(passkey.name)}</button>
</form></li>`;
}

export function passkeysPage(input: PasskeysPageInput): RenderedPage {
  const list =
    input.passkeys.length === 0
      ? '<p>You have no passkeys yet.</p>'
      : `<ul>${input.passkeys.map((passkey) => passkeyItem(passkey, input.csrf)).join('\n')}</ul>`;
  const error = input.error ? `<p role="alert">${escapeHtml(input.error)}</p>` : '';
  const notice = input.notice ? `<p role="status">${escapeHtml(input.notice)}</p>` : '';
  return htmlPage({
    title: 'Your passkeys',
    body: `<p>Signed in as <strong>${escapeHtml(input.email)}</strong>. A passkey signs you in with your
fingerprint, face or screen lock instead of a password, and is asked for after your password.</p>
${error}${notice}${list}
<h2>Add a passkey</h2>
<form id="passkey-form" method="post" action="/account/passkeys">
<input type="hidden" name="${FORM_CSRF_FIELD}" value="${escapeHtml(input.csrf)}">
<input type="hidden" name="passkey_response" value="">
<label for="passkey-name">Name (optional, e.g. "Work laptop")</label>
<input id="passkey-name" name="name" type="text" maxlength="100" autofocus>
<button type="button" id="passkey-button" hidden>Add a passkey</button>
</form>
<p id="passkey-status" role="status"></p>`,
    script: REGISTER_SCRIPT,
  });
}
