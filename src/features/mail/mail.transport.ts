import { createTransport } from 'nodemailer';
import type { Config } from '../../config/config.js';

/** Where the service's mail goes; pino's logger fits. */
export interface MailLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Delivers one mail; resolves once the server accepted it, rejects otherwise. */
export type SendMail = (mail: OutgoingMail) => Promise<void>;

// One attempt ends well inside the worker's lease (60 s), so a slow server cannot make a
// second worker pick the same mail up while this one is still talking to it.
const CONNECTION_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 20_000;
const SEND_TIMEOUT_MS = 40_000;

/**
 * SMTP through nodemailer when SMTP_URL is set (TLS and auth options come from the URL);
 * without it every mail is written to the log, so development needs no mail server.
 */
export function createSendMail(
  config: Pick<Config, 'smtpUrl' | 'mailFrom'>,
  log: MailLog,
): SendMail {
  if (!config.smtpUrl) {
    return async ({ to, subject, text }) => {
      log.info({ to, subject, text }, 'mail (no SMTP_URL configured)');
    };
  }
  const transport = createTransport({
    url: config.smtpUrl,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: CONNECTION_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
  });
  return async ({ to, subject, text, html }) => {
    await transport.sendMail({
      from: config.mailFrom,
      to,
      subject,
      text,
      html,
      // RFC 3834: an automatic message; vacation responders should not answer it.
      headers: { 'Auto-Submitted': 'auto-generated' },
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
  };
}

/**
 * A one-line reason for `last_error` and the log: the error's code, SMTP reply code and
 * message, never the mail itself (it carries one-time tokens).
 */
export function describeSendError(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const { code, responseCode } = error as Error & { code?: unknown; responseCode?: unknown };
  const parts = [
    typeof code === 'string' ? code : undefined,
    typeof responseCode === 'number' ? String(responseCode) : undefined,
    error.message,
  ];
  return parts
    .filter((part) => part !== undefined && part !== '')
    .join(' ')
    .replace(/\s+/g, ' ')
    .slice(0, 300);
}
