import { describe, expect, it } from 'vitest';
import { signUp, startTestApp } from '../../../test/app.js';
import { startSmtpSink } from '../../../test/smtp.js';

const sink = await startSmtpSink();
const { app, deps } = await startTestApp({ env: { SMTP_URL: sink.url } });

const signInAs = (email: string, password: string, userAgent: string) =>
  app.inject({
    method: 'POST',
    url: '/api/auth/signin',
    payload: { email, password },
    headers: { 'user-agent': userAgent },
  });

describe('new sign-in notice', () => {
  it('is sent for a client the account never used, not for a known one nor the first sign-in', async () => {
    const { email, password } = await signUp(app);
    expect((await signInAs(email, password, 'Laptop/1.0')).statusCode).toBe(200);
    expect((await signInAs(email, password, 'Laptop/1.0')).statusCode).toBe(200);
    expect((await signInAs(email, password, 'Unknown-Phone/9.9')).statusCode).toBe(200);

    const notice = await sink.waitForMail((m) => m.to === email.toLowerCase(), 10_000);
    expect(notice.text).toContain('Unknown-Phone/9.9');
    // Everything queued for this address has been handled: exactly one notice was written.
    const queued = await deps.db
      .selectFrom('mail_outbox')
      .select(['template'])
      .where('recipient', '=', email.toLowerCase())
      .execute();
    expect(queued.map((m) => m.template)).toEqual(['new_signin']);
  });
});
