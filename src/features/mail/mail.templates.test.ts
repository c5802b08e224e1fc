import { describe, expect, it } from 'vitest';
import { renderMail } from './mail.templates.js';
import type { MailContent } from './mail.types.js';

const options = { publicUrl: 'http://auth.test' };
const at = new Date('2026-02-04T10:30:00Z');

const samples: MailContent[] = [
  {
    template: 'verify_email',
    name: 'Ada',
    link: 'http://auth.test/account/verify-email#token=v-tok',
    token: 'v-tok',
    expiresInHours: 24,
  },
  {
    template: 'password_reset',
    name: 'Ada',
    link: 'http://auth.test/account/reset-password#token=r-tok',
    token: 'r-tok',
    expiresInMinutes: 60,
  },
  { template: 'password_changed', name: 'Ada', at, ip: '203.0.113.7' },
  {
    template: 'new_signin',
    name: 'Ada',
    at,
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
  },
  {
    template: 'email_signin',
    name: 'Ada',
    link: 'http://auth.test/account/email-signin#token=s-tok',
    token: 's-tok',
    expiresInMinutes: 15,
  },
  {
    template: 'email_signin',
    name: 'Ada',
    link: 'http://auth.test/account/email-signin#token=b-tok',
    expiresInMinutes: 15,
  },
];

describe('renderMail', () => {
  it.each(samples)('renders a subject, a text and an HTML part for $template', (content) => {
    const mail = renderMail(content, options);
    expect(mail.subject).toMatch(/^Hyperion Auth: \S/);
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.text).toMatch(/^Hello Ada,\n/);
    expect(mail.text).toContain('http://auth.test');
    expect(mail.html).toMatch(/^<!doctype html>/);
    expect(mail.html).toContain('Hello Ada,');
    expect(mail.html).toContain('</html>');
  });

  it('puts the link, the raw token and the expiry in the text of token mails', () => {
    const [verify, reset] = samples.map((content) => renderMail(content, options));
    expect(verify!.text).toContain('http://auth.test/account/verify-email#token=v-tok');
    expect(verify!.text).toContain('\nv-tok\n');
    expect(verify!.text).toContain('expires in 24 hours');
    expect(reset!.text).toContain('http://auth.test/account/reset-password#token=r-tok');
    expect(reset!.text).toContain('\nr-tok\n');
    expect(reset!.text).toContain('expires in 1 hour');
    expect(
      renderMail({ ...samples[1]!, expiresInMinutes: 30 } as MailContent, options).text,
    ).toContain('expires in 30 minutes');
  });

  it('offers the token of an e-mail sign-in link to apps only when the link is not bound to a browser', () => {
    const [unbound, bound] = samples
      .filter((content) => content.template === 'email_signin')
      .map((content) => renderMail(content, options));
    expect(unbound!.text).toContain('http://auth.test/account/email-signin#token=s-tok');
    expect(unbound!.text).toContain('\ns-tok\n');
    expect(unbound!.text).toContain('expires in 15 minutes');
    expect(bound!.text).toContain('http://auth.test/account/email-signin#token=b-tok');
    expect(bound!.text).not.toContain('\nb-tok\n');
    expect(bound!.text).toContain('in the browser where you asked for it');
  });

  it('states when and from where for notices', () => {
    const changed = renderMail(samples[2]!, options);
    expect(changed.text).toContain('When: 2026-02-04 10:30 UTC');
    expect(changed.text).toContain('IP address: 203.0.113.7');
    const signin = renderMail(samples[3]!, options);
    expect(signin.text).toContain('Device: Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0');
    expect(signin.html).toContain('Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0');
  });

  it('escapes every interpolated value in the HTML part', () => {
    const name = '<script>alert("name")</script>';
    const hostile = [
      renderMail(
        {
          template: 'verify_email',
          name,
          link: 'http://auth.test/v?token=a&x="><script>alert(1)</script>',
          token: '<b>tok</b>',
          expiresInHours: 24,
        },
        options,
      ),
      renderMail(
        {
          template: 'new_signin',
          name,
          at,
          ip: '<i>ip</i>',
          userAgent: '<img src=x onerror=alert(1)>',
        },
        options,
      ),
    ];
    for (const mail of hostile) {
      expect(mail.html).not.toContain('<script>');
      expect(mail.html).not.toContain('<img');
      expect(mail.html).not.toContain('<b>');
      expect(mail.html).not.toContain('<i>');
      expect(mail.html).toContain('&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;');
    }
    expect(hostile[0]!.html).toContain('href="http://auth.test/v?token=a&amp;x=&quot;&gt;');
    expect(hostile[1]!.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('flattens a name to one short line, so it cannot lay out text of its own', () => {
    const mail = renderMail(
      {
        ...samples[0]!,
        name: `Bob\r\n\r\nYour account is locked.\nCall +1 555 0100\u2028${'x'.repeat(200)}`,
      } as MailContent,
      options,
    );
    const firstLine = mail.text.split('\n')[0]!;
    expect(firstLine).toMatch(/^Hello Bob Your account is locked\. Call \+1 555 0100 x+…,$/);
    expect(firstLine.length).toBeLessThanOrEqual('Hello ,'.length + 64);
  });

  it('greets without a name when there is none, and names the product asked for', () => {
    const mail = renderMail({ ...samples[2]!, name: null } as MailContent, {
      ...options,
      productName: 'Acme ID',
    });
    expect(mail.text).toMatch(/^Hello,\n/);
    expect(mail.subject).toBe('Acme ID: your password was changed');
  });
});
