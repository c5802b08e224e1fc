import { describe, expect, it } from 'vitest';
import { type TestApp, startTestApp, uniqueEmail } from '../../../test/app.js';
import { startSmtpSink } from '../../../test/smtp.js';
import type { Db } from '../../db/create-db.js';
import { MAIL_MAX_ATTEMPTS, type MailLog, MailService, retryDelaySeconds } from './mail.service.js';
import type { MailContent } from './mail.types.js';

const sink = await startSmtpSink();
const MAIL_FROM = 'Hyperion Auth <no-reply@auth.test>';
const env = { SMTP_URL: sink.url, MAIL_FROM };

// `main`'s worker is stopped: these tests drive rounds with runOnce and move its clock.
const main = await startTestApp({ env });
await main.deps.services.mail.stop();
const mail = main.deps.services.mail;

let tokenCounter = 0;
type VerifyContent = Extract<MailContent, { template: 'verify_email' }>;

function verifyContent(name: string | null = 'Ada'): VerifyContent {
  tokenCounter += 1;
  const token = `tok-${tokenCounter}-Zq8xW3`;
  return {
    template: 'verify_email',
    name,
    link: `http://auth.test/account/verify-email?token=${token}&lang=en`,
    token,
    expiresInHours: 24,
  };
}

async function enqueueCommitted(app: TestApp, to: string, content: MailContent = verifyContent()) {
  await app.deps.db
    .transaction()
    .execute((trx) => app.deps.services.mail.enqueue(trx, to, content));
}

function outboxTo(db: Db, recipient: string) {
  return db
    .selectFrom('mail_outbox')
    .selectAll()
    .where('recipient', '=', recipient)
    .orderBy('created_at')
    .execute();
}

