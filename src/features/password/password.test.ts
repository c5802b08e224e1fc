import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  type TokenBody,
  auditEventsOf,
  json,
  signIn,
  signUp,
  signedInUser,
  startTestApp,
  uniqueEmail,
} from '../../../test/app.js';
import { startSmtpSink } from '../../../test/smtp.js';

const sink = await startSmtpSink();
const { app, deps, clock } = await startTestApp({ env: { SMTP_URL: sink.url } });

const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers });
const tokenFrom = (text: string) => /#token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
const me = (tokens: TokenBody) =>
  app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });

async function resetMailFor(email: string) {
  const mail = await sink.waitForMail((m) => m.to === email && /reset/i.test(m.subject), 10_000);
  const token = tokenFrom(mail.text);
  expect(token).toBeDefined();
  expect(mail.text).toContain(`${deps.config.publicUrl}/account/reset-password#token=${token}`);
  return token!;
}

describe('password reset by e-mail', () => {
  it('answers 202 with the same body whether or not the account exists', async () => {
    const { email } = await signUp(app);
    const known = await post('/api/auth/password/forgot', { email });
    const unknown = await post('/api/auth/password/forgot', { email: uniqueEmail('ghost') });
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(known.body).toBe(unknown.body);
    await resetMailFor(email);
  });

  it('sends a one-time link that sets the password, ends every session and works only once', async () => {
    const { email, user } = await signUp(app);
    const before = await signIn(app, email, GOOD_PASSWORD);
    await post('/api/auth/password/forgot', { email: email.toUpperCase() });
    const token = await resetMailFor(email);
    const stored = await deps.db
      .selectFrom('email_tokens')
      .select('token_hash')
      .where('user_id', '=', user.id)
      .execute();
    expect(JSON.stringify(stored)).not.toContain(token);

    const newPassword = 'brand-New-Passphrase-42';
    const reset = await post('/api/auth/password/reset', { token, password: newPassword });
    expect(reset.statusCode).toBe(200);
    expect(json(reset)).toMatchObject({ id: user.id, email_verified: true });
    expect((await me(before)).statusCode).toBe(401);
    expect(
      (await post('/api/auth/refresh', { refresh_token: before.refresh_token })).statusCode,
    ).toBe(401);
    await signIn(app, email, newPassword);
    expect((await post('/api/auth/signin', { email, password: GOOD_PASSWORD })).statusCode).toBe(
      401,
    );

    const again = await post('/api/auth/password/reset', {
      token,
      password: 'another-Passphrase-43',
    });
    expect(again.statusCode).toBe(400);
    expect(json(again)['code']).toBe('invalid_token');
    await sink.waitForMail((m) => m.to === email && /changed/i.test(m.subject), 10_000);
    const events = await deps.db
      .selectFrom('audit_events')
      .select('type')
      .where('user_id', '=', user.id)
      .execute();
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['password.reset_requested', 'password.reset']),
    );
  });

  it('refuses a weak new password without spending the token', async () => {
    const { email } = await signUp(app);
    await post('/api/auth/password/forgot', { email });
    const token = await resetMailFor(email);
    const weak = await post('/api/auth/password/reset', { token, password: 'password' });
    expect(weak.statusCode).toBe(400);
    expect(json(weak)['code']).toBe('weak_password');
    expect(
      (await post('/api/auth/password/reset', { token, password: 'strong-Enough-Phrase-9' }))
        .statusCode,
    ).toBe(200);
  });

  it('spends older tokens when a newer one is requested, and expires tokens after an hour', async () => {
    const { email } = await signUp(app);
    await post('/api/auth/password/forgot', { email });
    const first = await resetMailFor(email);
    await post('/api/auth/password/forgot', { email });
    const second = await sink.waitForMail(
      (m) => m.to === email && tokenFrom(m.text) !== first,
      10_000,
    );
    expect(
      json(
        await post('/api/auth/password/reset', {
          token: first,
          password: 'strong-Enough-Phrase-9',
        }),
      )['code'],
    ).toBe('invalid_token');
    clock.advance(3601);
    const late = await post('/api/auth/password/reset', {
      token: tokenFrom(second.text)!,
      password: 'strong-Enough-Phrase-9',
    });
    expect(json(late)['code']).toBe('invalid_token');
  });

  it('answers an unknown token with 400 invalid_token', async () => {
    const response = await post('/api/auth/password/reset', {
      token: 'made-up',
      password: 'strong-Enough-Phrase-9',
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)['code']).toBe('invalid_token');
  });
});

