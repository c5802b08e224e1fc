import type { MailContent, RenderedMail } from './mail.types.js';

export interface RenderOptions {
  productName?: string;
  /** The service's public base URL, named in every mail's footer. */
  publicUrl: string;
}

const DEFAULT_PRODUCT_NAME = 'Hyperion Auth';

/** Escapes a value for HTML text and for a double- or single-quoted attribute. */
export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/**
 * User-supplied text (a name, a user agent) flattened to one short line: whoever signs up
 * chooses the name, and the verification mail goes to an address they may not own, so a
 * name must not be able to lay out a convincing paragraph of its own.
 */
function oneLine(value: string, maxLength: number): string {
  const flat = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]+/g, ' ').trim();
  return flat.length > maxLength ? `${flat.slice(0, maxLength - 1)}…` : flat;
}

function greeting(name: string | null): string {
  const shown = name ? oneLine(name, 64) : '';
  return shown ? `Hello ${shown},` : 'Hello,';
}

function formatTime(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function formatMinutes(minutes: number): string {
  if (minutes >= 60 && minutes % 60 === 0) return formatHours(minutes / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

function formatHours(hours: number): string {
  return hours === 1 ? '1 hour' : `${hours} hours`;
}

/** A mail body as blocks: a paragraph, a link button, a code to copy, or label/value facts. */
type Block =
  | { kind: 'p'; text: string }
  | { kind: 'link'; href: string }
  | { kind: 'code'; label: string; code: string }
  | { kind: 'facts'; rows: [string, string][] };

interface Body {
  subject: string;
  greeting: string;
  blocks: Block[];
}

function bodyOf(content: MailContent, product: string): Body {
  const hello = greeting(content.name);
  switch (content.template) {
    case 'verify_email':
      return {
        subject: `${product}: confirm your e-mail address`,
        greeting: hello,
        blocks: [
          {
            kind: 'p',
            text: `Please confirm your e-mail address for ${product} by opening this link:`,
          },
          { kind: 'link', href: content.link },
          {
            kind: 'code',
            label: 'Or, in an app, enter this verification token:',
            code: content.token,
          },
          {
            kind: 'p',
            text: `The link expires in ${formatHours(content.expiresInHours)} and works once. If you did not create an account, ignore this e-mail.`,
          },
        ],
      };
    case 'password_reset':
      return {
        subject: `${product}: reset your password`,
        greeting: hello,
        blocks: [
          {
            kind: 'p',
            text: `Someone asked to reset the password of your ${product} account. To choose a new one, open this link:`,
          },
          { kind: 'link', href: content.link },
          { kind: 'code', label: 'Or, in an app, enter this reset token:', code: content.token },
          {
            kind: 'p',
            text: `The link expires in ${formatMinutes(content.expiresInMinutes)} and works once. If you did not ask for this, ignore this e-mail: your password stays as it is.`,
          },
        ],
      };
    case 'email_signin':
      return {
        subject: `${product}: your sign-in link`,
        greeting: hello,
        blocks: [
          {
            kind: 'p',
            text: `Someone asked to sign in to your ${product} account with a link sent to this address. To sign in, open this link:`,
          },
          { kind: 'link', href: content.link },
          ...(content.token === undefined
            ? [
                {
                  kind: 'p' as const,
                  text: 'Open it in the browser where you asked for it.',
                },
              ]
            : [
                {
                  kind: 'code' as const,
                  label: 'Or, in an app, enter this sign-in token:',
                  code: content.token,
                },
              ]),
          {
            kind: 'p',
            text: `The link expires in ${formatMinutes(content.expiresInMinutes)} and works once. If you did not ask for this, ignore this e-mail: nobody is signed in unless the link is opened.`,
          },
        ],
      };
    case 'password_changed':
      return {
        subject: `${product}: your password was changed`,
        greeting: hello,
        blocks: [
          { kind: 'p', text: `The password of your ${product} account was changed.` },
          {
            kind: 'facts',
            rows: [
              ['When', formatTime(content.at)],
              ['IP address', content.ip ?? 'unknown'],
            ],
          },
          {
            kind: 'p',
            text: 'If this was you, there is nothing to do. If it was not, reset your password right away and tell your administrator.',
          },
        ],
      };
    case 'new_signin':
      return {
        subject: `${product}: new sign-in to your account`,
        greeting: hello,
        blocks: [
          { kind: 'p', text: `Your ${product} account was just signed in to.` },
          {
            kind: 'facts',
            rows: [
              ['When', formatTime(content.at)],
              ['IP address', content.ip ?? 'unknown'],
              ['Device', content.userAgent ? oneLine(content.userAgent, 200) : 'unknown'],
            ],
          },
          {
            kind: 'p',
            text: 'If this was you, there is nothing to do. If it was not, change your password right away and sign out your other sessions.',
          },
        ],
      };
  }
}

function renderText(body: Body, footer: string): string {
  const parts = [body.greeting];
  for (const block of body.blocks) {
    if (block.kind === 'p') parts.push(block.text);
    else if (block.kind === 'link') parts.push(block.href);
    else if (block.kind === 'code') parts.push(`${block.label}\n${block.code}`);
    else parts.push(block.rows.map(([label, value]) => `${label}: ${value}`).join('\n'));
  }
  parts.push(`-- \n${footer}`);
  return `${parts.join('\n\n')}\n`;
}

const STYLE = {
  body: 'margin:0;padding:24px;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#1f2328;background:#ffffff',
  button:
    'display:inline-block;padding:10px 18px;background:#1f6feb;color:#ffffff;text-decoration:none;border-radius:6px',
  code: 'display:inline-block;padding:6px 10px;background:#f3f4f6;font-family:Menlo,Consolas,monospace;font-size:14px;word-break:break-all',
  footer: 'margin-top:32px;font-size:12px;color:#656d76',
};

function renderHtmlBlock(block: Block): string {
  if (block.kind === 'p') return `<p>${escapeHtml(block.text)}</p>`;
  if (block.kind === 'link') {
    const href = escapeHtml(block.href);
    // The button for a click; the bare URL below it for clients that strip buttons.
    return (
      `<p><a href="${href}" style="${STYLE.button}">Open the link</a></p>` +
      `<p style="font-size:13px;word-break:break-all"><a href="${href}">${href}</a></p>`
    );
  }
  if (block.kind === 'code') {
    return `<p>${escapeHtml(block.label)}<br><code style="${STYLE.code}">${escapeHtml(block.code)}</code></p>`;
  }
  const rows = block.rows
    .map(
      ([label, value]) =>
        `<tr><td style="padding:2px 16px 2px 0;color:#656d76">${escapeHtml(label)}</td><td>${escapeHtml(value)}</td></tr>`,
    )
    .join('');
  return `<table role="presentation" style="border-collapse:collapse">${rows}</table>`;
}

function renderHtml(body: Body, footer: string): string {
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(body.subject)}</title></head>`,
    `<body style="${STYLE.body}">`,
    `<p>${escapeHtml(body.greeting)}</p>`,
    ...body.blocks.map(renderHtmlBlock),
    `<p style="${STYLE.footer}">${escapeHtml(footer)}</p>`,
    '</body></html>',
  ].join('\n');
}

/** Subject, plain-text and HTML parts of one mail; every interpolated value is escaped in HTML. */
export function renderMail(content: MailContent, options: RenderOptions): RenderedMail {
  const product = options.productName ?? DEFAULT_PRODUCT_NAME;
  const body = bodyOf(content, product);
  const footer = `Sent by ${product} (${options.publicUrl}).`;
  return { subject: body.subject, text: renderText(body, footer), html: renderHtml(body, footer) };
}
