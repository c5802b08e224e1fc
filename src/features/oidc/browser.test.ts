import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { enrolTotp } from '../../../test/mfa.js';
import { launchBrowser } from '../../../test/browser.js';
import { cleanUpAfter } from '../../../test/cleanup.js';
import { freePort } from '../../../test/free-port.js';
import { json, signUp, signedInUser, startTestApp } from '../../../test/app.js';
import { type TestClient, authorizeParams, registerClient } from '../../../test/oidc-pages.js';

// The hosted pages in a real browser (Debian's Chromium through playwright-core): the cookies,
// the CSP's form-action on the redirect after a post, and keyboard-only use are Chromium's own
// behaviour here, not our reading of the specs.
const browser = await launchBrowser();

// The app listens on a real port, and PUBLIC_URL is the address the browser uses.
const port = await freePort();
const publicUrl = `http://127.0.0.1:${port}`;
const { app, deps, clock } = await startTestApp({ env: { PUBLIC_URL: publicUrl } });
if (browser) await app.listen({ port, host: '127.0.0.1' });

// The relying party: a local server whose /start page links to the URL in its `to` parameter
// (opened as http://localhost:…, another site than 127.0.0.1), and whose callback answers
// every other request with a small page.
const callback = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const to = url.searchParams.get('to');
  const body =
    url.pathname === '/start' && to
      ? `<h1>App</h1><a href="${to.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">Sign in with Hyperion</a>`
      : '<h1>Callback</h1>';
  response.writeHead(200, { 'content-type': 'text/html' }).end(body);
});
if (browser) {
  callback.listen(0, '127.0.0.1');
  await once(callback, 'listening');
  cleanUpAfter(() => new Promise((resolve) => callback.close(resolve)));
}
const callbackUri = () => `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;

async function client(options: { firstParty?: boolean } = {}): Promise<TestClient> {
  return registerClient(deps, { redirectUri: callbackUri(), ...options });
}

const urlOf = (target: TestClient) =>
  `${publicUrl}/oauth/authorize?${new URLSearchParams(authorizeParams(target)).toString()}`;

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext();
  cleanUpAfter(() => context.close());
  return { context, page: await context.newPage() };
}

/** The callback's query once the browser got there. */
async function landed(page: Page): Promise<URLSearchParams> {
  await page.waitForURL((url) => url.pathname === '/callback');
  return new URL(page.url()).searchParams;
}

async function signInAt(page: Page, email: string, password: string) {
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe.skipIf(!browser)('hosted pages in Chromium', () => {
  it('signs in at /login, consents, and lands on the callback with code, state and iss', async () => {
    const target = await client();
    const { email, password } = await signUp(app);
    const { page } = await newPage();
    await page.goto(urlOf(target));
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
    await signInAt(page, email, password);
    await page.waitForURL((url) => url.pathname === '/consent');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Allow');
    await page.getByRole('button', { name: 'Allow' }).click();
    const params = await landed(page);
    expect(params.get('code')).toMatch(/^[\w-]{43}$/);
    expect(params.get('state')).toBe('st-123');
    expect(params.get('iss')).toBe(publicUrl);
  });

  it('consent denied: the callback gets error=access_denied', async () => {
    const target = await client();
    const { email, password } = await signUp(app);
    const { page } = await newPage();
    await page.goto(urlOf(target));
    await signInAt(page, email, password);
    await page.getByRole('button', { name: 'Deny' }).click();
    const params = await landed(page);
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('state')).toBe('st-123');
    expect(params.get('iss')).toBe(publicUrl);
  });

  it('MFA: password, then the TOTP code, then the callback', async () => {
    const user = await signedInUser(app);
    const code = await enrolTotp(app, clock, user.auth);
    clock.advance(30);
    const target = await client({ firstParty: true });
    const { page } = await newPage();
    await page.goto(urlOf(target));
    await signInAt(page, user.email, user.password);
    await page.getByLabel(/authenticator app/).fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    // A wrong code is announced, and the form stays.
    expect(await page.getByRole('alert').textContent()).toContain('wrong');
    await page.getByLabel(/authenticator app/).fill(await code());
    await page.getByRole('button', { name: 'Verify' }).click();
    expect((await landed(page)).get('code')).toEqual(expect.any(String));
  });

  it('SSO: a second client needs no password', async () => {
    const first = await client({ firstParty: true });
    const second = await client({ firstParty: true });
    const { email, password } = await signUp(app);
    const { page } = await newPage();
    await page.goto(urlOf(first));
    await signInAt(page, email, password);
    expect((await landed(page)).get('code')).toEqual(expect.any(String));
    await page.goto(urlOf(second));
    const params = await landed(page);
    expect(params.get('code')).toEqual(expect.any(String));
    expect(params.get('iss')).toBe(publicUrl);
  });

  it('from an app on another site: the link, the sign-in and the SSO hop work cross-site', async () => {
    const first = await client({ firstParty: true });
    const second = await client({ firstParty: true });
    const { email, password } = await signUp(app);
    const { page } = await newPage();
    const appPort = (callback.address() as AddressInfo).port;
    const start = (target: TestClient) =>
      `http://localhost:${appPort}/start?to=${encodeURIComponent(urlOf(target))}`;
    // A cross-site navigation: the CSRF cookie (SameSite=Strict) is set on the way and the
    // form still posts.
    await page.goto(start(first));
    await page.getByRole('link', { name: 'Sign in with Hyperion' }).click();
    await signInAt(page, email, password);
    expect((await landed(page)).get('code')).toEqual(expect.any(String));
    // The session cookie (SameSite=Lax) rides on another site's link: no password.
    await page.goto(start(second));
    await page.getByRole('link', { name: 'Sign in with Hyperion' }).click();
    expect((await landed(page)).get('code')).toEqual(expect.any(String));
  });

  it('keyboard only: Tab and Enter sign in; a wrong password is announced', async () => {
    const target = await client({ firstParty: true });
    const { email, password } = await signUp(app);
    const { page } = await newPage();
    await page.goto(urlOf(target));
    // The e-mail field has the focus on arrival; Tab goes to the password, then the button.
    const focused = () => page.locator(':focus').getAttribute('id');
    expect(await focused()).toBe('email');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('password');
    await page.keyboard.type('not-the-password');
    await page.keyboard.press('Enter');
    await page.waitForLoadState();
    expect(await page.getByRole('alert').textContent()).toContain('wrong');
    // The e-mail is kept, the password field has the focus again.
    expect(await focused()).toBe('password');
    await page.keyboard.type(password);
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Sign in');
    await page.keyboard.press('Enter');
    expect((await landed(page)).get('code')).toEqual(expect.any(String));
  });
});
