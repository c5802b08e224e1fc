import type { ServerResponse } from 'node:http';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { json, signIn, signUp, startTestApp, type TestApp } from '../../../test/app.js';
import { json as jsonHandler, startHttpsServer } from '../../../test/https-server.js';
import { injectAgent } from '../../../test/oidc-flow.js';
import { InjectBrowser } from '../../../test/oidc-pages.js';
import { eventually } from '../../../test/eventually.js';
import { startOidcApp } from '../../../test/oidc.js';
import type { OAuthClientView } from './oauth-clients.schemas.js';
import {
  FAILED_DOCUMENT_SECONDS,
  MAX_CONCURRENT_DOCUMENT_FETCHES,
  UNUSED_DYNAMIC_CLIENT_SECONDS,
} from './oauth-clients.service.js';

// Client ID metadata documents as MCP clients use them: the client_id is the HTTPS URL of a
// JSON document the client publishes; the provider fetches it (over real https, from a server
// with a certificate made for the test and trusted through the composition root), checks it,
// and runs an ordinary public-client code flow with PKCE and a resource, judged by
// openid-client.

const REDIRECT = 'http://127.0.0.1:53682/callback';
const MCP = 'https://mcp.example.com/mcp';

const docs = await startHttpsServer();
const op = await startOidcApp({
  env: { OUTBOUND_ALLOW_PRIVATE: 'true' },
  outboundCa: docs.ca,
});

const urlOf = (path: string) => `${docs.origin}${path}`;
const fetchesOf = (path: string) => docs.requests.filter((request) => request === path).length;

/** Publishes a document at `path` whose client_id is its own URL (unless overridden). */
function publish(path: string, fields: Record<string, unknown> = {}, headers = {}) {
  docs.on(
    path,
    jsonHandler(
      {
        client_id: urlOf(path),
        client_name: 'Desk agent',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid offline_access',
        ...fields,
      },
      { 'cache-control': 'max-age=300', ...headers },
    ),
  );
  return urlOf(path);
}

