import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { signUp } from '../../../test/app.js';
import { launchBrowser } from '../../../test/browser.js';
import { cleanUpAfter } from '../../../test/cleanup.js';
import { type PollResult, deviceFor } from '../../../test/device.js';
import { registerClient, startOidcApp } from '../../../test/oidc.js';
import { DEVICE_CODE_GRANT_TYPE } from './oidc.types.js';

// Device sign-in with a real browser (Debian's Chromium through playwright-core) on one side
// and oauth4webapi polling as the device on the other: the person opens
// verification_uri_complete, signs in at /login, lands back on /device with the code filled
// in, confirms, and the device's next poll brings the tokens.
const browser = await launchBrowser();

describe.skipIf(!browser)('device sign-in in Chromium', () => {
  it('verification_uri_complete → /login → /device → Allow; the poller gets the tokens', async () => {
    const t = await startOidcApp();
    const client = await registerClient(t.app, t.admin, {
      type: 'public',
      name: 'Hyperion CLI',
      redirect_uris: ['http://127.0.0.1:9/callback'],
      grant_types: [DEVICE_CODE_GRANT_TYPE, 'refresh_token'],
      scopes: ['openid', 'email', 'offline_access'],
    });
    const device = await deviceFor(t.issuer, client, t.clock);
    const started = await device.start({ scope: 'openid email offline_access' });
    const { email, password, user } = await signUp(t.app);

    // The device polls on its own while the person is at the browser; the app's clock is
    // moved on by the interval before each poll, as time would pass.
    let stop = false;
    const poller = (async (): Promise<PollResult> => {
      for (;;) {
        t.clock.advance(started.interval ?? 5);
        const result = await device.poll(started.device_code);
        if (result.kind === 'tokens' || result.error !== 'authorization_pending' || stop)
          return result;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    cleanUpAfter(() => {
      stop = true;
      return poller.then(() => undefined);
    });

    const context = await browser!.newContext();
    cleanUpAfter(() => context.close());
    const page = await context.newPage();
    await page.goto(started.verification_uri_complete!);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/device');
    expect(await page.getByLabel('Code').inputValue()).toBe(started.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForLoadState();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(
      'Connect Hyperion CLI?',
    );
    expect(await page.locator('body').textContent()).toContain(started.user_code);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForLoadState();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Device connected');

    const result = await poller;
    if (result.kind !== 'tokens') throw new Error(`expected tokens: ${JSON.stringify(result)}`);
    expect(result.tokens.scope).toBe('openid email offline_access');
    expect(result.tokens.refresh_token).toEqual(expect.any(String));
    expect(result.idClaims?.sub).toBe(String(user.id));
    expect(decodeJwt(result.tokens.access_token)['email']).toBe(email);
  }, 60_000);
});
