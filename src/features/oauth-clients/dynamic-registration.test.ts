import * as oidc from 'openid-client';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { json, signUp, startTestApp, type TestApp } from '../../../test/app.js';
import { injectAgent } from '../../../test/oidc-flow.js';
import { InjectBrowser } from '../../../test/oidc-pages.js';
import { deviceFor } from '../../../test/device.js';
import { openClientGrant, startOidcApp } from '../../../test/oidc.js';
import { DEVICE_CODE_GRANT_TYPE } from '../oidc/oidc.types.js';
import { OPERATOR } from '../../lib/actor.js';
import type { OAuthClientView } from './oauth-clients.schemas.js';
import { UNUSED_DYNAMIC_CLIENT_SECONDS } from './oauth-clients.service.js';

// RFC 7591 dynamic registration as MCP clients use it: anybody registers a public client with
// a loopback redirect URI, then runs an ordinary code flow with PKCE. Under `public` only
// public clients, under `open` confidential ones too, under `off` no endpoint at all.

const REDIRECT = 'http://127.0.0.1:53682/callback';

// The public policy, over real HTTP so openid-client can discover and register.
const op = await startOidcApp({ env: { OAUTH_DYNAMIC_REGISTRATION: 'public' } });
const open = await startTestApp({ env: { OAUTH_DYNAMIC_REGISTRATION: 'open' } });
const off = await startTestApp();

const counts = async (target: TestApp) => {
  const [clients, events] = await Promise.all([
    target.deps.db
      .selectFrom('oauth_clients')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow(),
    target.deps.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('type', '=', 'oauth.client_created')
      .executeTakeFirstOrThrow(),
  ]);
  return { clients: Number(clients.n), events: Number(events.n) };
};

const registerAt = (target: TestApp, payload: Record<string, unknown>) =>
  target.app.inject({ method: 'POST', url: '/oauth/register', payload });

