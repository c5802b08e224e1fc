import { FORM_CSRF_FIELD } from '../../http/form-csrf.js';
import { type RenderedPage, escapeHtml, htmlPage } from '../../http/html-page.js';
import { WEBAUTHN_BROWSER_SCRIPT, WEBAUTHN_PAGE_HELPERS } from '../../http/webauthn-browser.js';
import { isLoopbackHost } from '../../lib/loopback.js';
import {
  OIDC_SCOPES,
  type OAuthClient,
  type ProtectedResource,
  isOidcScope,
} from './oidc.types.js';

// The hosted pages' HTML. Accessibility: one <h1> per page (the title), every field with its
// <label for>, autofocus on the first field to fill, the natural tab order (no tabindex), plain
// submit buttons (Enter submits), and errors in a role=alert paragraph the fields point at
// (aria-describedby), which a screen reader announces when the page loads.

const hidden = (name: string, value: string) =>
  `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

const csrfField = (csrf: string) => hidden(FORM_CSRF_FIELD, csrf);

const requestField = (requestId: string | undefined) =>
  requestId === undefined ? '' : hidden('request', requestId);

const nextField = (next: string | undefined) => (next === undefined ? '' : hidden('next', next));

const alert = (message: string | undefined) =>
  message === undefined ? '' : `<p id="error" role="alert">${escapeHtml(message)}</p>`;

const describedBy = (message: string | undefined) =>
  message === undefined ? '' : ' aria-describedby="error" aria-invalid="true"';

export interface LoginPageInput {
  csrf: string;
  requestId?: string;
  /** A page of ours to go on to once signed in (checked by return-path.ts). */
  next?: string;
  client?: OAuthClient;
  /** A redirect URI the form may end at (its origin goes into form-action). */
  formTarget?: string;
  email?: string;
  error?: string;
  /** Where "E-mail me a sign-in link" goes (EMAIL_LINK_SIGNIN on), this request kept. */
  emailLinkHref?: string;
}

/**
 * The passkey part of a page: a form whose fields the ceremony's script fills and then posts,
 * and the status line it reports in. The button stays hidden until the script has found that
 * this browser can use passkeys, so a page without WebAuthn (or without scripts) shows none.
 */
function passkeyForm(action: string, label: string, fields: string, autofocus = false): string {
  return `<form id="passkey-form" method="post" action="${action}">${fields}
<input type="hidden" name="passkey_challenge_id" value="">
<input type="hidden" name="passkey_response" value="">
<button type="button" id="passkey-button" hidden${autofocus ? ' autofocus' : ''}>${label}</button>
</form>
<p id="passkey-status" role="status"></p>`;
}

// /login: a passkey in the browser's autofill (conditional UI) as soon as the page loads, where
// the browser offers it, and the button for the others. An e-mail typed before the button is
// pressed narrows the request to that account's passkeys (the same answer for an unknown one).
const LOGIN_PASSKEY_SCRIPT = `${WEBAUTHN_BROWSER_SCRIPT}
${WEBAUTHN_PAGE_HELPERS}
async function signInWithPasskey(useBrowserAutofill) {
  const email = document.getElementById('email').value.trim();
  const body = !useBrowserAutofill && email ? { email } : {};
  const { challenge_id, ...optionsJSON } = await postForJson('/api/auth/passkeys/signin/options', body);
  const response = await webauthn.startAuthentication({ optionsJSON, useBrowserAutofill });
  submitPasskeyForm({ passkey_challenge_id: challenge_id, passkey_response: JSON.stringify(response) }, 'Signing in…');
}
if (onPasskeyButton(() => signInWithPasskey(false))) {
  webauthn.browserSupportsWebAuthnAutofill().then((supported) => {
    // An autofill request waits for the person; pressing the button replaces it (the library aborts it).
    if (supported) signInWithPasskey(true).catch(() => {});
  });
}`;

export function loginPage(input: LoginPageInput): RenderedPage {
  const email = input.email ?? '';
  const focusEmail = email === '' ? ' autofocus' : '';
  const focusPassword = email === '' ? '' : ' autofocus';
  const forClient = input.client
    ? `<p>to continue to <strong>${escapeHtml(input.client.name)}</strong></p>`
    : '';
  const carried = `${csrfField(input.csrf)}${requestField(input.requestId)}${nextField(input.next)}`;
  return htmlPage({
    title: 'Sign in',
    formTargets: input.formTarget ? [input.formTarget] : [],
    body: `${forClient}${alert(input.error)}
