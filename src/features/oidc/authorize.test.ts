import { describe, expect, it } from 'vitest';
import { startTestApp } from '../../../test/app.js';
import {
  authorizeParams,
  authorizeUrl,
  locationParams,
  registerClient,
} from '../../../test/oidc-pages.js';

// The authorization endpoint's refusals (OAuth 2.1 §4.1.2.1, OIDC Core §3.1.2.6, RFC 9207).
// OpenID "Basic OP" modules named where they apply.
const { app, deps } = await startTestApp();
const client = await registerClient(deps);

const get = (url: string) => app.inject({ method: 'GET', url });

describe('an unknown client or redirect URI: a 400 page, never a redirect', () => {
  it.each([
    ['unknown client_id', { client_id: 'nobody' }],
    ['missing client_id', { client_id: null }],
    ['missing redirect_uri', { redirect_uri: null }],
    // oidcc-ensure-registered-redirect-uri
    ['unregistered redirect_uri', { redirect_uri: 'https://evil.example/callback' }],
    ['redirect_uri differing in a trailing slash', { redirect_uri: `${client.redirect_uri}/` }],
  ])('%s', async (_name, overrides) => {
    const response = await get(authorizeUrl(client, overrides));
    expect(response.statusCode).toBe(400);
    expect(response.headers['location']).toBeUndefined();
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toContain('role="alert"');
  });

  it('a repeated client_id or redirect_uri', async () => {
    const query = new URLSearchParams(authorizeParams(client));
    query.append('redirect_uri', client.redirect_uri);
    const response = await get(`/oauth/authorize?${query.toString()}`);
    expect(response.statusCode).toBe(400);
    expect(response.headers['location']).toBeUndefined();
  });
});

describe('every other refusal redirects with error, error_description, state and iss', () => {
  it.each([
    // oidcc-unsupported-request-object / request-uri
    ['request', { request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported'],
    ['request_uri', { request_uri: 'https://app.example/r' }, 'request_uri_not_supported'],
    ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
    ['response_type id_token', { response_type: 'code id_token' }, 'unsupported_response_type'],
    ['no response_type', { response_type: null }, 'invalid_request'],
    ['no code_challenge', { code_challenge: null }, 'invalid_request'],
    ['code_challenge_method plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['no code_challenge_method (= plain)', { code_challenge_method: null }, 'invalid_request'],
    ['a malformed challenge', { code_challenge: 'short' }, 'invalid_request'],
    ['an unknown scope', { scope: 'openid admin' }, 'invalid_scope'],
    ['a scope the client may not have', { scope: 'openid phone' }, 'invalid_scope'],
    ['no scope', { scope: null }, 'invalid_scope'],
    ['resource', { resource: 'https://api.example' }, 'invalid_target'],
    ['prompt=none with login', { prompt: 'none login' }, 'invalid_request'],
    ['an unknown prompt', { prompt: 'bogus' }, 'invalid_request'],
    ['max_age not a number', { max_age: '-1' }, 'invalid_request'],
    ['response_mode form_post', { response_mode: 'form_post' }, 'invalid_request'],
    ['response_mode fragment', { response_mode: 'fragment' }, 'invalid_request'],
    ['an id_token_hint we did not issue', { id_token_hint: 'a.b.c' }, 'invalid_request'],
  ])('%s → %s', async (_name, overrides, error) => {
    const response = await get(authorizeUrl(client, overrides));
    expect(response.statusCode).toBe(302);
    const location = String(response.headers['location']);
    expect(location.startsWith(`${client.redirect_uri}?`)).toBe(true);
    const params = locationParams(response);
    expect(params.get('error')).toBe(error);
    expect(params.get('error_description')).toEqual(expect.any(String));
    expect(params.get('state')).toBe('st-123');
    // RFC 9207: the issuer, so a client of several providers knows whose answer this is.
    expect(params.get('iss')).toBe('http://auth.test');
    expect(params.get('code')).toBeNull();
  });

  it('a repeated parameter → invalid_request', async () => {
    const query = new URLSearchParams(authorizeParams(client));
    query.append('scope', 'openid');
    const response = await get(`/oauth/authorize?${query.toString()}`);
    expect(locationParams(response).get('error')).toBe('invalid_request');
  });

  it('a client not allowed the authorization_code grant → unauthorized_client', async () => {
    const refreshOnly = await registerClient(deps, { grantTypes: ['refresh_token'] });
    const response = await get(authorizeUrl(refreshOnly));
    expect(locationParams(response).get('error')).toBe('unauthorized_client');
  });

  it('without state, the error carries no state', async () => {
    const response = await get(authorizeUrl(client, { state: null, response_type: 'token' }));
    expect(locationParams(response).has('state')).toBe(false);
    expect(locationParams(response).get('iss')).toBe('http://auth.test');
  });

  it('keeps the query the redirect URI was registered with', async () => {
    const withQuery = await registerClient(deps, {
      redirectUri: 'https://app.example/cb?tenant=7',
    });
    const response = await get(authorizeUrl(withQuery, { response_type: 'token' }));
    expect(locationParams(response).get('tenant')).toBe('7');
    expect(locationParams(response).get('error')).toBe('unsupported_response_type');
  });
});

describe('accepted and ignored', () => {
  it('unknown parameters, display, ui_locales, acr_values, claims_locales: on to /login', async () => {
    const response = await get(
      authorizeUrl(client, {
        display: 'page',
        ui_locales: 'fr-CA en',
        acr_values: 'urn:mace:incommon:iap:silver',
        claims_locales: 'de',
        unheard_of: 'x',
        prompt: 'select_account',
      }),
    );
    expect(response.statusCode).toBe(303);
    expect(String(response.headers['location'])).toMatch(/^\/login\?request=[\w-]{43}$/);
    // The pending request is stored by its hash only.
    const id = locationParams(response).get('request')!;
    const rows = await deps.db.selectFrom('authorization_requests').select('id_hash').execute();
    expect(rows.map((row) => row.id_hash)).not.toContain(id);
  });

  it('POST /oauth/authorize reads the same parameters from a form', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/oauth/authorize',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(authorizeParams(client, { prompt: 'none' })).toString(),
    });
    expect(response.statusCode).toBe(303);
    // oidcc-prompt-none-not-logged-in
    expect(locationParams(response).get('error')).toBe('login_required');
    expect(locationParams(response).get('state')).toBe('st-123');
  });

  it('a JSON body at POST /oauth/authorize is a 415 page', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/oauth/authorize',
      payload: authorizeParams(client),
    });
    expect(response.statusCode).toBe(415);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
  });
});
