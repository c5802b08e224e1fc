import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * `@simplewebauthn/browser`'s UMD bundle (it defines the global `SimpleWebAuthnBrowser`), read
 * once at start. A page that runs a WebAuthn ceremony inlines it ahead of its own script, so the
 * page's CSP still allows exactly one script, by hash, and nothing loads from anywhere else.
 * The package exports only its modules, so the bundle is found beside its CommonJS entry.
 */
function readBundle(): string {
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  return readFileSync(join(dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js'), 'utf8');
}

export const WEBAUTHN_BROWSER_SCRIPT = readBundle();

/**
 * The glue every ceremony page shares (after the bundle): post to this origin and read JSON,
 * and say what failed in the page's status line. A person who cancels the browser's dialog
 * (NotAllowedError) is told so plainly rather than shown the browser's wording.
 */
export const WEBAUTHN_PAGE_HELPERS = `const webauthn = SimpleWebAuthnBrowser;
const say = (text) => { const node = document.getElementById('passkey-status'); if (node) node.textContent = text; };
const ceremonyError = (error) => {
  if (error && error.name === 'ServerError') return error.message;
  if (error && error.name === 'NotAllowedError') return 'The passkey was not used (cancelled or timed out).';
  return 'This browser could not use a passkey: ' + ((error && error.message) || error);
};
async function postForJson(path, body) {
  const json = typeof body === 'object' && !(body instanceof URLSearchParams);
  const response = await fetch(path, { method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: json ? JSON.stringify(body) : body });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error((data.detail || data.title || 'The request failed') + ' (HTTP ' + response.status + '). Reload the page and try again.');
    error.name = 'ServerError';
    throw error;
  }
  return data;
}
// The page's passkey button: shown only where this browser can use passkeys; a press runs the
// ceremony, whose failure is said in the status line. False (after saying so) where it cannot.
function onPasskeyButton(run, unsupported) {
  if (!webauthn.browserSupportsWebAuthn()) { if (unsupported) say(unsupported); return false; }
  const button = document.getElementById('passkey-button');
  button.hidden = false;
  button.addEventListener('click', () => { say(''); run().catch((error) => say(ceremonyError(error))); });
  return true;
}
// Posts the ceremony's outcome with the passkey form (its fields named as the server reads them).
function submitPasskeyForm(fields, message) {
  const form = document.getElementById('passkey-form');
  for (const [name, value] of Object.entries(fields)) form.elements[name].value = value;
  say(message);
  form.submit();
}`;