<form method="post" action="/login">${carried}
<label for="email">E-mail address</label>
<input id="email" name="email" type="email" autocomplete="username webauthn" required maxlength="320" value="${escapeHtml(email)}"${focusEmail}${describedBy(input.error)}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"${focusPassword}${describedBy(input.error)}>
<button type="submit">Sign in</button>
</form>
${passkeyForm('/login/passkey', 'Use a passkey', carried)}${emailLinkOffer(input.emailLinkHref)}
<p>No account yet, or forgot your password? Sign-up and password reset are in
<a href="/docs">the API documentation</a>.</p>`,
    script: LOGIN_PASSKEY_SCRIPT,
  });
}

/** The factors the second step can be answered with on this page, as the challenge listed them. */
export type MfaPageFactor = 'totp' | 'recovery_code' | 'passkey';

export interface MfaPageInput {
  csrf: string;
  requestId?: string;
  next?: string;
  formTarget?: string;
  mfaToken: string;
  /** What the user holds (the challenge's `factors`); a passkey adds its button. */
  factors: readonly MfaPageFactor[];
  error?: string;
}

/** Reads the `factors` field a second-step form carried back (display only: the proof decides). */
export function mfaPageFactors(listed: string | undefined): MfaPageFactor[] {
  const known: readonly MfaPageFactor[] = ['totp', 'recovery_code', 'passkey'];
  const factors = (listed ?? '')
    .split(' ')
    .filter((kind): kind is MfaPageFactor => known.includes(kind as MfaPageFactor));
  return factors.length > 0 ? factors : ['totp', 'recovery_code'];
}

// /login/mfa: the passkey as the second step; its options are bound to this sign-in's MFA token.
const MFA_PASSKEY_SCRIPT = `${WEBAUTHN_BROWSER_SCRIPT}
${WEBAUTHN_PAGE_HELPERS}
onPasskeyButton(async () => {
  const mfa_token = document.getElementById('passkey-form').elements.mfa_token.value;
  const { challenge_id, ...optionsJSON } = await postForJson('/api/auth/passkeys/signin/options', { mfa_token });
  const response = await webauthn.startAuthentication({ optionsJSON });
  submitPasskeyForm({ passkey_challenge_id: challenge_id, passkey_response: JSON.stringify(response) }, 'Signing in…');
}, 'This browser cannot use passkeys.');`;

export function mfaPage(input: MfaPageInput): RenderedPage {
  const carried = `${csrfField(input.csrf)}${requestField(input.requestId)}${nextField(input.next)}${hidden('mfa_token', input.mfaToken)}${hidden('factors', input.factors.join(' '))}`;
  const codes = input.factors.some((kind) => kind !== 'passkey');
  const passkey = input.factors.includes('passkey');
  const codeForm = codes
    ? `<form method="post" action="/login/mfa">${carried}
<label for="code">Code from your authenticator app, or a recovery code</label>
<input id="code" name="code" type="text" inputmode="text" autocomplete="one-time-code" required maxlength="64" autofocus${describedBy(input.error)}>
<button type="submit">Verify</button>
</form>`
    : '';
  return htmlPage({
    title: 'Two-step verification',
    formTargets: input.formTarget ? [input.formTarget] : [],
    body: `${alert(input.error)}
