import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, json, signIn, signedInUser, startTestApp } from '../../../test/app.js';
import { toEpochSeconds } from '../../lib/clock.js';
import { FailureCounter } from '../rate-limit/counted-attempt.js';
import type { SecondFactor } from './factor.js';
import { createFactors } from './factors.js';
import { MfaService } from './mfa.service.js';
import { PasskeyCeremonies } from '../passkeys/passkey-ceremonies.js';

const { app, deps, clock, config } = await startTestApp();
const passkeyCeremonies = new PasskeyCeremonies({
  db: deps.db,
  clock,
  config,
  audit: deps.services.audit,
});

const post = (url: string, payload?: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });

const currentCode = (secret: string) => generate({ secret, epoch: toEpochSeconds(clock.now()) });

/** A signed-in user with TOTP confirmed (and so 10 recovery codes). */
async function enrolled() {
  const user = await signedInUser(app);
  const { secret } = json<{ secret: string }>(
    await post('/api/auth/mfa/totp/setup', undefined, user.auth),
  );
  const confirm = await post(
    '/api/auth/mfa/totp/confirm',
    { code: await currentCode(secret) },
    user.auth,
  );
  expect(confirm.statusCode).toBe(200);
  // The confirming code's time step is spent; the next check uses a fresh one.
  clock.advance(30);
  return { ...user, secret };
}

interface MfaRequiredBody {
  mfa_required: boolean;
  mfa_token: string;
  expires_in: number;
  factors: string[];
}

describe('the MFA challenge names the factors the user holds', () => {
  it('sign-in lists TOTP and recovery codes; spent recovery codes drop out of the list', async () => {
    const user = await enrolled();
    const first = await post('/api/auth/signin', { email: user.email, password: GOOD_PASSWORD });
    expect(first.statusCode).toBe(200);
    const body = json<MfaRequiredBody>(first);
    expect(body.mfa_required).toBe(true);
    expect(body.factors).toEqual(['totp', 'recovery_code']);

    await deps.db
      .updateTable('mfa_recovery_codes')
      .set({ used_at: clock.now() })
      .where('user_id', '=', user.user.id)
      .execute();
    const later = await post('/api/auth/signin', { email: user.email, password: GOOD_PASSWORD });
    expect(json<MfaRequiredBody>(later).factors).toEqual(['totp']);
  });

  it("the token endpoint's mfa_required answer lists them too", async () => {
    const user = await enrolled();
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { grant_type: 'password', username: user.email, password: GOOD_PASSWORD },
    });
    expect(response.statusCode).toBe(403);
    const body = json<{ error: string; mfa_token: string; factors: string[] }>(response);
    expect(body.error).toBe('mfa_required');
    expect(body.factors).toEqual(['totp', 'recovery_code']);
  });

  it('the OpenAPI document describes `factors` in both answers', async () => {
    const doc = await app.inject({ method: 'GET', url: '/openapi.json' });
    const text = doc.body;
    const spec = JSON.parse(text) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const signin = JSON.stringify(spec.paths['/api/auth/signin']?.['post']?.responses['200']);
    const token = JSON.stringify(spec.paths['/api/auth/token']?.['post']?.responses['403']);
    expect(signin).toContain('"factors"');
    expect(token).toContain('"factors"');
  });
});

describe('users.mfa_enabled follows the confirmed factors', () => {
  it('removing TOTP keeps MFA on while another factor that enables it remains', async () => {
    const user = await enrolled();
    const factors = createFactors({ db: deps.db, clock, passkeys: passkeyCeremonies });
    // Stands in for a factor added later (a passkey): enrolled for this user, enables MFA.
    const otherAuthenticator: SecondFactor = {
      kind: 'totp',
      enablesMfa: true,
      isEnrolled: async (userId) => userId === user.user.id,
      accepts: () => false,
      check: async () => undefined,
      remove: async () => {},
    };
    const mfa = new MfaService({
      db: deps.db,
      clock,
      accounts: deps.services.accounts,
      signIn: deps.services.signIn,
      audit: deps.services.audit,
      failures: new FailureCounter(deps.services.limits),
      factors: { ...factors, all: [...factors.all, otherAuthenticator] },
    });
    const client = { ip: '127.0.0.1', userAgent: null };
    await mfa.disable(user.user.id, await currentCode(user.secret), client);

    expect(await factors.totp.isEnrolled(user.user.id)).toBe(false);
    expect((await deps.services.accounts.getUser(user.user.id)).mfa_enabled).toBe(true);
    // Recovery codes stay: MFA is still on, and they are still the way back.
    expect(await factors.recoveryCodes.remaining(user.user.id)).toBe(10);
    const again = await post('/api/auth/signin', { email: user.email, password: GOOD_PASSWORD });
    expect(json<MfaRequiredBody>(again).mfa_required).toBe(true);
  });

  it('recovery codes alone do not keep MFA on: turning TOTP off signs in directly', async () => {
    const user = await enrolled();
    const off = await post(
      '/api/auth/mfa/totp/disable',
      { code: await currentCode(user.secret) },
      user.auth,
    );
    expect(off.statusCode).toBe(204);
    expect((await deps.services.accounts.getUser(user.user.id)).mfa_enabled).toBe(false);
    expect(
      await createFactors({
        db: deps.db,
        clock,
        passkeys: passkeyCeremonies,
      }).recoveryCodes.remaining(user.user.id),
    ).toBe(0);
    expect((await signIn(app, user.email, GOOD_PASSWORD)).access_token).toBeTruthy();
  });
});
