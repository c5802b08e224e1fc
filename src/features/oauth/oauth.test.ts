import { describe, expect, it } from 'vitest';
import { type TokenBody, json, signUp, startTestApp } from '../../../test/app.js';

const { app, deps, clock } = await startTestApp();

const form = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: '/api/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(params).toString(),
  });

function expectOAuthError(
  response: Awaited<ReturnType<typeof form>>,
  status: number,
  error: string,
) {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(response.headers['cache-control']).toBe('no-store');
  const body = json(response);
  expect(body['error']).toBe(error);
  expect(typeof body['error_description']).toBe('string');
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
}

describe('POST /api/auth/token', () => {
  it('grants tokens for grant_type=password, form-encoded (RFC 6749 §4.3)', async () => {
    const { email, password, user } = await signUp(app);
    const response = await form({ grant_type: 'password', username: email, password });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['pragma']).toBe('no-cache');
    const body = json<TokenBody>(response);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: deps.config.accessTokenTtl });
    expect(body.refresh_token).toBeTruthy();
    expect(body.user.id).toBe(user.id);
  });

  it('accepts JSON too, and refresh_token grants rotate like /api/auth/refresh', async () => {
    const { email, password } = await signUp(app);
    const first = json<TokenBody>(
      await app.inject({
        method: 'POST',
        url: '/api/auth/token',
        payload: { grant_type: 'password', username: email, password },
      }),
    );
    const refreshed = await form({
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
    });
    expect(refreshed.statusCode).toBe(200);
    const second = json<TokenBody>(refreshed);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    clock.advance(deps.config.refreshReuseInterval + 1);
    expectOAuthError(
      await form({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
      400,
      'invalid_grant',
    );
    // Reuse revoked the session: the child is dead too.
    expectOAuthError(
      await form({ grant_type: 'refresh_token', refresh_token: second.refresh_token }),
      400,
      'invalid_grant',
    );
  });

  it('ignores client credentials a public client (Swagger UI) sends with the password grant', async () => {
    const { email, password } = await signUp(app);
    const basic = `Basic ${Buffer.from('swagger-ui:').toString('base64')}`;
    const response = await form(
      { grant_type: 'password', username: email, password, client_id: 'swagger-ui' },
      { authorization: basic },
    );
    expect(response.statusCode).toBe(200);
  });

  it.each([
    [
      'a wrong password',
      { grant_type: 'password', username: 'nobody@example.com', password: 'wrong-password' },
      400,
      'invalid_grant',
    ],
    ['a missing grant_type', { username: 'a@example.com' }, 400, 'invalid_request'],
    [
      'a missing password',
      { grant_type: 'password', username: 'a@example.com' },
      400,
      'invalid_request',
    ],
    [
      'an unknown grant type',
      { grant_type: 'urn:example:unknown', code: 'x' },
      400,
      'unsupported_grant_type',
    ],
    [
      'an unknown refresh token',
      { grant_type: 'refresh_token', refresh_token: 'nope' },
      400,
      'invalid_grant',
    ],
    [
      'client_credentials without client authentication',
      { grant_type: 'client_credentials' },
      401,
      'invalid_client',
    ],
  ])('answers %s with the RFC 6749 error', async (_label, params, status, error) => {
    expectOAuthError(await form(params as Record<string, string>), status, error);
  });

  it('asks for Basic client authentication when it fails (RFC 6749 §5.2)', async () => {
    const response = await form({ grant_type: 'client_credentials' });
    expect(response.headers['www-authenticate']).toMatch(/^Basic/);
  });

  it('refuses a repeated parameter, malformed JSON and an unsupported content type as invalid_request', async () => {
    const repeated = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=password&grant_type=refresh_token',
    });
    expectOAuthError(repeated, 400, 'invalid_request');
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { 'content-type': 'application/json' },
      payload: '{"grant_type":',
    });
    expectOAuthError(malformed, 400, 'invalid_request');
    const xml = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { 'content-type': 'application/xml' },
      payload: '<grant_type>password</grant_type>',
    });
    // OAuth clients expect the endpoint's own format for every failure, content type included.
    expectOAuthError(xml, 400, 'invalid_request');
  });

  it('is advertised in the OpenAPI document as the password and client credentials flows', async () => {
    type Flow = { tokenUrl: string };
    const doc = json<{
      components: {
        securitySchemes: Record<string, { flows?: { password?: Flow; clientCredentials?: Flow } }>;
      };
    }>(await app.inject({ method: 'GET', url: '/openapi.json' }));
    const flows = doc.components.securitySchemes['oauth2']?.flows;
    expect(flows?.password?.tokenUrl).toBe(`${deps.config.publicUrl}/api/auth/token`);
    // Service accounts authorize in Swagger UI too.
    expect(flows?.clientCredentials?.tokenUrl).toBe(`${deps.config.publicUrl}/api/auth/token`);
  });
});
