import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { cleanUpAfter } from './cleanup.js';

/** Debian's Chromium (`npm test` installs it with apt-get); no browser is ever downloaded. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/**
 * Headless Chromium for the real-browser tests, closed after the file; undefined (after saying
 * so plainly) when this machine has none, so those tests are skipped rather than passed in
 * silence. With REQUIRE_BROWSER=1 (as `npm test` sets it) a missing or broken Chromium fails.
 */
export async function launchBrowser(): Promise<Browser | undefined> {
  const required = process.env['REQUIRE_BROWSER'] === '1';
  let reason: string;
  if (existsSync(CHROMIUM_PATH)) {
    try {
      const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true });
      cleanUpAfter(() => browser.close());
      return browser;
    } catch (error) {
      reason = `Chromium at ${CHROMIUM_PATH} did not start: ${String(error)}`;
    }
  } else {
    reason = `no Chromium at ${CHROMIUM_PATH} (install the chromium package, or set CHROMIUM_PATH)`;
  }
  if (required) throw new Error(`REQUIRE_BROWSER=1, but ${reason}`);
  console.warn(`\n*** The browser tests did not run: ${reason}. ***\n`);
  return undefined;
}
