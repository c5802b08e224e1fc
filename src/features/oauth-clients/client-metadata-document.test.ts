import { describe, expect, it } from 'vitest';
import {
  ClientMetadataError,
  DEFAULT_CACHE_SECONDS,
  MAX_CACHE_SECONDS,
  MIN_CACHE_SECONDS,
  cacheSeconds,
  checkMetadataDocument,
  clientIdUrlProblem,
} from './client-metadata-document.js';

const ID = 'https://app.example/oauth/client.json';
const doc = (fields: Record<string, unknown>) =>
  Buffer.from(
    JSON.stringify({ client_id: ID, redirect_uris: ['https://app.example/cb'], ...fields }),
  );

function refusal(body: Buffer, clientId = ID): string {
  try {
    checkMetadataDocument(clientId, body);
  } catch (error) {
    expect(error).toBeInstanceOf(ClientMetadataError);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('clientIdUrlProblem (the draft’s rules for a client_id URL)', () => {
  it.each([
    'https://app.example/client.json',
    'https://app.example:8443/oauth/client',
    'https://app.example/c?v=1',
    'https://localhost:1234/client.json',
  ])('accepts %s', (url) => {
    expect(clientIdUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ['http://app.example/client.json', /https/],
    ['https://app.example', /path/],
    ['https://app.example/', /path/],
    ['https://app.example/client.json#x', /fragment/],
    ['https://user:pw@app.example/client.json', /user name or password/],
    ['https://app.example/a/../client.json', /\. or \.\./],
    ['https://app.example/./client.json', /\. or \.\./],
    ['https://app.example/a/%2e%2e/client.json', /\. or \.\./],
    ['https://APP.example/client.json', /normalised/],
    ['https://app.example:443/client.json', /normalised/],
    [`https://app.example/${'a'.repeat(2000)}`, /longer/],
    ['https://', /not a URL/],
  ])('refuses %s', (url, problem) => {
    expect(clientIdUrlProblem(url)).toMatch(problem);
  });
});

describe('checkMetadataDocument', () => {
  it('reads a public client, with defaults and the host as the name it does not give', () => {
    expect(checkMetadataDocument(ID, doc({}))).toEqual({
      name: 'app.example',
      redirectUris: ['https://app.example/cb'],
      postLogoutRedirectUris: [],
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    expect(
      checkMetadataDocument(
        ID,
        doc({
          client_name: '  Agent  ',
          redirect_uris: ['http://127.0.0.1:9/cb', 'http://127.0.0.1:9/cb'],
          grant_types: ['refresh_token', 'authorization_code'],
          scope: 'openid mcp:tools offline_access',
          token_endpoint_auth_method: 'none',
          logo_uri: 'https://app.example/logo.png',
          client_uri: 'https://app.example',
        }),
      ),
    ).toEqual({
      name: 'Agent',
      redirectUris: ['http://127.0.0.1:9/cb'],
      postLogoutRedirectUris: [],
      grantTypes: ['authorization_code', 'refresh_token'],
      // Scopes this server does not offer are ignored: a document serves many servers.
      scopes: ['openid', 'offline_access'],
    });
  });

  it.each([
    [Buffer.from('not json'), /not JSON/],
    [Buffer.from('[1]'), /not a JSON object/],
    [doc({ client_id: 'https://app.example/oauth/other.json' }), /different client_id/],
    [doc({ client_id: `${ID}/` }), /different client_id/],
    [doc({ client_secret: 's3cret' }), /client_secret/],
    [doc({ jwks_uri: 'https://app.example/jwks' }), /jwks_uri/],
    [doc({ token_endpoint_auth_method: 'private_key_jwt' }), /private_key_jwt is not supported/],
    [doc({ token_endpoint_auth_method: 'client_secret_basic' }), /only none/],
    [doc({ redirect_uris: [] }), /at least one/],
    [doc({ redirect_uris: 'https://app.example/cb' }), /list/],
    [doc({ redirect_uris: ['http://app.example/cb'] }), /https/],
    [doc({ redirect_uris: ['com.example.app:/cb'] }), /https/],
    [doc({ redirect_uris: ['https://app.example/*'] }), /wildcard/],
    [doc({ grant_types: ['client_credentials'] }), /client_credentials is not supported/],
    [doc({ grant_types: ['refresh_token'] }), /must include authorization_code/],
    [doc({ response_types: ['token'] }), /only be code/],
    [doc({ client_name: 7 }), /client_name must be a string/],
  ])('refuses %s', (body, problem) => {
    expect(refusal(body)).toMatch(problem);
  });
});

describe('cacheSeconds', () => {
  const now = new Date('2026-12-07T06:00:00Z');
  it.each([
    [{ 'cache-control': 'public, max-age=600' }, 600],
    [{ 'cache-control': 'max-age=5' }, MIN_CACHE_SECONDS],
    [{ 'cache-control': 'max-age=31536000' }, MAX_CACHE_SECONDS],
    [{ 'cache-control': 'no-store' }, MIN_CACHE_SECONDS],
    [{ 'cache-control': 'no-cache, max-age=600' }, MIN_CACHE_SECONDS],
    [{ expires: 'Mon, 07 Dec 2026 07:00:00 GMT' }, 3600],
    [{ expires: 'Mon, 07 Dec 2026 05:00:00 GMT' }, MIN_CACHE_SECONDS],
    [{ expires: 'garbage' }, MIN_CACHE_SECONDS],
    // max-age wins over Expires (RFC 9111 §5.3).
    [{ 'cache-control': 'max-age=120', expires: 'Mon, 07 Dec 2026 07:00:00 GMT' }, 120],
    [{}, DEFAULT_CACHE_SECONDS],
  ])('reads %j as %i seconds', (headers, seconds) => {
    expect(cacheSeconds(headers, now)).toBe(seconds);
  });
});
