import type { Config } from '../../config/config.js';
import type { Db } from '../../db/create-db.js';
import { type Clock, addSeconds } from '../../lib/clock.js';
import {
  type ClaimedMail,
  claimDueMails,
  countPendingMails,
  deleteMailsTo,
  insertOutboxMail,
  markMailFailed,
  markMailRetry,
  markMailSent,
} from './mail.repository.js';
import { renderMail } from './mail.templates.js';
import {
  type MailLog,
  type SendMail,
  createSendMail,
  describeSendError,
} from './mail.transport.js';
import type { MailContent } from './mail.types.js';

export type { MailLog } from './mail.transport.js';

export interface MailServiceDeps {
  db: Db;
  clock: Clock;
  config: Pick<Config, 'smtpUrl' | 'mailFrom' | 'publicUrl'>;
  log: MailLog;
}

export interface MailServiceOptions {
  /** How often the worker looks for due mail; 1 s. */
  pollIntervalMs?: number;
  /** Mails claimed (and sent in parallel) per round; 10. */
  batchSize?: number;
  /** Attempts before a mail is given up (`failed_at`); 10. */
  maxAttempts?: number;
}

/** How long a claim holds a mail: far beyond one send's timeout (see mail.transport.ts). */
export const MAIL_LEASE_SECONDS = 60;
export const MAIL_MAX_ATTEMPTS = 10;
const FIRST_RETRY_SECONDS = 5;
const MAX_RETRY_SECONDS = 15 * 60;
// After an enqueue, look again this soon: the enqueuing transaction has likely committed.
const WAKE_DELAY_MS = 50;

/** Seconds until the next try after `attempts` failed ones: 5, 10, 20, … capped at 15 min. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(FIRST_RETRY_SECONDS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_SECONDS);
}

/**
 * The transactional outbox: `enqueue` writes a mail in the caller's transaction, so it is
 * sent if and only if the change that caused it commits; the worker sends it afterwards,
 * retrying through SMTP outages. Delivery is at least once: a worker dying between the
 * server's acceptance and `sent_at` resends the mail after its lease.
 */
export class MailService {
  readonly #deps: MailServiceDeps;
  readonly #send: SendMail;
  readonly #pollIntervalMs: number;
  readonly #batchSize: number;
  readonly #maxAttempts: number;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  /** When the waiting timer fires (ms since the epoch, real time like the timer itself). */
  #timerDueAt = 0;
  #wakeRequested = false;
  /** The current (or last) round; rounds of one instance never overlap. */
  #round: Promise<unknown> = Promise.resolve();

  constructor(deps: MailServiceDeps, options: MailServiceOptions = {}) {
    this.#deps = deps;
    this.#send = createSendMail(deps.config, deps.log);
    this.#pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.#batchSize = options.batchSize ?? 10;
    this.#maxAttempts = options.maxAttempts ?? MAIL_MAX_ATTEMPTS;
  }

  /**
   * Queues a mail in `db`, the caller's transaction: it commits or rolls back with the
   * change. Sends nothing; rendering is pure, so the transaction stays short.
   */
  async enqueue(db: Db, to: string, content: MailContent): Promise<void> {
    const rendered = renderMail(content, { publicUrl: this.#deps.config.publicUrl });
    await insertOutboxMail(db, {
      recipient: to,
      template: content.template,
      rendered,
      now: this.#deps.clock.now(),
    });
    this.#wake();
  }

  /**
   * Deletes every mail addressed to `recipient`, sent or pending, in `db` (the caller's
   * transaction): an erased account leaves no address or token behind in the outbox.
   */
  async forgetRecipient(db: Db, recipient: string): Promise<void> {
    await deleteMailsTo(db, recipient);
  }

  /** How many mails wait to be sent (the outbox depth operators watch). */
  async pendingCount(): Promise<number> {
    return countPendingMails(this.#deps.db);
  }

  /** Starts the background worker (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stops polling and waits for a round in flight, so shutdown never cuts a send short. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#round.catch(() => {});
  }

  /** One claim-and-send round; resolves with how many mails the server accepted. */
  async runOnce(): Promise<number> {
    return (await this.#nextRound()).sent;
  }

  #nextRound(): Promise<{ claimed: number; sent: number }> {
    const round = this.#round.catch(() => {}).then(() => this.#claimAndSend());
    this.#round = round;
    return round;
  }

  async #claimAndSend(): Promise<{ claimed: number; sent: number }> {
    const { db, clock } = this.#deps;
    const now = clock.now();
    // The claim's row locks (skip locked) only fence off other workers inside a transaction.
    const claimed = await db
      .transaction()
      .execute((trx) =>
        claimDueMails(trx, now, addSeconds(now, MAIL_LEASE_SECONDS), this.#batchSize),
      );
    // Sent outside any transaction, in parallel: one slow recipient server holds up no one.
    const results = await Promise.all(claimed.map((mail) => this.#deliver(mail)));
    return { claimed: claimed.length, sent: results.filter(Boolean).length };
  }

  async #deliver(mail: ClaimedMail): Promise<boolean> {
    const { db, clock, log } = this.#deps;
    try {
      await this.#send({
        to: mail.recipient,
        subject: mail.subject,
        text: mail.text_body,
        html: mail.html_body,
      });
    } catch (error) {
      await this.#recordFailure(mail, describeSendError(error));
      return false;
    }
    try {
      await markMailSent(db, mail, clock.now());
    } catch (error) {
      // Delivered but not recorded: the lease runs out and the mail goes again (at least once).
      log.warn({ err: error, mail_id: mail.id }, 'mail sent but not marked as sent');
    }
    return true;
  }

  async #recordFailure(mail: ClaimedMail, error: string): Promise<void> {
    const { db, clock, log } = this.#deps;
    const now = clock.now();
    const giveUp = mail.attempts >= this.#maxAttempts;
    const context = { mail_id: mail.id, attempts: mail.attempts, error };
    try {
      if (giveUp) {
        await markMailFailed(db, mail, now, error);
        log.warn(context, 'mail delivery failed; giving up');
      } else {
        const delay = retryDelaySeconds(mail.attempts);
        await markMailRetry(db, mail, addSeconds(now, delay), error);
        log.warn({ ...context, retry_in_seconds: delay }, 'mail delivery failed; will retry');
      }
    } catch (dbError) {
      // The lease still holds the mail back and then makes it due again: nothing is lost.
      log.warn({ ...context, err: dbError }, 'mail delivery failed and could not be rescheduled');
    }
  }

  #wake(): void {
    if (!this.#running) return;
    this.#wakeRequested = true;
    // A round in flight sees the request when it reschedules; a waiting timer is brought
    // forward, but never pushed back (a stream of enqueues must not starve the worker).
    if (this.#timer && this.#timerDueAt > Date.now() + WAKE_DELAY_MS) this.#schedule(WAKE_DELAY_MS);
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    this.#timerDueAt = Date.now() + delayMs;
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    // The worker alone never keeps the process alive (CLI commands build the same deps).
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#wakeRequested = false;
    let claimedFullBatch = false;
    try {
      claimedFullBatch = (await this.#nextRound()).claimed >= this.#batchSize;
    } catch (error) {
      this.#deps.log.warn({ err: error }, 'mail worker round failed');
    }
    // A full batch means more may be waiting: go on at once rather than a poll later.
    const soon = claimedFullBatch || this.#wakeRequested;
    this.#schedule(soon ? WAKE_DELAY_MS : this.#pollIntervalMs);
  }
}
