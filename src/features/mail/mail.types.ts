/** Every mail the service sends, with what its template needs. */
export type MailContent =
  | {
      template: 'verify_email';
      name: string | null;
      /** Opens the verification page; carries the one-time token. */
      link: string;
      token: string;
      expiresInHours: number;
    }
  | {
      template: 'password_reset';
      name: string | null;
      link: string;
      token: string;
      expiresInMinutes: number;
    }
  | {
      template: 'email_signin';
      name: string | null;
      link: string;
      /** For an app to send to POST /api/auth/email-link/verify; left out of a browser-bound link. */
      token?: string;
      expiresInMinutes: number;
    }
  | { template: 'password_changed'; name: string | null; at: Date; ip: string | null }
  | {
      template: 'new_signin';
      name: string | null;
      at: Date;
      ip: string | null;
      userAgent: string | null;
    };

export type MailTemplate = MailContent['template'];

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}
