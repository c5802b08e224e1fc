import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import type { Page } from 'playwright-core';
import { cleanUpAfter } from './cleanup.js';
import type { InjectBrowser } from './oidc-pages.js';

// The person's part of an authorization code flow, for tests whose relying party is
// openid-client: from the authorization URL through the hosted pages (sign in when asked,
// allow when asked) to the address the browser is sent back to. Once with the inject
// "browser" of test/oidc-pages.ts, once with real Chromium.

export interface Person {
  email: string;
  password: string;
}

/** A hosted page the flow met on its way, with what it showed. */
export interface SeenPage {
  page: 'login' | 'consent';
  html: string;
}

export interface FlowResult {
  /** Where the provider sent the browser back: the client's redirect URI with its answer. */
  callback: URL;
  seen: SeenPage[];
}

/** A user agent that can carry an authorization request to its end; it keeps its cookies. */
export interface Agent {
  authorize(url: URL, person?: Person): Promise<FlowResult>;
}

const MAX_STEPS = 6;

function needPerson(person: Person | undefined): Person {
  if (!person) throw new Error('the provider asked for a sign-in this flow did not expect');
  return person;
}

/**
 * Follows the redirects from `first` through /login and /consent (signing in as `person`,
 * allowing) until the provider sends the browser elsewhere: that address is the callback.
 */
export async function followThroughPages(
  browser: InjectBrowser,
  first: LightMyRequestResponse,
  person?: Person,
): Promise<FlowResult> {
  const seen: SeenPage[] = [];
  let response = first;
  for (let step = 0; step < MAX_STEPS; step += 1) {
    if (response.statusCode !== 302 && response.statusCode !== 303)
      throw new Error(`expected a redirect, got ${response.statusCode}: ${response.body}`);
    const location = String(response.headers['location']);
    if (location.startsWith('/login?')) {
      const page = await browser.get(location);
      seen.push({ page: 'login', html: page.body });
      const { email, password } = needPerson(person);
      response = await browser.submit(page, '/login', { email, password });
    } else if (location.startsWith('/consent?')) {
      const page = await browser.get(location);
      seen.push({ page: 'consent', html: page.body });
      response = await browser.submit(page, '/consent', { decision: 'allow' });
    } else {
      return { callback: new URL(location), seen };
    }
  }
  throw new Error(`more than ${MAX_STEPS} redirects`);
}

/** The inject "browser" as an agent: a GET of the authorization URL, then the pages. */
export function injectAgent(browser: InjectBrowser): Agent {
  return {
    async authorize(url, person) {
      return followThroughPages(browser, await browser.get(url.pathname + url.search), person);
    },
  };
}

/** A Chromium page as an agent: the same steps, done by filling and clicking the real pages. */
export function chromiumAgent(page: Page, redirectUri: string): Agent {
  const at = (url: URL) =>
    url.href.startsWith(redirectUri) || url.pathname === '/login' || url.pathname === '/consent';
  return {
    async authorize(url, person) {
      const seen: SeenPage[] = [];
      await page.goto(url.href);
      for (let step = 0; step < MAX_STEPS; step += 1) {
        await page.waitForURL(at);
        const current = new URL(page.url());
        if (current.href.startsWith(redirectUri)) return { callback: current, seen };
        if (current.pathname === '/login') {
          seen.push({ page: 'login', html: await page.content() });
          const { email, password } = needPerson(person);
          await page.getByLabel('E-mail address').fill(email);
          await page.getByLabel('Password').fill(password);
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.waitForURL((next) => next.pathname !== '/login');
        } else {
          seen.push({ page: 'consent', html: await page.content() });
          await page.getByRole('button', { name: 'Allow' }).click();
          await page.waitForURL((next) => next.pathname !== '/consent');
        }
      }
      throw new Error(`more than ${MAX_STEPS} pages`);
    },
  };
}

/**
 * The relying party's callback as a real server on 127.0.0.1 (a small page for every path),
 * so that a real browser has somewhere to land; closed after the file.
 */
export async function startCallbackServer(): Promise<{ origin: string; redirectUri: string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Callback</h1>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanUpAfter(() => new Promise((resolve) => server.close(resolve)));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, redirectUri: `${origin}/callback` };
}