${codeForm}${passkey ? passkeyForm('/login/mfa', 'Use a passkey', carried, !codes) : ''}`,
    ...(passkey ? { script: MFA_PASSKEY_SCRIPT } : {}),
  });
}

export interface ConsentPageInput {
  csrf: string;
  requestId: string;
  client: OAuthClient;
  scopes: readonly string[];
  redirectUri: string;
  /** The protected API the token will be for (RFC 8707), when one was named. */
  resource?: ProtectedResource | undefined;
}

function hostOf(uri: string): string {
  try {
    return new URL(uri).host || uri;
  } catch {
    return uri;
  }
}

/**
 * A client that registered itself chose its own name: the person is told so, and for a
 * metadata document, which site published it (the one thing fetching it over https proved).
 */
function unverifiedNote(client: OAuthClient): string {
  if (client.registration === 'admin') return '';
  const source =
    client.registration === 'metadata_document'
      ? `, published by <strong>${escapeHtml(hostOf(client.client_id))}</strong>`
      : '';
  return ` <span class="note">(a name the app gave itself, not verified${source})</span>`;
}

/**
 * An app whose every redirect URI is this computer's loopback is a program on the person's
 * own machine: anybody can publish such a document, so only the person knows whether they
 * started it (the MCP authorization spec asks for this warning).
 */
function localOnlyWarning(client: OAuthClient): string {
  if (client.registration === 'admin') return '';
  const local = client.redirect_uris.every((uri) => {
    try {
      return isLoopbackHost(new URL(uri).hostname);
    } catch {
      return false;
    }
  });
  return local
    ? '<p role="alert">This app runs on your computer. Only continue if you started it yourself just now.</p>'
    : '';
}

/**
 * What a grant asks for, in words: each scope as a list item (an OpenID scope in ours, a
 * protected API's in its own), and the line naming that API.
 */
function askedFor(scopes: readonly string[], resource: ProtectedResource | undefined) {
  const described = new Map(resource?.scopes.map((scope) => [scope.name, scope.description]));
  const wording = (scope: string) =>
    isOidcScope(scope) ? OIDC_SCOPES[scope] : described.get(scope) || scope;
  const items = scopes.map((scope) => `<li>${escapeHtml(wording(scope))}</li>`).join('');
  const api = resource
    ? `<p>on <strong>${escapeHtml(resource.name)}</strong> (${escapeHtml(resource.identifier)})</p>`
    : '';
  return { items, api };
}

export function consentPage(input: ConsentPageInput): RenderedPage {
  const { items, api } = askedFor(input.scopes, input.resource);
  const host = hostOf(input.redirectUri);
  const name = escapeHtml(input.client.name);
  return htmlPage({
    title: `Allow ${input.client.name} access?`,
    // Deny ends at the redirect URI too (error=access_denied).
    formTargets: [input.redirectUri],
    body: `<p><strong>${name}</strong>${unverifiedNote(input.client)} asks to:</p>
<ul>${items}</ul>${api}
<p>You will then be sent back to <strong>${escapeHtml(host)}</strong>.</p>${localOnlyWarning(input.client)}
<form method="post" action="/consent">${csrfField(input.csrf)}${requestField(input.requestId)}
<div class="actions">
<button type="submit" name="decision" value="allow" autofocus>Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`,
  });
}

export function logoutPage(csrf: string): RenderedPage {
  return htmlPage({
    title: 'Sign out?',
    body: `<p>You will be signed out of this service and of the applications you signed in to here.</p>
<form method="post" action="/logout">${csrfField(csrf)}
<button type="submit" autofocus>Sign out</button>
</form>`,
  });
}

/** A page that only says something: signed in, signed out, or what went wrong. */
export function messagePage(title: string, message: string, isError = false): RenderedPage {
  const paragraph = isError
    ? `<p role="alert">${escapeHtml(message)}</p>`
    : `<p role="status">${escapeHtml(message)}</p>`;
  return htmlPage({ title, body: paragraph, noForms: true });
}

export interface EndSessionPageInput {
  csrf: string;
  client: OAuthClient | undefined;
  /** Carried through the confirmation, already checked (registered for the client). */
  fields: Readonly<Record<string, string | undefined>>;
  /** Where the form ends after signing out (its origin goes into form-action). */
  formTarget: string | undefined;
}

/** RP-initiated logout without proof of who asks: the person confirms, or simply leaves. */
export function endSessionPage(input: EndSessionPageInput): RenderedPage {
  const from = input.client
    ? `<p><strong>${escapeHtml(input.client.name)}</strong> asks to sign you out.</p>`
    : '';
  const carried = Object.entries(input.fields)
    .flatMap(([name, value]) => (value === undefined ? [] : [hidden(name, value)]))
    .join('');
  return htmlPage({
    title: 'Sign out?',
    body: `${from}<p>You will be signed out of this service and of the applications you signed in to here.</p>
