import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { json, signUp, startTestApp } from '../../../test/app.js';

const { app, deps } = await startTestApp({ env: { CORS_ORIGINS: 'https://app.example.com' } });

interface Cookie {
  name: string;
  value: string;
  attributes: string[];
}

function cookiesOf(response: LightMyRequestResponse): Map<string, Cookie> {
  const header = response.headers['set-cookie'];
  const lines = Array.isArray(header) ? header : header ? [header] : [];
  const cookies = new Map<string, Cookie>();
  for (const line of lines) {
    const [pair, ...attributes] = line.split(';').map((part) => part.trim());
    const [name, ...value] = pair!.split('=');
    cookies.set(name!, { name: name!, value: value.join('='), attributes });
  }
  return cookies;
}

async function cookieSignIn(viaHeader = false) {
  const { email, password } = await signUp(app);
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/signin',
    payload: viaHeader ? { email, password } : { email, password, cookie: true },
    headers: viaHeader ? { 'x-auth-cookie': '1' } : {},
  });
  expect(response.statusCode).toBe(200);
  const cookies = cookiesOf(response);
  return {
    response,
    refresh: cookies.get('hyperion_refresh')!,
    csrf: cookies.get('hyperion_csrf')!,
  };
}

const refreshWithCookies = (
  refresh: string,
  csrf: string | undefined,
  headers: Record<string, string> = {},
) =>
  app.inject({
    method: 'POST',
    url: '/api/auth/refresh',
    headers: {
      cookie: `hyperion_refresh=${refresh}; hyperion_csrf=${csrf ?? ''}`,
      ...(csrf ? { 'x-csrf-token': csrf } : {}),
      ...headers,
    },
  });

describe('cookie mode', () => {
  it.each([false, true])(
    'delivers the refresh token as an HttpOnly, Secure, SameSite=Strict cookie (header: %s)',
    async (viaHeader) => {
      const { response, refresh, csrf } = await cookieSignIn(viaHeader);
      const body = json(response);
      expect(body['refresh_token']).toBeUndefined();
      expect(body['access_token']).toBeTruthy();
      expect(body['csrf_token']).toBe(csrf.value);
      expect(refresh.attributes).toEqual(
        expect.arrayContaining(['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/api/auth']),
      );
      expect(refresh.attributes).toContain(`Max-Age=${deps.config.refreshTokenTtl}`);
      expect(csrf.attributes).not.toContain('HttpOnly');
      expect(csrf.attributes).toEqual(expect.arrayContaining(['Secure', 'SameSite=Strict']));
    },
  );

  it('refreshes from the cookie with the CSRF header, rotating the cookie', async () => {
    const { refresh, csrf } = await cookieSignIn();
    const response = await refreshWithCookies(refresh.value, csrf.value, {
      origin: 'https://app.example.com',
    });
    expect(response.statusCode).toBe(200);
    expect(json(response)['refresh_token']).toBeUndefined();
    const rotated = cookiesOf(response).get('hyperion_refresh');
    expect(rotated?.value).toBeTruthy();
    expect(rotated?.value).not.toBe(refresh.value);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('refuses a cookie refresh without the CSRF header, with a wrong one, or from a foreign origin', async () => {
    const { refresh, csrf } = await cookieSignIn();
    const noHeader = await app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      headers: { cookie: `hyperion_refresh=${refresh.value}; hyperion_csrf=${csrf.value}` },
    });
    expect(noHeader.statusCode).toBe(403);
    expect(json(noHeader)['code']).toBe('forbidden');
    expect(
      (await refreshWithCookies(refresh.value, csrf.value, { 'x-csrf-token': 'forged' }))
        .statusCode,
    ).toBe(403);
    expect(
      (await refreshWithCookies(refresh.value, csrf.value, { origin: 'https://evil.example' }))
        .statusCode,
    ).toBe(403);
    // None of the refused attempts spent the token.
    expect((await refreshWithCookies(refresh.value, csrf.value)).statusCode).toBe(200);
  });

  it('clears the cookies at sign-out', async () => {
    const { response } = await cookieSignIn();
    const access = json<{ access_token: string }>(response).access_token;
    const signout = await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: { authorization: `Bearer ${access}` },
    });
    expect(signout.statusCode).toBe(204);
    const cleared = cookiesOf(signout);
    expect(cleared.get('hyperion_refresh')?.value).toBe('');
    expect(cleared.get('hyperion_refresh')?.attributes.join(';')).toMatch(
      /Max-Age=0|Expires=Thu, 01 Jan 1970/,
    );
  });

  it('signs out with the refresh cookie alone (CSRF-checked) when the access token is gone', async () => {
    const { response, refresh, csrf } = await cookieSignIn();
    const access = json<{ access_token: string }>(response).access_token;
    const cookie = `hyperion_refresh=${refresh.value}; hyperion_csrf=${csrf.value}`;
    const forged = await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: { cookie },
    });
    expect(forged.statusCode).toBe(403);
    const me = () =>
      app.inject({
        method: 'GET',
        url: '/api/auth/me',
        headers: { authorization: `Bearer ${access}` },
      });
    expect((await me()).statusCode).toBe(200);

    const signout = await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: { cookie, 'x-csrf-token': csrf.value },
    });
    expect(signout.statusCode).toBe(204);
    expect((await me()).statusCode).toBe(401);
    expect((await refreshWithCookies(refresh.value, csrf.value)).statusCode).toBe(401);
  });
});
