import { describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, json, signedInUser, startTestApp, uniqueEmail } from '../../../test/app.js';
import { startSmtpSink } from '../../../test/smtp.js';

const sink = await startSmtpSink();
const { app, deps, clock } = await startTestApp({ env: { SMTP_URL: sink.url } });
const tokenFrom = (text: string) => /#token=([A-Za-z0-9_-]+)/.exec(text)?.[1];

describe('e-mail verification', () => {
  it('sends a one-time link on request; the token verifies the address once', async () => {
    const { tokens, email, user } = await signedInUser(app);
    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const requested = await app.inject({
      method: 'POST',
      url: '/api/auth/email/verify/request',
      headers: auth,
    });
    expect(requested.statusCode).toBe(202);
    const mail = await sink.waitForMail((m) => m.to === email.toLowerCase(), 10_000);
    expect(mail.text).toContain(`${deps.config.publicUrl}/account/verify-email#token=`);
    const token = tokenFrom(mail.text)!;

    const verified = await app.inject({
      method: 'POST',
      url: '/api/auth/email/verify',
      payload: { token },
    });
    expect(verified.statusCode).toBe(200);
    expect(json(verified)).toMatchObject({ id: user.id, email_verified: true });
    const again = await app.inject({
      method: 'POST',
      url: '/api/auth/email/verify',
      payload: { token },
    });
    expect(again.statusCode).toBe(400);
    expect(json(again)['code']).toBe('invalid_token');
    const events = await deps.db
      .selectFrom('audit_events')
      .select('type')
      .where('user_id', '=', user.id)
      .execute();
    expect(events.map((e) => e.type)).toContain('email.verified');
  });

  it('expires tokens after 24 hours and refuses unknown ones', async () => {
    const { tokens, email } = await signedInUser(app);
    await app.inject({
      method: 'POST',
      url: '/api/auth/email/verify/request',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    const token = tokenFrom(
      (await sink.waitForMail((m) => m.to === email.toLowerCase(), 10_000)).text,
    )!;
    clock.advance(24 * 3600 + 1);
    expect(
      (await app.inject({ method: 'POST', url: '/api/auth/email/verify', payload: { token } }))
        .statusCode,
    ).toBe(400);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/api/auth/email/verify',
          payload: { token: 'nope' },
        })
      ).statusCode,
    ).toBe(400);
  });

  it('needs a token to request: 401 without one', async () => {
    expect(
      (await app.inject({ method: 'POST', url: '/api/auth/email/verify/request' })).statusCode,
    ).toBe(401);
  });

  it('serves the page the link opens', async () => {
    const page = await app.inject({ method: 'GET', url: '/account/verify-email' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('/api/auth/email/verify');
  });
});

describe('EMAIL_VERIFICATION_REQUIRED=true', async () => {
  const strict = await startTestApp({
    env: { SMTP_URL: sink.url, EMAIL_VERIFICATION_REQUIRED: 'true' },
  });

  it('sends the mail at sign-up; sign-in is refused until the link is used', async () => {
    const email = uniqueEmail('strict');
    const signup = await strict.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      payload: { email, password: GOOD_PASSWORD },
    });
    expect(signup.statusCode).toBe(201);
    const mail = await sink.waitForMail((m) => m.to === email, 10_000);
    const refused = await strict.app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: GOOD_PASSWORD },
    });
    expect(json(refused)['code']).toBe('email_not_verified');
    const token = tokenFrom(mail.text)!;
    expect(
      (
        await strict.app.inject({
          method: 'POST',
          url: '/api/auth/email/verify',
          payload: { token },
        })
      ).statusCode,
    ).toBe(200);
    const admitted = await strict.app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: GOOD_PASSWORD },
    });
    expect(admitted.statusCode).toBe(200);
  });
});

describe('sign-up mail and the global mail cap', async () => {
  const capped = await startTestApp({
    env: {
      SMTP_URL: sink.url,
      EMAIL_VERIFICATION_REQUIRED: 'true',
      RATE_LIMIT: 'on',
      RATE_LIMIT_MAIL_PER_HOUR: '1',
    },
  });
  const signUpAs = (email: string) =>
    capped.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      payload: { email, password: GOOD_PASSWORD },
    });

  it('counts the verification mail: over the cap the sign-up is refused and creates nothing', async () => {
    const first = uniqueEmail('capped');
    expect((await signUpAs(first)).statusCode).toBe(201);
    await sink.waitForMail((m) => m.to === first, 10_000);

    const second = uniqueEmail('capped');
    const refused = await signUpAs(second);
    expect(refused.statusCode).toBe(429);
    expect(json(refused)['code']).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    const { db } = capped.deps;
    expect(await db.selectFrom('users').select('id').where('email', '=', second).execute()).toEqual(
      [],
    );
    expect(
      await db.selectFrom('mail_outbox').select('id').where('recipient', '=', second).execute(),
    ).toEqual([]);
    // Again 429, not 409 email_taken: the refused sign-up left no account behind.
    expect(json(await signUpAs(second))['code']).toBe('rate_limited');
  });
});
