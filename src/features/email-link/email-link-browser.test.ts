import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { json, signUp, signedInUser, startTestApp } from '../../../test/app.js';
import { launchBrowser } from '../../../test/browser.js';
import { cleanUpAfter } from '../../../test/cleanup.js';
import { freePort } from '../../../test/free-port.js';
import { enrolTotp } from '../../../test/mfa.js';
import { authorizeParams, pkce, registerClient } from '../../../test/oidc-pages.js';
import { startSmtpSink } from '../../../test/smtp.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';

// The hosted e-mail-link sign-in in a real browser (Debian's Chromium through playwright-core):
// an app's authorization → /login → "E-mail me a sign-in link" → the mail (real SMTP) → the
// link opened in the same browser → "Sign in" → back at the app with a code. The cookies
// (SameSite, HttpOnly), the fragment and the CSP's form-action on the redirect after the post
// are Chromium's own behaviour here.
const browser = await launchBrowser();
const sink = await startSmtpSink();

const port = await freePort();
const publicUrl = `http://127.0.0.1:${port}`;
const { app, deps, clock } = await startTestApp({
  env: { PUBLIC_URL: publicUrl, SMTP_URL: sink.url, EMAIL_LINK_SIGNIN: 'true' },
});
if (browser) await app.listen({ port, host: '127.0.0.1' });

// The relying party's callback: a small page at every path.
const callback = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Callback</h1>');
});
if (browser) {
  callback.listen(0, '127.0.0.1');
  await once(callback, 'listening');
  cleanUpAfter(() => new Promise((resolve) => callback.close(resolve)));
}
const callbackUri = () => `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;

async function newContext(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext();
  cleanUpAfter(() => context.close());
  return { context, page: await context.newPage() };
}

const heading = (page: Page) => page.getByRole('heading', { level: 1 }).textContent();

/** The sign-in link of the newest sign-in mail to this address. */
async function linkFromMail(email: string): Promise<{ link: string; token: string }> {
  const mail = await sink.waitForMail(
    (m) => m.to === email.toLowerCase() && /sign-in link/.test(m.subject),
    10_000,
  );
  const link = /(http:\/\/\S+\/account\/email-signin#token=[\w-]+)/.exec(mail.text)?.[1];
  expect(link).toBeDefined();
  return { link: link!, token: new URL(link!).hash.slice('#token='.length) };
}

const usedAt = async (token: string) =>
  (
    await deps.db
      .selectFrom('email_tokens')
      .select('used_at')
      .where('token_hash', '=', hashOpaqueToken(token))
      .executeTakeFirstOrThrow()
  ).used_at;

/** Starts an authorization in `page`, then asks for a link at /login. */
async function askForLink(page: Page, email: string, challenge: string, clientId: string) {
  const params = authorizeParams(
    { client_id: clientId, redirect_uri: callbackUri() },
    { code_challenge: challenge },
  );
  await page.goto(`${publicUrl}/oauth/authorize?${new URLSearchParams(params).toString()}`);
  expect(await heading(page)).toBe('Sign in');
  await page.getByRole('link', { name: 'E-mail me a sign-in link' }).click();
  await page.waitForURL((url) => url.pathname === '/login/email-link');
  // The pending request went along.
  expect(new URL(page.url()).searchParams.get('request')).toEqual(expect.any(String));
  await page.getByLabel('E-mail address').fill(email);
  await page.getByRole('button', { name: 'E-mail me a link' }).click();
  await page.waitForLoadState();
  expect(await heading(page)).toBe('Check your inbox');
}

/** The ID token a code from the callback is exchanged for (a public client, with PKCE). */
async function idTokenFor(code: string, verifier: string, clientId: string) {
  const exchanged = await app.inject({
    method: 'POST',
    url: '/api/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: callbackUri(),
      code_verifier: verifier,
      client_id: clientId,
    }).toString(),
  });
  expect(exchanged.statusCode).toBe(200);
  return decodeJwt(json<{ id_token: string }>(exchanged).id_token);
}

describe.skipIf(!browser)('e-mail link sign-in in Chromium', () => {
  it('authorize → /login → e-mail link → confirm in the same browser → the app gets a code; another browser is refused, spending nothing', async () => {
    const target = await registerClient(deps, { redirectUri: callbackUri(), firstParty: true });
    const { email, user } = await signUp(app);
    const { verifier, challenge } = pkce();
    const { page } = await newContext();
    await askForLink(page, email, challenge, target.client_id);
    const { link, token } = await linkFromMail(email);

    // Another browser (no binding cookie): a clear page, and the link stays usable.
    const other = await newContext();
    await other.page.goto(link);
    expect(await heading(other.page)).toBe('Sign in');
    await other.page.getByRole('button', { name: 'Sign in' }).click();
    await other.page.waitForLoadState();
    expect(await heading(other.page)).toBe('Open the link in the right browser');
    expect(await other.page.getByRole('alert').textContent()).toContain(
      'Open the link in the browser where you asked for it',
    );
    expect(await usedAt(token)).toBeNull();
    expect((await other.context.cookies()).map((c) => c.name)).not.toContain('hyperion_session');

    // Opening the page signs no one in; the button does.
    await page.goto(link);
    expect(await heading(page)).toBe('Sign in');
    // The token left the address bar.
    expect(new URL(page.url()).hash).toBe('');
    expect(await usedAt(token)).toBeNull();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/callback');
    const params = new URL(page.url()).searchParams;
    expect(params.get('state')).toBe('st-123');
    expect(params.get('iss')).toBe(publicUrl);
    const code = params.get('code');
    expect(code).toMatch(/^[\w-]{43}$/);
    expect(await usedAt(token)).not.toBeNull();

    // The code is good, and the ID token says how the person proved who they are.
    const idToken = await idTokenFor(code!, verifier, target.client_id);
    expect(idToken.sub).toBe(user.id);
    expect(idToken['amr']).toEqual(['otp']);
  }, 60_000);

  it('with MFA on, the link leads to the second step, then to the app', async () => {
    const target = await registerClient(deps, { redirectUri: callbackUri(), firstParty: true });
    const user = await signedInUser(app);
    const code = await enrolTotp(app, clock, user.auth);
    clock.advance(30);
    const { page } = await newContext();
    const { verifier, challenge } = pkce();
    await askForLink(page, user.email, challenge, target.client_id);
    const { link } = await linkFromMail(user.email);
    await page.goto(link);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState();
    expect(await heading(page)).toBe('Two-step verification');
    await page.getByLabel(/authenticator app/).fill(await code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL((url) => url.pathname === '/callback');
    const code2 = new URL(page.url()).searchParams.get('code');
    expect(code2).toEqual(expect.any(String));
    // The link, then the code: no password in the methods.
    const idToken = await idTokenFor(code2!, verifier, target.client_id);
    expect(idToken['amr']).toEqual(['otp', 'mfa']);
  }, 60_000);
});
