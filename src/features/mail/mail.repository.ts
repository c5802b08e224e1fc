import type { Db, Trx } from '../../db/create-db.js';
import type { MailTemplate, RenderedMail } from './mail.types.js';

/** A mail this worker has claimed; `attempts` (this attempt's number) fences later updates. */
export interface ClaimedMail {
  id: string;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  attempts: number;
}

export async function insertOutboxMail(
  db: Db,
  mail: { recipient: string; template: MailTemplate; rendered: RenderedMail; now: Date },
): Promise<void> {
  await db
    .insertInto('mail_outbox')
    .values({
      recipient: mail.recipient,
      template: mail.template,
      subject: mail.rendered.subject,
      text_body: mail.rendered.text,
      html_body: mail.rendered.html,
      // From the injected clock, not the column defaults' SQL now(): due times are compared
      // with the clock, and a test's clock need not agree with the database's.
      created_at: mail.now,
      next_attempt_at: mail.now,
    })
    .execute();
}

/**
 * Claims up to `limit` due mails for this worker: locked rows (another worker claiming right
 * now) are skipped, and the claimed ones are leased — due again only at `leaseUntil` — so no
 * other worker takes them while they are being sent, yet a worker that dies mid-send does not
 * strand them.
 */
export async function claimDueMails(
  trx: Trx,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<ClaimedMail[]> {
  const due = await trx
    .selectFrom('mail_outbox')
    .select('id')
    .where('sent_at', 'is', null)
    .where('failed_at', 'is', null)
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  if (due.length === 0) return [];
  return trx
    .updateTable('mail_outbox')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: leaseUntil }))
    .where(
      'id',
      'in',
      due.map((row) => row.id),
    )
    .returning(['id', 'recipient', 'subject', 'text_body', 'html_body', 'attempts'])
    .execute();
}

/**
 * A mail's body holds a one-time token in clear; once the mail is out (or given up) the row
 * keeps only who, what and when, so tokens live as hashes alone (API.md, account lifecycle).
 */
const SCRUBBED_BODY = { text_body: '', html_body: '' } as const;

/**
 * The outcome of one attempt. Each update matches only the attempt that claimed the row, so
 * a worker that overran its lease cannot overwrite the state a later claim wrote.
 */
export async function markMailSent(db: Db, mail: ClaimedMail, now: Date): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ sent_at: now, last_error: null, ...SCRUBBED_BODY })
    .where('id', '=', mail.id)
    .where('attempts', '=', mail.attempts)
    .where('sent_at', 'is', null)
    .execute();
}

export async function markMailRetry(
  db: Db,
  mail: ClaimedMail,
  nextAttemptAt: Date,
  error: string,
): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ next_attempt_at: nextAttemptAt, last_error: error })
    .where('id', '=', mail.id)
    .where('attempts', '=', mail.attempts)
    .where('sent_at', 'is', null)
    .execute();
}

export async function markMailFailed(
  db: Db,
  mail: ClaimedMail,
  now: Date,
  error: string,
): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ failed_at: now, last_error: error, ...SCRUBBED_BODY })
    .where('id', '=', mail.id)
    .where('attempts', '=', mail.attempts)
    .where('sent_at', 'is', null)
    .execute();
}

/** Erases every mail to this address, sent or pending (the account behind it is deleted). */
export async function deleteMailsTo(db: Db, recipient: string): Promise<void> {
  await db.deleteFrom('mail_outbox').where('recipient', '=', recipient).execute();
}

/** Mail still to be sent: neither accepted by the server nor given up on. */
export async function countPendingMails(db: Db): Promise<number> {
  const row = await db
    .selectFrom('mail_outbox')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('sent_at', 'is', null)
    .where('failed_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
