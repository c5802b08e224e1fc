import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { signUp } from '../../../test/app.js';
import { launchBrowser } from '../../../test/browser.js';
import { cleanUpAfter } from '../../../test/cleanup.js';
import { startCallbackServer } from '../../../test/oidc-flow.js';
import {
  type OidcTestApp,
  registerClient,
  relyingParty,
  startOidcApp,
} from '../../../test/oidc.js';

// Passkeys with a real browser: Debian's Chromium through playwright-core, its WebAuthn
// replaced by a CDP virtual authenticator (CTAP2, built in — "internal" — with resident keys
// and user verification), so the ceremonies are Chromium's own: the options our pages fetch,
// the browser's checks of RP ID and origin, the authenticator's signature, and what
// @simplewebauthn/browser posts back. The issuer is http://localhost:… (a relying-party ID
// must be a domain).
const browser = await launchBrowser();

interface Authenticator {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
}

/** A fresh browser (its own cookies) holding one virtual platform authenticator. */
async function browserWithAuthenticator(): Promise<Authenticator> {
  const context = await browser!.newContext();
  cleanUpAfter(() => context.close());
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page, cdp, authenticatorId };
}

/**
 * The virtual authenticator answers the page's autofill request (conditional UI) by itself as
 * soon as /login loads. To use the button instead, the page is shown a browser without
 * autofill for passkeys, as some are.
 */
async function withoutPasskeyAutofill(page: Page) {
  await page.addInitScript(
    'if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;',
  );
}

/** The passkey status line, once the page's script has written to it. */
async function passkeyStatus(page: Page): Promise<string> {
  await page.waitForFunction("document.getElementById('passkey-status').textContent !== ''");
  return (await page.locator('#passkey-status').textContent()) ?? '';
}

const heading = (page: Page) => page.getByRole('heading', { level: 1 }).textContent();

async function signInWithPassword(page: Page, email: string, password: string) {
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Signs in with the password at /account/passkeys's detour through /login, adds a passkey. */
async function addPasskey(
  t: OidcTestApp,
  page: Page,
  person: { email: string; password: string },
  name: string,
) {
  await page.goto(`${t.issuer}/account/passkeys`);
  if (new URL(page.url()).pathname === '/login') {
    await signInWithPassword(page, person.email, person.password);
    await page.waitForURL((url) => url.pathname === '/account/passkeys');
  }
  expect(await heading(page)).toBe('Your passkeys');
  await page.getByLabel(/^Name/).fill(name);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByText(`Passkey "${name}" added.`).waitFor();
}

async function signOut(t: OidcTestApp, page: Page) {
  await page.goto(`${t.issuer}/logout`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('You can close this page.').waitFor();
}

/** An openid-client relying party and the authorization URL it would send the browser to. */
async function relyingPartyFor(t: OidcTestApp) {
  const { redirectUri } = await startCallbackServer();
  const client = await registerClient(t.app, t.admin, {
    type: 'public',
    redirect_uris: [redirectUri],
    scopes: ['openid', 'email'],
    first_party: true,
  });
  const config = await relyingParty(t.issuer, client);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'st-1',
  });
  /** The ID token's claims, once the browser is at the callback. */
  const idTokenAt = async (callback: string) => {
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: 'st-1',
    });
    return decodeJwt(tokens.id_token!);
  };
  return { url, redirectUri, idTokenAt };
}