async function relyingParty(target: { issuer: string }, clientId: string) {
  return oidc.discovery(new URL(target.issuer), clientId, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
}

/** A fresh person through the pages: callback, pages seen, and what the exchange needs. */
async function authorize(rp: oidc.Configuration, params: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: REDIRECT,
    scope: 'openid offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  const person = await signUp(op.app);
  const flow = await injectAgent(new InjectBrowser(op.app, op.issuer)).authorize(url, person);
  return { ...flow, verifier, state, person };
}

/** The authorize endpoint's answer for a raw query (no redirects followed). */
function authorizeRaw(target: TestApp, clientId: string, redirectUri = REDIRECT) {
  const query = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  return target.app.inject({ method: 'GET', url: `/oauth/authorize?${query}` });
}

/** The 400 error page, never a redirect: the redirect URI of an unusable client is not trusted. */
function expectErrorPage(response: {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}) {
  expect(response.statusCode).toBe(400);
  expect(response.headers['location']).toBeUndefined();
  expect(String(response.headers['content-type'])).toMatch(/^text\/html/);
  return response.body;
}

const created = await op.app.inject({
  method: 'POST',
  url: '/api/admin/resources',
  headers: op.admin,
  payload: {
    identifier: MCP,
    name: 'Team MCP server',
    scopes: [{ name: 'tools:call', description: 'Use the team tools' }],
  },
});
expect(created.statusCode).toBe(201);

describe('a client whose client_id is its metadata document URL', () => {
  it('discovery advertises it, and openid-client completes a PKCE flow with a resource', async () => {
    const metadata = await (
      await fetch(`${op.issuer}/.well-known/oauth-authorization-server`)
    ).json();
    expect(metadata).toMatchObject({
      client_id_metadata_document_supported: true,
      token_endpoint_auth_methods_supported: expect.arrayContaining(['none']),
    });

    const clientId = publish('/agents/desk.json');
    const rp = await relyingParty(op, clientId);
    const run = await authorize(rp, {
      scope: 'openid offline_access tools:call',
      resource: MCP,
    });
    expect(run.seen.map((seen) => seen.page)).toEqual(['login', 'consent']);
    const consent = run.seen[1]?.html ?? '';
    // The redirect URI's host, the name marked as the app's own claim with who published it,
    // and the warning for an app that only ever returns to this computer.
    expect(consent).toContain('sent back to <strong>127.0.0.1:53682</strong>');
    expect(consent).toContain('Desk agent');
    expect(consent).toContain('not verified');
    expect(consent).toContain(`published by <strong>localhost:${docs.port}</strong>`);
    expect(consent).toContain('This app runs on your computer');

    const tokens = await oidc.authorizationCodeGrant(
      rp,
      run.callback,
      { pkceCodeVerifier: run.verifier, expectedState: run.state, idTokenExpected: true },
      { resource: MCP },
    );
    const access = decodeJwt(tokens.access_token);
    expect(access.aud).toBe(MCP);
    expect(access['client_id']).toBe(clientId);
    expect(tokens.claims()?.aud).toBe(clientId);
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, { resource: MCP });
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    // In the registry like any client: listed (marked) for admins, in the person's consents.
    const listed = await op.app.inject({
      url: '/api/admin/oauth-clients?limit=100',
      headers: op.admin,
    });
    expect(
      json<{ items: OAuthClientView[] }>(listed).items.find((item) => item.client_id === clientId),
    ).toMatchObject({
      name: 'Desk agent',
      type: 'public',
      registration: 'metadata_document',
      first_party: false,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'offline_access'],
    });
    const path = `/api/admin/oauth-clients/${encodeURIComponent(clientId)}`;
    expect(json(await op.app.inject({ url: path, headers: op.admin })).client_id).toBe(clientId);
    const { access_token } = await signIn(op.app, run.person.email, run.person.password);
    const consents = await op.app.inject({
      url: '/api/auth/consents',
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(json<{ items: { client_id: string }[] }>(consents).items).toEqual([
      expect.objectContaining({ client_id: clientId }),
    ]);

    // Its document is the truth: the admin API does not edit it.
    const patched = await op.app.inject({
      method: 'PATCH',
      url: path,
      headers: op.admin,
      payload: { name: 'Renamed' },
    });
    expect(patched.statusCode).toBe(409);

    // Deleting it ends its grants like any client's.
    const deleted = await op.app.inject({ method: 'DELETE', url: path, headers: op.admin });
    expect(deleted.statusCode).toBe(204);
    await expect(
      oidc.refreshTokenGrant(rp, refreshed.refresh_token!, { resource: MCP }),
    ).rejects.toThrow();
  });

  it('uses the fetched copy while its max-age lasts, and fetches again after', async () => {
    const path = '/agents/cached.json';
    const clientId = publish(path, {}, { 'cache-control': 'max-age=300' });
    const rp = await relyingParty(op, clientId);
    await authorize(rp);
    expect(fetchesOf(path)).toBe(1);
    await authorize(rp);
    expect(fetchesOf(path)).toBe(1);

    // The client withdraws its redirect URI; once the copy is stale the change is heard.
    publish(path, { redirect_uris: ['https://agent.example/callback'] });
    op.clock.advance(301);
    const page = expectErrorPage(await authorizeRaw(op, clientId));
    expect(fetchesOf(path)).toBe(2);
    expect(page).toContain('is not registered for it');
    const view = json<OAuthClientView>(
      await op.app.inject({
        url: `/api/admin/oauth-clients/${encodeURIComponent(clientId)}`,
        headers: op.admin,
      }),
    );
    expect(view.redirect_uris).toEqual(['https://agent.example/callback']);
  });

  it('refuses the client, not the stale copy, when the document cannot be fetched again', async () => {
    const path = '/agents/vanishing.json';
    const clientId = publish(path, {}, { 'cache-control': 'max-age=60' });
    const rp = await relyingParty(op, clientId);
    await authorize(rp);
    docs.on(path, (_request, response) => {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{}');
    });
    op.clock.advance(61);
    const page = expectErrorPage(await authorizeRaw(op, clientId));
    expect(page).toContain('invalid_client');
    expect(page).toContain('answered 404');
  });

  it('refuses a document whose client_id is not its own URL', async () => {
    const clientId = publish('/agents/impostor.json', { client_id: urlOf('/agents/desk.json') });
    const page = expectErrorPage(await authorizeRaw(op, clientId));
    expect(page).toContain('invalid_client');
    expect(page).toContain('different client_id');
    const stored = await op.deps.db
      .selectFrom('oauth_clients')
      .select('client_id')
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    expect(stored).toBeUndefined();
  });

  it('refuses a redirect_uri the document does not list, on the error page', async () => {
    const clientId = publish('/agents/strict.json');
    const page = expectErrorPage(
      await authorizeRaw(op, clientId, 'http://127.0.0.1:53682/elsewhere'),
    );
    expect(page).toContain('is not registered for it');
  });

  it('refuses a document asking for a client secret or private_key_jwt, and a bad URL', async () => {
    const jwt = publish('/agents/jwt.json', { token_endpoint_auth_method: 'private_key_jwt' });
    expect(expectErrorPage(await authorizeRaw(op, jwt))).toContain(
      'private_key_jwt is not supported',
    );
    const secret = publish('/agents/secret.json', { client_secret: 'x' });
    expect(expectErrorPage(await authorizeRaw(op, secret))).toContain('client_secret');
    const before = docs.requests.length;
    const dotted = expectErrorPage(await authorizeRaw(op, urlOf('/agents/x/../desk.json')));
    expect(dotted).toContain('path segments');
    expect(docs.requests.length).toBe(before);
  });

  it('remembers a failure briefly, so a flood of requests is one fetch', async () => {
    const path = '/agents/broken.json';
    docs.on(path, (_request, response) => {
      response.writeHead(500).end();
    });
    const clientId = urlOf(path);
    await Promise.all([1, 2, 3].map(() => authorizeRaw(op, clientId)));
    expectErrorPage(await authorizeRaw(op, clientId));
    expect(fetchesOf(path)).toBe(1);
    // Fixed and past the pause: heard again.
    publish(path);
    op.clock.advance(FAILED_DOCUMENT_SECONDS + 1);
    const response = await authorizeRaw(op, clientId);
    // On to the sign-in page: the client is known now.
    expect(response.statusCode).toBe(303);
    expect(String(response.headers['location'])).toMatch(/^\/login\?/);
    expect(fetchesOf(path)).toBe(2);
  });
});

describe('the guard and the switch', () => {
  it('fetches only so many documents at once; the next is refused at once, not queued', async () => {
    const held: ServerResponse[] = [];
    const paths = Array.from(
      { length: MAX_CONCURRENT_DOCUMENT_FETCHES + 1 },
      (_, i) => `/agents/slow-${i}.json`,
    );
    for (const path of paths) docs.on(path, (_request, response) => void held.push(response));
    const waiting = paths
      .slice(0, MAX_CONCURRENT_DOCUMENT_FETCHES)
      .map((path) => authorizeRaw(op, urlOf(path)));
    expect(await eventually(() => held.length === MAX_CONCURRENT_DOCUMENT_FETCHES)).toBe(true);
    const last = paths[MAX_CONCURRENT_DOCUMENT_FETCHES] ?? '';
    const page = expectErrorPage(await authorizeRaw(op, urlOf(last)));
    expect(page).toContain('too many metadata documents');
    expect(fetchesOf(last)).toBe(0);
    for (const response of held) response.writeHead(404).end();
    for (const response of await Promise.all(waiting)) expectErrorPage(response);
  });

  it('refuses a document on a private address without OUTBOUND_ALLOW_PRIVATE, before connecting', async () => {
    const guarded = await startTestApp({ outboundCa: docs.ca });
    const path = '/agents/private.json';
    const clientId = publish(path);
    const page = expectErrorPage(await authorizeRaw(guarded, clientId));
    expect(page).toContain('invalid_client');
    expect(page).toContain('not a public address');
    expect(fetchesOf(path)).toBe(0);
  });

  it('counts authorizations naming a document per address (60 a minute), so nobody floods a site through us', async () => {
    const limited = await startTestApp({
      env: { RATE_LIMIT: 'on', OUTBOUND_ALLOW_PRIVATE: 'true' },
      outboundCa: docs.ca,
    });
    const path = '/agents/counted.json';
    const clientId = publish(path);
    const from = (remoteAddress: string) => {
      const query = new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT });
      return limited.app.inject({ url: `/oauth/authorize?${query}`, remoteAddress });
    };
    for (let i = 0; i < 60; i += 1) expect((await from('192.0.2.7')).statusCode).not.toBe(429);
    const refused = await from('192.0.2.7');
    expect(refused.statusCode).toBe(429);
    expect(String(refused.headers['content-type'])).toMatch(/^text\/html/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not held back, and a client of the registry is never counted.
    expect((await from('192.0.2.8')).statusCode).not.toBe(429);
    const known = new URLSearchParams({ client_id: 'app_unknown', redirect_uri: REDIRECT });
    const plain = await limited.app.inject({
      url: `/oauth/authorize?${known}`,
      remoteAddress: '192.0.2.7',
    });
    expect(plain.statusCode).toBe(400);
  });

  it('OAUTH_CIMD=off: not advertised, an HTTPS client_id is an unknown client everywhere', async () => {
    const clientId = publish('/agents/switched.json');
    const rp = await relyingParty(op, clientId);
    const run = await authorize(rp);
    const tokens = await oidc.authorizationCodeGrant(rp, run.callback, {
      pkceCodeVerifier: run.verifier,
      expectedState: run.state,
    });

    // A second instance on the same database, with the feature off.
    const off = await startOidcApp({
      env: { OAUTH_CIMD: 'off', OUTBOUND_ALLOW_PRIVATE: 'true' },
      outboundCa: docs.ca,
      database: op.database,
    });
    const metadata = await (await fetch(`${off.issuer}/.well-known/openid-configuration`)).json();
    expect(metadata).not.toHaveProperty('client_id_metadata_document_supported');
    const page = expectErrorPage(await authorizeRaw(off, clientId));
    expect(page).toContain('is not known');
    const offRp = await relyingParty(off, clientId);
    await expect(oidc.refreshTokenGrant(offRp, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });
});

describe('housekeeping', () => {
  it('deletes a metadata-document client nobody used within a day; it is fetched again when used', async () => {
    const path = '/agents/idle.json';
    const clientId = publish(path);
    expect((await authorizeRaw(op, clientId)).statusCode).toBe(303);
    op.clock.advance(UNUSED_DYNAMIC_CLIENT_SECONDS + 1);
    await op.deps.services.oauthClients.sweepUnusedSelfRegisteredClients();
    const stored = () =>
      op.deps.db
        .selectFrom('oauth_clients')
        .select('registration')
        .where('client_id', '=', clientId)
        .executeTakeFirst();
    expect(await stored()).toBeUndefined();
    expect((await authorizeRaw(op, clientId)).statusCode).toBe(303);
    expect(await stored()).toEqual({ registration: 'metadata_document' });
    expect(fetchesOf(path)).toBe(2);
  });
});