async function onlyOutboxRow(db: Db, recipient: string) {
  const rows = await outboxTo(db, recipient);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

describe('mail outbox over real SMTP', () => {
  it('the worker createDeps starts delivers a committed mail: from, to, subject, text and HTML', async () => {
    const live = await startTestApp({ env });
    const to = uniqueEmail('verify');
    const content = verifyContent('Ada Lovelace');
    await enqueueCommitted(live, to, content);

    // No runOnce here: the background worker alone must send it.
    const received = await sink.waitForMail((m) => m.to === to);
    expect(received.from).toBe('"Hyperion Auth" <no-reply@auth.test>');
    expect(received.subject).toBe('Hyperion Auth: confirm your e-mail address');
    expect(received.text).toContain('Hello Ada Lovelace,');
    expect(received.text).toContain(content.link);
    expect(received.text).toContain(content.token);
    expect(received.text).toContain('24 hours');
    expect(received.html).toContain(`href="${content.link.replace('&', '&amp;')}"`);
    expect(received.html).toContain(content.token);

    // stop() waits for the round in flight, so the outcome is recorded when it returns.
    await live.deps.services.mail.stop();
    const row = await onlyOutboxRow(live.deps.db, to);
    expect(row.sent_at).not.toBeNull();
    expect(row.attempts).toBe(1);
    expect(row.last_error).toBeNull();
    // The token was in clear in the body: once sent, the row no longer holds it.
    expect(row.text_body).toBe('');
    expect(row.html_body).toBe('');
    expect(sink.mailTo(to)).toHaveLength(1);
  });

  it('never queues nor sends the mail of a rolled-back transaction', async () => {
    const rolledBack = uniqueEmail('rolled-back');
    const committed = uniqueEmail('committed');
    await expect(
      main.deps.db.transaction().execute(async (trx) => {
        await mail.enqueue(trx, rolledBack, verifyContent());
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await outboxTo(main.deps.db, rolledBack)).toHaveLength(0);

    await enqueueCommitted(main, committed);
    expect(await mail.runOnce()).toBe(1);
    // The sink records a mail before answering 250, so runOnce returning means it is there.
    expect(sink.mailTo(committed)).toHaveLength(1);
    expect(sink.mailTo(rolledBack)).toHaveLength(0);
  });

  it('survives an SMTP outage: the mail waits out the backoff and arrives exactly once', async () => {
    const to = uniqueEmail('outage');
    const content = verifyContent();
    await sink.stop();
    try {
      // Enqueueing never touches SMTP: the change commits during the outage.
      await enqueueCommitted(main, to, content);
      expect(await mail.runOnce()).toBe(0);
      const failed = await onlyOutboxRow(main.deps.db, to);
      expect(failed).toMatchObject({ attempts: 1, sent_at: null, failed_at: null });
      expect(failed.last_error).toMatch(/ECONNREFUSED/);
      expect(failed.last_error).not.toContain(content.token);
      expect(failed.last_error).not.toContain('confirm');
      expect(failed.last_error!.length).toBeLessThanOrEqual(300);
      expect(failed.next_attempt_at.getTime() - main.clock.now().getTime()).toBe(
        retryDelaySeconds(1) * 1000,
      );
      // Not due yet: no second attempt.
      expect(await mail.runOnce()).toBe(0);
      expect((await onlyOutboxRow(main.deps.db, to)).attempts).toBe(1);
    } finally {
      await sink.start();
    }
    // The server is back, but the retry waits for its time.
    expect(await mail.runOnce()).toBe(0);
    main.clock.advance(retryDelaySeconds(1));
    expect(await mail.runOnce()).toBe(1);
    expect(sink.mailTo(to)).toHaveLength(1);
    expect(sink.mailTo(to)[0]!.text).toContain(content.token);
    const sent = await onlyOutboxRow(main.deps.db, to);
    expect(sent).toMatchObject({ attempts: 2, last_error: null, failed_at: null });
    expect(sent.sent_at).not.toBeNull();

    // Long after: nothing is sent again.
    main.clock.advance(24 * 3600);
    expect(await mail.runOnce()).toBe(0);
    expect(sink.mailTo(to)).toHaveLength(1);
  });

  it('backs off 5 s, 10 s, 20 s … up to 15 min and gives up after the last attempt', async () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(retryDelaySeconds)).toEqual([
      5, 10, 20, 40, 80, 160, 320, 640, 900, 900,
    ]);
    const to = uniqueEmail('gives-up');
    await sink.stop();
    try {
      await enqueueCommitted(main, to);
      for (let attempt = 1; attempt <= MAIL_MAX_ATTEMPTS; attempt += 1) {
        expect(await mail.runOnce()).toBe(0);
        const row = await onlyOutboxRow(main.deps.db, to);
        expect(row.attempts).toBe(attempt);
        if (attempt === MAIL_MAX_ATTEMPTS) break;
        expect(row.failed_at).toBeNull();
        const wait = row.next_attempt_at.getTime() - main.clock.now().getTime();
        expect(wait).toBe(retryDelaySeconds(attempt) * 1000);
        main.clock.advance(wait / 1000);
      }
    } finally {
      await sink.start();
    }
    const given = await onlyOutboxRow(main.deps.db, to);
    expect(given.failed_at).not.toBeNull();
    expect(given.last_error).toMatch(/ECONNREFUSED/);
    expect(given.text_body).toBe('');
    main.clock.advance(24 * 3600);
    expect(await mail.runOnce()).toBe(0);
    expect(sink.mailTo(to)).toHaveLength(0);
  });

  it('forgets every mail to a recipient inside the caller’s transaction', async () => {
    const erased = uniqueEmail('erased');
    const kept = uniqueEmail('kept');
    await enqueueCommitted(main, erased);
    await enqueueCommitted(main, erased);
    await enqueueCommitted(main, kept);
    await main.deps.db.transaction().execute((trx) => mail.forgetRecipient(trx, erased));
    expect(await outboxTo(main.deps.db, erased)).toHaveLength(0);
    expect(await mail.runOnce()).toBe(1);
    expect(sink.mailTo(kept)).toHaveLength(1);
    expect(sink.mailTo(erased)).toHaveLength(0);
  });

  it('two instances on one database deliver each of 20 mails exactly once', async () => {
    const second = await startTestApp({ database: main.database, clock: main.clock, env });
    await second.deps.services.mail.stop();
    const recipients = Array.from({ length: 20 }, () => uniqueEmail('fanout'));
    await main.deps.db.transaction().execute(async (trx) => {
      for (const to of recipients) await mail.enqueue(trx, to, verifyContent());
    });

    let sent = 0;
    for (let round = 0; round < 10 && sent < recipients.length; round += 1) {
      const counts = await Promise.all([mail.runOnce(), second.deps.services.mail.runOnce()]);
      sent += counts[0] + counts[1];
    }
    expect(sent).toBe(recipients.length);
    for (const to of recipients) {
      expect(sink.mailTo(to)).toHaveLength(1);
      const row = await onlyOutboxRow(main.deps.db, to);
      // One claim each: no instance ever took a mail another was sending.
      expect(row.attempts).toBe(1);
      expect(row.sent_at).not.toBeNull();
    }
    main.clock.advance(3600);
    expect(await Promise.all([mail.runOnce(), second.deps.services.mail.runOnce()])).toEqual([
      0, 0,
    ]);
  });
});

describe('mail without SMTP_URL', () => {
  it('writes the mail to the log and marks it sent', async () => {
    const quiet = await startTestApp();
    await quiet.deps.services.mail.stop();
    const lines: { level: string; obj: object; msg: string }[] = [];
    const log: MailLog = {
      info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
      warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    };
    const service = new MailService({
      db: quiet.deps.db,
      clock: quiet.clock,
      config: quiet.config,
      log,
    });
    const to = uniqueEmail('logged');
    const content: MailContent = {
      template: 'password_reset',
      name: null,
      link: 'http://auth.test/account/reset-password#token=reset-tok-1',
      token: 'reset-tok-1',
      expiresInMinutes: 60,
    };
    await quiet.deps.db.transaction().execute((trx) => service.enqueue(trx, to, content));
    expect(await service.runOnce()).toBe(1);

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'mail (no SMTP_URL configured)',
      obj: { to, subject: 'Hyperion Auth: reset your password' },
    });
    const text = (lines[0]!.obj as { text: string }).text;
    expect(text).toContain(content.token);
    expect(text).toContain('1 hour');
    expect((await onlyOutboxRow(quiet.deps.db, to)).sent_at).not.toBeNull();
    expect(sink.mailTo(to)).toHaveLength(0);
  });
});
