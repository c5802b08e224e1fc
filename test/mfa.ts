import type { FastifyInstance } from 'fastify';
import { generate } from 'otplib';
import { toEpochSeconds } from '../src/lib/clock.js';
import type { ManualClock } from '../src/lib/clock.js';
import { json } from './app.js';

/**
 * Turns TOTP on for the signed-in user through the API (setup, then confirm with a first
 * code); answers a function giving the current code by the app's clock. Advance the clock
 * 30 s before using it: a code is never accepted twice.
 */
export async function enrolTotp(
  app: FastifyInstance,
  clock: ManualClock,
  auth: { authorization: string },
): Promise<() => Promise<string>> {
  const setup = await app.inject({
    method: 'POST',
    url: '/api/auth/mfa/totp/setup',
    headers: auth,
  });
  const { secret } = json<{ secret: string }>(setup);
  const code = () => generate({ secret, epoch: toEpochSeconds(clock.now()) });
  const confirm = await app.inject({
    method: 'POST',
    url: '/api/auth/mfa/totp/confirm',
    headers: auth,
    payload: { code: await code() },
  });
  if (confirm.statusCode !== 200)
    throw new Error(`TOTP confirm failed: ${confirm.statusCode} ${confirm.body}`);
  return code;
}
