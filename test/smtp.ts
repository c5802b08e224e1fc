import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { cleanUpAfter } from './cleanup.js';

/** One message as the sink received it. */
export interface ReceivedMail {
  /** The envelope recipient(s), comma-separated (one per mail from this service). */
  to: string;
  /** The From header as sent, e.g. `Hyperion <no-reply@auth.test>`. */
  from: string;
  subject: string;
  text: string;
  html: string;
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:PORT`, the value for SMTP_URL. */
  readonly url: string;
  readonly port: number;
  /** Everything received so far, oldest first (kept across stop/start). */
  readonly messages: readonly ReceivedMail[];
  /** Resolves with the first message (already received or arriving) that matches. */
  waitForMail(
    predicate: (mail: ReceivedMail) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedMail>;
  /** Every received message addressed to this recipient. */
  mailTo(address: string): ReceivedMail[];
  /** Closes the listener: connections are refused, as in an outage. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1 (plain text, no auth) that keeps what it receives, so
 * tests assert on mail that went through nodemailer and the wire, not through a mock.
 * Stopped after the file's tests.
 */
export interface SmtpSinkOptions {
  /**
   * Holds the reply to each message this long after receiving it: a slow server, so that a
   * test can act while a send is in flight (the message is in `messages` already).
   */
  replyDelayMs?: number;
}

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const arrivals = new EventEmitter();
  let server: SMTPServer | undefined;
  let port = 0;

  const listen = async () => {
    const next = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      secure: false,
      logger: false,
      // A stop in a test must not wait for lingering clients.
      closeTimeout: 500,
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            const mail: ReceivedMail = {
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address).join(', '),
              from: parsed.from?.text ?? '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
            };
            // Recorded before the 250 reply, so a sender that saw success finds it here.
            messages.push(mail);
            arrivals.emit('mail', mail);
            if (options.replyDelayMs) setTimeout(() => callback(), options.replyDelayMs);
            else callback();
          })
          .catch((error: Error) => callback(error));
      },
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        next.off('error', reject);
        resolve();
      });
    });
    // A client dropping mid-session is reported as an error event; the sink shrugs it off.
    next.on('error', () => {});
    port = (next.server.address() as AddressInfo).port;
    server = next;
  };

  const sink: SmtpSink = {
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    messages,
    waitForMail(predicate, timeoutMs = 5_000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const onMail = (mail: ReceivedMail) => {
          if (!predicate(mail)) return;
          clearTimeout(timer);
          arrivals.off('mail', onMail);
          resolve(mail);
        };
        const timer = setTimeout(() => {
          arrivals.off('mail', onMail);
          const seen = messages.map((mail) => `${mail.to}: ${mail.subject}`).join('; ');
          reject(
            new Error(`no matching mail within ${timeoutMs} ms (received: ${seen || 'none'})`),
          );
        }, timeoutMs);
        arrivals.on('mail', onMail);
      });
    },
    mailTo(address) {
      return messages.filter((mail) => mail.to === address);
    },
    async stop() {
      const current = server;
      server = undefined;
      if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    async start() {
      if (!server) await listen();
    },
  };
  await listen();
  cleanUpAfter(() => sink.stop());
  return sink;
}
