import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signedInUser, startTestApp } from '../../test/app.js';
import { helmetHeaders } from './security.js';

const { app } = await startTestApp({ env: { CORS_ORIGINS: 'https://app.example' } });

describe('security headers', () => {
  it('every JSON answer carries helmet headers and a CSP that loads nothing', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(response.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['content-security-policy']).toBe(
      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    expect(response.headers['x-powered-by']).toBeUndefined();
  });

  it("are exactly helmet's, read once from helmet itself", async () => {
    const expected = helmetHeaders();
    expect(Object.keys(expected)).toEqual(
      expect.arrayContaining(['x-content-type-options', 'strict-transport-security']),
    );
    const response = await app.inject({ method: 'GET', url: '/health' });
    for (const [name, value] of Object.entries(expected))
      expect(response.headers[name], name).toBe(value);
  });

  it("a gateway's forward-auth check gets only what it needs: identity, request id, no-store", async () => {
    const user = await signedInUser(app);
    for (const authorization of [`Bearer ${user.tokens.access_token}`, 'Bearer nope']) {
      const response = await app.inject({
        method: 'GET',
        url: '/api/auth/verify',
        headers: { authorization },
      });
      expect(response.headers['x-request-id']).toEqual(expect.any(String));
      expect(response.headers['cache-control']).toBe('no-store');
      for (const name of [...Object.keys(helmetHeaders()), 'content-security-policy'])
        expect(response.headers[name], name).toBeUndefined();
    }
  });

  it('problems carry them too', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/auth/me' });
    expect(response.statusCode).toBe(401);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('the e-mail link pages allow only their own inline script and style, by hash', async () => {
    const response = await app.inject({ method: 'GET', url: '/account/reset-password' });
    const csp = String(response.headers['content-security-policy']);
    const script = /<script>([\s\S]*?)<\/script>/.exec(response.body)?.[1] ?? '';
    const hash = createHash('sha256').update(script).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('the interactive docs may load their own scripts', async () => {
    const response = await app.inject({ method: 'GET', url: '/docs/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('token answers are never stored', async () => {
    const user = await signedInUser(app);
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refresh_token: user.tokens.refresh_token },
    });
    expect(response.headers['cache-control']).toBe('no-store');
  });
});

describe('CORS', () => {
  it('answers a listed origin, with credentials and the headers a client needs', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { origin: 'https://app.example' },
    });
    expect(response.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(String(response.headers['access-control-expose-headers'])).toContain('retry-after');
  });

  it('a preflight from a listed origin is allowed; another origin gets no CORS headers', async () => {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/auth/signin',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(preflight.headers['access-control-allow-headers'])).toContain('content-type');

    const other = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('without CORS_ORIGINS no origin is allowed', async () => {
    const { app: closed } = await startTestApp();
    const response = await closed.inject({
      method: 'GET',
      url: '/health',
      headers: { origin: 'https://app.example' },
    });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });
});