describe.skipIf(!browser)('passkeys in Chromium (CDP virtual authenticator)', () => {
  it('register at /account/passkeys, sign out; the autofill signs in to an app with no e-mail typed: amr hwk', async () => {
    const t = await startOidcApp({ hostname: 'localhost' });
    const person = await signUp(t.app);
    const { page, cdp, authenticatorId } = await browserWithAuthenticator();

    await addPasskey(t, page, person, 'Work laptop');
    // The page lists it, and the authenticator holds a discoverable credential for our RP ID.
    expect(await page.getByText('Work laptop', { exact: true }).count()).toBe(1);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    expect(credentials[0]!.rpId).toBe('localhost');
    const stored = await t.deps.services.passkeys.list(person.user.id);
    expect(stored.map((passkey) => passkey.name)).toEqual(['Work laptop']);

    await signOut(t, page);
    const app = await relyingPartyFor(t);
    await page.goto(app.url.href);
    // Nothing typed: /login's autofill request (conditional UI) asks the browser for any
    // passkey of this site, and the authenticator answers it.
    await page.waitForURL((url) => url.href.startsWith(app.redirectUri));
    const claims = await app.idTokenAt(page.url());
    expect(claims.sub).toBe(person.user.id);
    expect(claims['amr']).toEqual(['hwk']);

    const [used] = await t.deps.services.passkeys.list(person.user.id);
    expect(used!.last_used_at).not.toBeNull();
  });

  it('as the second factor: password, then the passkey; amr pwd, hwk, mfa', async () => {
    const t = await startOidcApp({ hostname: 'localhost' });
    const person = await signUp(t.app);
    const { page } = await browserWithAuthenticator();
    await addPasskey(t, page, person, 'Phone');
    await signOut(t, page);

    const app = await relyingPartyFor(t);
    // The person types the password (the autofill would sign in with the passkey alone).
    await withoutPasskeyAutofill(page);
    await page.goto(app.url.href);
    await signInWithPassword(page, person.email, person.password);
    expect(await heading(page)).toBe('Two-step verification');
    // A passkey-only second step: no code field to fill, the passkey button instead.
    expect(await page.getByLabel(/authenticator app/).count()).toBe(0);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL((url) => url.href.startsWith(app.redirectUri));
    const claims = await app.idTokenAt(page.url());
    expect(claims['amr']).toEqual(['pwd', 'hwk', 'mfa']);
  });

  it('a removed passkey no longer signs in, though the authenticator still holds it', async () => {
    const t = await startOidcApp({ hostname: 'localhost' });
    const person = await signUp(t.app);
    const { page, cdp, authenticatorId } = await browserWithAuthenticator();
    await addPasskey(t, page, person, 'Old key');
    await page.getByRole('button', { name: 'Remove Old key' }).click();
    await page.getByText('Passkey removed.').waitFor();
    expect(await t.deps.services.passkeys.list(person.user.id)).toEqual([]);
    await signOut(t, page);

    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    await withoutPasskeyAutofill(page);
    await page.goto(`${t.issuer}/login`);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('not accepted');
    expect(await heading(page)).toBe('Sign in');
    const cookies = await page.context().cookies();
    expect(cookies.find((cookie) => cookie.name === 'hyperion_session')).toBeUndefined();
  });

  it('a sign-in post replayed is refused: the challenge was spent by the first', async () => {
    const t = await startOidcApp({ hostname: 'localhost' });
    const person = await signUp(t.app);
    const { page, context } = await browserWithAuthenticator();
    await addPasskey(t, page, person, 'Key');
    await signOut(t, page);

    await withoutPasskeyAutofill(page);
    await page.goto(`${t.issuer}/login`);
    // The button, with the e-mail typed first: the options list this account's passkeys.
    await page.getByLabel('E-mail address').fill(person.email);
    const posted = page.waitForRequest(
      (request) =>
        request.method() === 'POST' && new URL(request.url()).pathname === '/login/passkey',
    );
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    const body = (await posted).postData()!;
    await page.getByText('You can close this page.').waitFor();

    // The same form again, from the same browser (its cookies, its Origin): refused.
    const replay = await context.request.post(`${t.issuer}/login/passkey`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.issuer },
      data: body,
    });
    expect(replay.status()).toBe(401);
    expect(await replay.text()).toContain('not accepted');
  });

  it('with WEBAUTHN_USER_VERIFICATION=required, a passkey used without user verification is refused', async () => {
    const t = await startOidcApp({
      hostname: 'localhost',
      env: { WEBAUTHN_USER_VERIFICATION: 'required' },
    });
    const person = await signUp(t.app);
    const { page, cdp, authenticatorId } = await browserWithAuthenticator();
    await addPasskey(t, page, person, 'Key');
    await signOut(t, page);

    // The authenticator now fails its fingerprint/PIN check.
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    await withoutPasskeyAutofill(page);
    await page.goto(`${t.issuer}/login`);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    expect(await passkeyStatus(page)).toContain('not used');
    expect(new URL(page.url()).pathname).toBe('/login');
    const cookies = await page.context().cookies();
    expect(cookies.find((cookie) => cookie.name === 'hyperion_session')).toBeUndefined();
  });
});