<form method="post" action="/oauth/logout">${csrfField(input.csrf)}${carried}${hidden('confirm', 'yes')}
<button type="submit" autofocus>Sign out</button>
</form>`,
    ...(input.formTarget ? { formTargets: [input.formTarget] } : {}),
  });
}

export interface DeviceCodePageInput {
  csrf: string;
  /** Prefilled (from verification_uri_complete), or what was typed when it was wrong. */
  userCode?: string;
  error?: string;
}

/** RFC 8628's verification page: the person types the code their device shows. */
export function deviceCodePage(input: DeviceCodePageInput): RenderedPage {
  return htmlPage({
    title: 'Connect a device',
    body: `<p>Enter the code shown on your device (a command-line tool, an agent, a TV).</p>${alert(input.error)}
<form method="post" action="/device">${csrfField(input.csrf)}
<label for="user_code">Code</label>
<input id="user_code" name="user_code" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" required maxlength="64" placeholder="XXXX-XXXX" value="${escapeHtml(input.userCode ?? '')}" autofocus${describedBy(input.error)}>
<button type="submit">Continue</button>
</form>`,
  });
}

export interface DeviceConfirmPageInput {
  csrf: string;
  userCode: string;
  client: OAuthClient;
  scopes: readonly string[];
  resource: ProtectedResource | undefined;
}

/**
 * The device's request, to allow or deny. Shown even to first-party apps, and with the code:
 * a code someone else sent the person (remote phishing, RFC 8628 §5.4) must not connect the
 * sender's device unseen — the person compares it with the one on their own screen.
 */
export function deviceConfirmPage(input: DeviceConfirmPageInput): RenderedPage {
  const { items, api } = askedFor(input.scopes, input.resource);
  const name = escapeHtml(input.client.name);
  return htmlPage({
    title: `Connect ${input.client.name}?`,
    body: `<p>A device signing in to <strong>${name}</strong>${unverifiedNote(input.client)} with the code
<strong class="code">${escapeHtml(input.userCode)}</strong> asks to:</p>
<ul>${items}</ul>${api}
<p>Allow only if you started this on your own device and it shows this same code.</p>
<form method="post" action="/device/confirm">${csrfField(input.csrf)}${hidden('user_code', input.userCode)}
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`,
  });
}

const emailLinkOffer = (href: string | undefined) =>
  href === undefined ? '' : `\n<p><a href="${escapeHtml(href)}">E-mail me a sign-in link</a></p>`;

/** /login's link to the e-mail-link page, carrying the pending request or return path. */
export function emailLinkHref(requestId: string | undefined, next: string | undefined): string {
  if (requestId !== undefined) return `/login/email-link?request=${encodeURIComponent(requestId)}`;
  if (next !== undefined) return `/login/email-link?next=${encodeURIComponent(next)}`;
  return '/login/email-link';
}

export interface EmailLinkRequestPageInput {
  csrf: string;
  requestId?: string;
  next?: string;
  client?: OAuthClient;
  email?: string;
  error?: string;
}

/** /login/email-link: the address to send a sign-in link to, for this browser. */
export function emailLinkRequestPage(input: EmailLinkRequestPageInput): RenderedPage {
  const forClient = input.client
    ? `<p>to continue to <strong>${escapeHtml(input.client.name)}</strong></p>`
    : '';
  return htmlPage({
    title: 'Sign in with a link',
    body: `${forClient}${alert(input.error)}
<p>We will e-mail you a link that signs you in. Open it in this browser.</p>
<form method="post" action="/login/email-link">${csrfField(input.csrf)}${requestField(input.requestId)}${nextField(input.next)}
<label for="email">E-mail address</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="320" value="${escapeHtml(input.email ?? '')}" autofocus${describedBy(input.error)}>
<button type="submit">E-mail me a link</button>
</form>`,
  });
}

/** After asking: the same answer whether or not the address has an account. */
export function checkInboxPage(): RenderedPage {
  return messagePage(
    'Check your inbox',
    'If an account uses that address, a sign-in link is on its way to it. Open the link in this browser within 15 minutes.',
  );
}