describe('POST /oauth/register under OAUTH_DYNAMIC_REGISTRATION=public', () => {
  it('discovery advertises it, and openid-client registers a public client that completes a code flow', async () => {
    const metadata = await (
      await fetch(`${op.issuer}/.well-known/oauth-authorization-server`)
    ).json();
    expect(metadata).toMatchObject({ registration_endpoint: `${op.issuer}/oauth/register` });

    const config = await oidc.dynamicClientRegistration(
      new URL(op.issuer),
      {
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
        client_name: 'An MCP agent',
        application_type: 'native',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: 'openid offline_access',
      },
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    const clientId = config.clientMetadata().client_id;
    expect(clientId).toMatch(/^hc_/);
    expect(config.clientMetadata()).not.toHaveProperty('client_secret');

    const { email, password } = await signUp(op.app);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const flow = await injectAgent(new InjectBrowser(op.app, op.issuer)).authorize(url, {
      email,
      password,
    });
    // Never first-party: the person is asked.
    expect(flow.seen.map((seen) => seen.page)).toEqual(['login', 'consent']);
    expect(flow.seen[1]?.html).toContain('An MCP agent');
    const tokens = await oidc.authorizationCodeGrant(config, flow.callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      idTokenExpected: true,
    });
    expect(tokens.claims()?.aud).toBe(clientId);
    // A public client's refresh token (offline_access), rotated on use.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    // The admins see it, marked, and may remove it.
    const listed = await op.app.inject({
      method: 'GET',
      url: '/api/admin/oauth-clients?limit=100',
      headers: op.admin,
    });
    const view = json<{ items: OAuthClientView[] }>(listed).items.find(
      (item) => item.client_id === clientId,
    );
    expect(view).toMatchObject({
      name: 'An MCP agent',
      type: 'public',
      registration: 'dynamic',
      first_party: false,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'offline_access'],
    });
    const event = await op.deps.db
      .selectFrom('audit_events')
      .select(['actor_id', 'data', 'ip'])
      .where('type', '=', 'oauth.client_created')
      .where(sql<boolean>`data->>'client_id' = ${clientId}`)
      .executeTakeFirstOrThrow();
    expect(event.actor_id).toBeNull();
    expect(event.data).toMatchObject({ registration: 'dynamic', client_id: clientId });

    const deleted = await op.app.inject({
      method: 'DELETE',
      url: `/api/admin/oauth-clients/${clientId}`,
      headers: op.admin,
    });
    expect(deleted.statusCode).toBe(204);
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toThrow();
  });

  it("answers RFC 7591 §3.2.1's response, with defaults filled in and unknown metadata ignored", async () => {
    const response = await registerAt(op, {
      redirect_uris: ['https://agent.example/cb', 'http://[::1]/cb', 'https://agent.example/cb'],
      logo_uri: 'https://agent.example/logo.png',
      software_id: 'whatever',
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = json(response);
    expect(body).toEqual({
      client_id: expect.stringMatching(/^hc_[0-9a-f]{32}$/),
      client_id_issued_at: Math.floor(op.clock.now().getTime() / 1000),
      client_name: 'agent.example',
      redirect_uris: ['https://agent.example/cb', 'http://[::1]/cb'],
      post_logout_redirect_uris: [],
      // Under `public`, an omitted method is `none` (RFC 7591 §2 lets the server substitute).
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid profile email offline_access',
      application_type: 'web',
    });
  });

  it('a client may register for the device code grant too, and start one', async () => {
    const response = await registerAt(op, {
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', DEVICE_CODE_GRANT_TYPE],
      scope: 'openid',
    });
    expect(response.statusCode, response.body).toBe(201);
    const made = json<{ client_id: string; grant_types: string[] }>(response);
    expect(made.grant_types).toEqual(['authorization_code', DEVICE_CODE_GRANT_TYPE]);
    const device = await deviceFor(op.issuer, { ...made, redirect_uris: [REDIRECT] }, op.clock);
    expect((await device.start({ scope: 'openid' })).verification_uri).toBe(`${op.issuer}/device`);
  });

  it('an admin cannot make a dynamically registered client first-party', async () => {
    const made = json<{ client_id: string }>(await registerAt(op, { redirect_uris: [REDIRECT] }));
    const response = await op.app.inject({
      method: 'PATCH',
      url: `/api/admin/oauth-clients/${made.client_id}`,
      headers: op.admin,
      payload: { first_party: true },
    });
    expect(response.statusCode).toBe(400);
    const row = await op.deps.db
      .selectFrom('oauth_clients')
      .select('first_party')
      .where('client_id', '=', made.client_id)
      .executeTakeFirstOrThrow();
    expect(row.first_party).toBe(false);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no redirect_uris', {}, 'invalid_redirect_uri'],
    ['an empty redirect_uris', { redirect_uris: [] }, 'invalid_redirect_uri'],
    [
      'plain http off loopback',
      { redirect_uris: ['http://agent.example/cb'] },
      'invalid_redirect_uri',
    ],
    ['a private-use scheme', { redirect_uris: ['com.example.app:/cb'] }, 'invalid_redirect_uri'],
    ['a fragment', { redirect_uris: ['https://agent.example/cb#x'] }, 'invalid_redirect_uri'],
    ['a non-string URI', { redirect_uris: [42] }, 'invalid_redirect_uri'],
    [
      'a bad post-logout URI',
      { redirect_uris: [REDIRECT], post_logout_redirect_uris: ['javascript:alert(1)'] },
      'invalid_redirect_uri',
    ],
    [
      'a confidential client',
      { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' },
      'invalid_client_metadata',
    ],
    [
      'an unknown auth method',
      { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt' },
      'invalid_client_metadata',
    ],
    [
      'response_types token',
      { redirect_uris: [REDIRECT], response_types: ['code', 'token'] },
      'invalid_client_metadata',
    ],
    [
      'the implicit grant',
      { redirect_uris: [REDIRECT], grant_types: ['implicit'] },
      'invalid_client_metadata',
    ],
    [
      'refresh_token without authorization_code',
      { redirect_uris: [REDIRECT], grant_types: ['refresh_token'] },
      'invalid_client_metadata',
    ],
    [
      'an unknown scope',
      { redirect_uris: [REDIRECT], scope: 'openid admin' },
      'invalid_client_metadata',
    ],
    [
      'an unknown application_type',
      { redirect_uris: [REDIRECT], application_type: 'service' },
      'invalid_client_metadata',
    ],
    [
      'an overlong client_name',
      { redirect_uris: [REDIRECT], client_name: 'x'.repeat(101) },
      'invalid_client_metadata',
    ],
  ])('refuses %s with 400 %s and writes nothing', async (_name, payload, error) => {
    const before = await counts(op);
    const response = await registerAt(op, payload);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(json(response)).toEqual({ error, error_description: expect.any(String) });
    expect(await counts(op)).toEqual(before);
  });

  it('refuses a body that is not JSON in its own format', async () => {
    const response = await op.app.inject({
      method: 'POST',
      url: '/oauth/register',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `redirect_uris=${encodeURIComponent(REDIRECT)}`,
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ error: 'invalid_client_metadata' });
  });
});

describe('the registration budget', () => {
  it('counts per address like the sign-in endpoints, answering 429 in the OAuth format', async () => {
    const limited = await startTestApp({
      env: {
        OAUTH_DYNAMIC_REGISTRATION: 'public',
        RATE_LIMIT: 'on',
        RATE_LIMIT_AUTH_PER_MINUTE: '2',
      },
    });
    const statuses: number[] = [];
    let last = await registerAt(limited, { redirect_uris: [REDIRECT] });
    statuses.push(last.statusCode);
    for (let i = 0; i < 2; i += 1) {
      last = await registerAt(limited, { redirect_uris: [REDIRECT] });
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([201, 201, 429]);
    expect(json(last)).toMatchObject({ error: 'rate_limited' });
    expect(last.headers['retry-after']).toBeDefined();
  });
});

describe('POST /oauth/register under OAUTH_DYNAMIC_REGISTRATION=open', () => {
  it('registers a confidential client (the RFC default method) whose secret authenticates', async () => {
    const response = await registerAt(open, {
      redirect_uris: ['https://service.example/cb'],
      client_name: 'A service',
    });
    expect(response.statusCode, response.body).toBe(201);
    const body = json<{ client_id: string; client_secret: string }>(response);
    expect(body).toMatchObject({
      client_secret: expect.stringMatching(/^hcs_/),
      client_secret_expires_at: 0,
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const client = await open.deps.services.oauthClients.authenticateClient({
      clientId: body.client_id,
      clientSecret: body.client_secret,
    });
    expect(client).toMatchObject({
      type: 'confidential',
      registration: 'dynamic',
      first_party: false,
    });
  });

  it('registers a public client too, and still only loopback or https redirect URIs', async () => {
    const ok = await registerAt(open, {
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
    });
    expect(ok.statusCode).toBe(201);
    expect(json(ok)).not.toHaveProperty('client_secret');
    expect(json(ok)).not.toHaveProperty('client_secret_expires_at');
    const before = await counts(open);
    const bad = await registerAt(open, { redirect_uris: ['http://service.example/cb'] });
    expect(json(bad)).toMatchObject({ error: 'invalid_redirect_uri' });
    expect(await counts(open)).toEqual(before);
  });
});

describe('POST /oauth/register under OAUTH_DYNAMIC_REGISTRATION=off (the default)', () => {
  it('is not there: 404 as any unknown address, and discovery does not name it', async () => {
    const before = await counts(off);
    const response = await registerAt(off, { redirect_uris: [REDIRECT] });
    expect(response.statusCode).toBe(404);
    expect(await counts(off)).toEqual(before);
    const metadata = json(
      await off.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' }),
    );
    expect(metadata).not.toHaveProperty('registration_endpoint');
  });
});

describe('unused dynamically registered clients expire', () => {
  it('a day after registering, a dynamic client never authorized is deleted; used ones and admin ones stay', async () => {
    const made = async (payload: Record<string, unknown>) =>
      json<{ client_id: string }>(await registerAt(open, payload)).client_id;
    const unused = await made({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const granted = await made({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const { user } = await signUp(open.app);
    await openClientGrant(open.deps, open.clock.now(), { userId: user.id, clientId: granted });
    const byAdmin = await open.deps.services.oauthClients.create(
      { name: 'Static', type: 'public', redirect_uris: [REDIRECT] },
      OPERATOR,
    );
    const { oauthClients } = open.deps.services;

    // Not yet a day: nothing goes.
    open.clock.advance(UNUSED_DYNAMIC_CLIENT_SECONDS - 60);
    expect(await oauthClients.sweepUnusedSelfRegisteredClients()).toBe(0);
    open.clock.advance(120);
    const fresh = await made({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    // (The unused clients of the tests above go too.)
    expect(await oauthClients.sweepUnusedSelfRegisteredClients()).toBeGreaterThanOrEqual(1);

    expect(await oauthClients.findClient(unused)).toBeUndefined();
    for (const kept of [granted, byAdmin.client_id, fresh])
      expect(await oauthClients.findClient(kept)).toBeDefined();
    const event = await open.deps.db
      .selectFrom('audit_events')
      .select(['actor_id', 'data'])
      .where('type', '=', 'oauth.client_deleted')
      .where(sql<boolean>`data->>'client_id' = ${unused}`)
      .executeTakeFirstOrThrow();
    expect(event).toMatchObject({
      actor_id: null,
      data: { registration: 'dynamic', reason: 'unused' },
    });
  });
});

describe('scopes of protected APIs at registration', () => {
  it('accepts a scope a registered resource defines (echoed, not stored); an undefined one stays refused', async () => {
    // What the MCP SDK sends: the scopes the MCP server's challenge named.
    const created = await op.app.inject({
      method: 'POST',
      url: '/api/admin/resources',
      headers: op.admin,
      payload: {
        identifier: 'https://notes.example/mcp',
        name: 'Notes',
        scopes: [{ name: 'notes:read', description: 'Read your notes' }],
      },
    });
    expect(created.statusCode).toBe(201);

    const only = await registerAt(op, { redirect_uris: [REDIRECT], scope: 'notes:read' });
    expect(only.statusCode, only.body).toBe(201);
    // Naming no OpenID scope leaves the client the defaults, as naming none at all does.
    expect(json(only)['scope']).toBe('openid profile email offline_access notes:read');
    const stored = await op.deps.services.oauthClients.findClient(String(json(only)['client_id']));
    expect(stored?.scopes).toEqual(['openid', 'profile', 'email', 'offline_access']);

    const mixed = await registerAt(op, {
      redirect_uris: [REDIRECT],
      scope: 'openid notes:read notes:read',
    });
    expect(mixed.statusCode, mixed.body).toBe(201);
    expect(json(mixed)['scope']).toBe('openid notes:read');

    const before = await counts(op);
    const unknown = await registerAt(op, { redirect_uris: [REDIRECT], scope: 'notes:write' });
    expect(unknown.statusCode).toBe(400);
    expect(json(unknown)).toEqual({
      error: 'invalid_client_metadata',
      error_description: 'scope notes:write is not offered',
    });
    expect(await counts(op)).toEqual(before);
  });
});