describe('POST /api/auth/password/change', () => {
  it('needs the current password: 400 wrong_password otherwise, and nothing changes', async () => {
    const { tokens, email } = await signedInUser(app);
    const response = await post(
      '/api/auth/password/change',
      { current_password: 'not-it-at-all', new_password: 'brand-New-Passphrase-42' },
      { authorization: `Bearer ${tokens.access_token}` },
    );
    expect(response.statusCode).toBe(400);
    expect(json(response)['code']).toBe('wrong_password');
    await signIn(app, email, GOOD_PASSWORD);
  });

  it('sets the password, keeps this session, ends every other one and sends a notice', async () => {
    const { tokens, email, user } = await signedInUser(app);
    const other = await signIn(app, email, GOOD_PASSWORD);
    const response = await post(
      '/api/auth/password/change',
      { current_password: GOOD_PASSWORD, new_password: 'brand-New-Passphrase-42' },
      { authorization: `Bearer ${tokens.access_token}`, 'user-agent': 'changer/1.0' },
    );
    expect(response.statusCode).toBe(200);
    const changed = await auditEventsOf(deps, user.id, 'password.changed');
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({
      actor_id: user.id,
      user_id: user.id,
      ip: '127.0.0.1',
      user_agent: 'changer/1.0',
      outcome: 'success',
    });
    expect((await me(tokens)).statusCode).toBe(200);
    expect((await me(other)).statusCode).toBe(401);
    await signIn(app, email, 'brand-New-Passphrase-42');
    const notice = await sink.waitForMail(
      (m) => m.to === email && /changed/i.test(m.subject),
      10_000,
    );
    expect(notice.text).not.toContain('brand-New-Passphrase-42');
  });

  it('enforces the policy on the new password', async () => {
    const { tokens } = await signedInUser(app);
    const response = await post(
      '/api/auth/password/change',
      { current_password: GOOD_PASSWORD, new_password: 'qwertyuiop' },
      { authorization: `Bearer ${tokens.access_token}` },
    );
    expect(json(response)['code']).toBe('weak_password');
  });
});

describe('a wrong current password counts like a failed sign-in', async () => {
  // Three failures per account and source: the sign-in counters, small enough to reach.
  const limited = await startTestApp({
    env: { RATE_LIMIT: 'on', RATE_LIMIT_SIGNIN_FAILURES: '3' },
  });
  const change = (accessToken: string, currentPassword: string) =>
    limited.app.inject({
      method: 'POST',
      url: '/api/auth/password/change',
      headers: { authorization: `Bearer ${accessToken}` },
      payload: { current_password: currentPassword, new_password: 'brand-New-Passphrase-42' },
    });
  const signInWith = (email: string, password: string) =>
    limited.app.inject({ method: 'POST', url: '/api/auth/signin', payload: { email, password } });

  it('beyond the limit even the right password gets 429, and nothing changes', async () => {
    const { tokens, user, email } = await signedInUser(limited.app);
    for (let i = 0; i < 3; i += 1)
      expect((await change(tokens.access_token, 'not-it-at-all')).statusCode).toBe(400);
    const blocked = await change(tokens.access_token, GOOD_PASSWORD);
    expect(blocked.statusCode).toBe(429);
    expect(json(blocked)['code']).toBe('rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(await limited.deps.services.accounts.verifyPasswordOf(user.id, GOOD_PASSWORD)).toBe(
      true,
    );
    // The same counters as sign-in.
    expect((await signInWith(email, GOOD_PASSWORD)).statusCode).toBe(429);
  });

  it('the right password forgives the wrong ones before it', async () => {
    const { tokens, email } = await signedInUser(limited.app);
    for (let i = 0; i < 2; i += 1)
      expect((await change(tokens.access_token, 'not-it-at-all')).statusCode).toBe(400);
    expect((await change(tokens.access_token, GOOD_PASSWORD)).statusCode).toBe(200);
    for (let i = 0; i < 3; i += 1)
      expect((await signInWith(email, 'not-it-at-all')).statusCode).toBe(401);
  });
});

describe('an SMTP server that is down for a while', () => {
  it('loses no mail: the reset request commits, and the mail arrives once the server is back', async () => {
    const { email } = await signUp(app);
    await sink.stop();
    expect((await post('/api/auth/password/forgot', { email })).statusCode).toBe(202);
    // The worker tries, fails, and schedules a retry; the row stays queued.
    const queued = async () =>
      deps.db
        .selectFrom('mail_outbox')
        .select(['attempts', 'sent_at', 'last_error'])
        .where('recipient', '=', email.toLowerCase())
        .executeTakeFirst();
    const deadline = Date.now() + 10_000;
    // Wait for the failure to be recorded, not just the claim: the retry is scheduled then.
    while (Date.now() < deadline && !(await queued())?.last_error)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 50));
    expect(await queued()).toMatchObject({
      attempts: 1,
      sent_at: null,
      last_error: expect.any(String),
    });
    await sink.start();
    // Past the retry backoff (seconds), well inside the token's hour.
    clock.advance(60);
    const token = await resetMailFor(email.toLowerCase());
    expect(
      (await post('/api/auth/password/reset', { token, password: 'after-Outage-Passphrase-7' }))
        .statusCode,
    ).toBe(200);
  });
});
