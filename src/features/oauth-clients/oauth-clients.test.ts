import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openClientGrant } from '../../../test/oidc.js';
import {
  grantPermissions,
  json,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import type { ProblemBody } from '../../http/problem.js';
import { OPERATOR } from '../../lib/actor.js';
import { InvalidClientError } from '../oauth/oauth.errors.js';
import { CLIENT_GRANT_TYPES, OIDC_SCOPES } from '../oidc/oidc.types.js';
import {
  GrantTypes,
  type OAuthClientView,
  type OAuthClientWithSecret,
  OidcScopeName,
  ResourceScopeName,
  Scopes,
} from './oauth-clients.schemas.js';

const { app, deps, clock } = await startTestApp();
const admin = await signedInAdmin(app, deps);
const { oauthClients, consents } = deps.services;

const URL_BASE = '/api/admin/oauth-clients';
const NO_CLIENT = { ip: null, userAgent: null };

let counter = 0;
async function register(
  body: Record<string, unknown> = {},
  auth: Record<string, string> = admin.auth,
): Promise<OAuthClientWithSecret> {
  counter += 1;
  const response = await app.inject({
    method: 'POST',
    url: URL_BASE,
    headers: auth,
    payload: {
      name: `app ${counter}`,
      type: 'confidential',
      redirect_uris: ['https://app.example/callback'],
      ...body,
    },
  });
  expect(response.statusCode, response.body).toBe(201);
  // The answer may carry the only copy of the secret: no browser or proxy may keep it.
  expect(response.headers['cache-control']).toBe('no-store');
  return json<OAuthClientWithSecret>(response);
}

const countClients = async () =>
  Number(
    (
      await deps.db
        .selectFrom('oauth_clients')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

async function eventsAbout(clientId: string, type: string) {
  return deps.db
    .selectFrom('audit_events')
    .select(['type', 'actor_id', 'user_id', 'data'])
    .where('type', '=', type)
    .where(sql<boolean>`data->>'client_id' = ${clientId}`)
    .orderBy('at')
    .orderBy('id')
    .execute();
}

/** A grant of the client to the user, as the token side opens one, and an access token of it. */
const clientGrant = (userId: string, clientId: string) =>
  openClientGrant(deps, clock.now(), { userId, clientId, scopes: ['openid', 'profile'] });

const me = (auth: Record<string, string>) =>
  app.inject({ method: 'GET', url: '/api/auth/me', headers: auth });

describe('the schema', () => {
  it("names exactly the provider's scopes and grant types", () => {
    const literals = (union: object) =>
      (union as { anyOf: { const: string }[] }).anyOf.map((item) => item.const).sort();
    expect(literals(OidcScopeName)).toEqual(Object.keys(OIDC_SCOPES).sort());
    expect(literals((GrantTypes as unknown as { items: object }).items)).toEqual(
      [...CLIENT_GRANT_TYPES].sort(),
    );
    // Besides those, a client's scopes may name protected APIs' scopes (scope-tokens).
    const items = (Scopes as unknown as { items: { anyOf: object[] } }).items.anyOf;
    expect(items).toEqual([OidcScopeName, ResourceScopeName]);
  });
});

describe('who may use the registry', () => {
  it('401 without a token on every route', async () => {
    for (const [method, url] of [
      ['GET', URL_BASE],
      ['POST', URL_BASE],
      ['GET', `${URL_BASE}/some-client`],
      ['PATCH', `${URL_BASE}/some-client`],
      ['POST', `${URL_BASE}/some-client/rotate`],
      ['DELETE', `${URL_BASE}/some-client`],
    ] as const) {
      const response = await app.inject({ method, url, payload: {} });
      expect(response.statusCode, `${method} ${url}`).toBe(401);
      expect(json<ProblemBody>(response).code).toBe('unauthorized');
    }
  });

  it('403 for a plain user; oauth_clients:read reads but does not write', async () => {
    const client = await register();
    const user = await signedInUser(app);
    for (const [method, url] of [
      ['GET', URL_BASE],
      ['POST', URL_BASE],
      ['GET', `${URL_BASE}/${client.client_id}`],
      ['PATCH', `${URL_BASE}/${client.client_id}`],
      ['POST', `${URL_BASE}/${client.client_id}/rotate`],
      ['DELETE', `${URL_BASE}/${client.client_id}`],
    ] as const) {
      const response = await app.inject({ method, url, headers: user.auth, payload: {} });
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(json<ProblemBody>(response).code).toBe('forbidden');
    }
    await grantPermissions(deps, user.user.id, 'client_reader', ['oauth_clients:read']);
    const listed = await app.inject({ method: 'GET', url: URL_BASE, headers: user.auth });
    expect(listed.statusCode).toBe(200);
    const got = await app.inject({
      method: 'GET',
      url: `${URL_BASE}/${client.client_id}`,
      headers: user.auth,
    });
    expect(got.statusCode).toBe(200);
    const write = await app.inject({
      method: 'DELETE',
      url: `${URL_BASE}/${client.client_id}`,
      headers: user.auth,
    });
    expect(write.statusCode).toBe(403);
    expect(await oauthClients.findClient(client.client_id)).toBeDefined();

    await grantPermissions(deps, user.user.id, 'client_writer', ['oauth_clients:write']);
    const made = await register({}, user.auth);
    const [event] = await eventsAbout(made.client_id, 'oauth.client_created');
    expect(event?.actor_id).toBe(user.user.id);
  });
});

describe('registering a client', () => {
  it('a confidential client: defaults, the secret shown once and stored only as a hash, audited', async () => {
    const created = await register({ name: '  Chat  ' });
    expect(created).toEqual({
      client_id: expect.stringMatching(/^hc_[0-9a-f]{32}$/),
      name: 'Chat',
      type: 'confidential',
      redirect_uris: ['https://app.example/callback'],
      post_logout_redirect_uris: [],
      grant_types: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      first_party: false,
      created_at: clock.now().toISOString(),
      secret_rotated_at: null,
      registration: 'admin',
      client_secret: expect.stringMatching(/^hcs_[A-Za-z0-9_-]{43}$/),
    });
    const row = await deps.db
      .selectFrom('oauth_clients')
      .selectAll()
      .where('client_id', '=', created.client_id)
      .executeTakeFirstOrThrow();
    expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.secret_hash).not.toContain(created.client_secret!);
    expect(row.created_by).toBe(admin.user.id);

    const got = await app.inject({
      method: 'GET',
      url: `${URL_BASE}/${created.client_id}`,
      headers: admin.auth,
    });
    expect(got.statusCode).toBe(200);
    const { client_secret: secret, ...view } = created;
    expect(json(got)).toEqual(view);
    const list = await app.inject({ method: 'GET', url: URL_BASE, headers: admin.auth });
    for (const body of [got.body, list.body]) {
      expect(body).not.toContain(secret);
      expect(body).not.toContain(row.secret_hash);
      expect(body).not.toContain('secret_hash');
    }

    const events = await eventsAbout(created.client_id, 'oauth.client_created');
    expect(events).toEqual([
      {
        type: 'oauth.client_created',
        actor_id: admin.user.id,
        user_id: null,
        data: expect.objectContaining({
          client_id: created.client_id,
          name: 'Chat',
          type: 'confidential',
          redirect_uris: ['https://app.example/callback'],
        }),
      },
    ]);
    expect(JSON.stringify(events)).not.toContain(secret);
    expect(JSON.stringify(events)).not.toContain(row.secret_hash);
  });

  it('a public client with its own id, chosen grants and scopes (deduplicated, in order)', async () => {
    const created = await register({
      client_id: 'spa.example-app_1~x',
      type: 'public',
      redirect_uris: [
        'http://localhost:5173/cb',
        'http://localhost:5173/cb',
        'com.example.app:/cb',
      ],
      post_logout_redirect_uris: ['http://127.0.0.1:5173/', 'http://[::1]:5173/bye'],
      grant_types: ['authorization_code', 'authorization_code'],
      scopes: ['email', 'openid', 'phone', 'email'],
      first_party: true,
    });
    expect(created).not.toHaveProperty('client_secret');
    expect(created).toMatchObject({
      client_id: 'spa.example-app_1~x',
      type: 'public',
      redirect_uris: ['http://localhost:5173/cb', 'com.example.app:/cb'],
      post_logout_redirect_uris: ['http://127.0.0.1:5173/', 'http://[::1]:5173/bye'],
      grant_types: ['authorization_code'],
      scopes: ['openid', 'email', 'phone'],
      first_party: true,
    });
    const row = await deps.db
      .selectFrom('oauth_clients')
      .select('secret_hash')
      .where('client_id', '=', created.client_id)
      .executeTakeFirstOrThrow();
    expect(row.secret_hash).toBeNull();
  });

  it('409 conflict when the client_id is taken, and nothing changes', async () => {
    const first = await register({ client_id: 'taken-id' });
    const before = await countClients();
    const response = await app.inject({
      method: 'POST',
      url: URL_BASE,
      headers: admin.auth,
      payload: { name: 'other', type: 'public', redirect_uris: ['https://other.example/cb'] },
    });
    expect(response.statusCode).toBe(201);
    const again = await app.inject({
      method: 'POST',
      url: URL_BASE,
      headers: admin.auth,
      payload: {
        name: 'squatter',
        type: 'public',
        client_id: 'taken-id',
        redirect_uris: ['https://evil.example/cb'],
      },
    });
    expect(again.statusCode).toBe(409);
    expect(json<ProblemBody>(again).code).toBe('conflict');
    expect(await countClients()).toBe(before + 1);
    expect(await oauthClients.findClient('taken-id')).toMatchObject({
      name: first.name,
      redirect_uris: ['https://app.example/callback'],
    });
    expect(await eventsAbout('taken-id', 'oauth.client_created')).toHaveLength(1);
  });

  it('accepts https, loopback http and private-use schemes as redirect URIs', async () => {
    const uris = [
      'https://app.example/cb?tenant=1',
      'https://app.example:8443/oauth/callback',
      'http://localhost/cb',
      'http://localhost:3000/cb',
      'http://127.0.0.1:8080/cb',
      'http://[::1]/cb',
      'com.example.app:/oauth2redirect',
      'com.example.app://callback',
    ];
    const created = await register({ redirect_uris: uris });
    expect(created.redirect_uris).toEqual(uris);
  });

  it('400 for a redirect URI that could leak codes, naming the one at fault', async () => {
    const before = await countClients();
    for (const bad of [
      'http://app.example/cb',
      'http://localhost.evil.example/cb',
      'http://127.0.0.1.evil.example/cb',
      'https://app.example/cb#frag',
      'https://app.example/cb#',
      'https://*.example.com/cb',
      'https://app.example/*',
      '/relative/cb',
      'app.example/cb',
      'javascript:alert(1)',
      'data:text/html,hi',
      'file:///etc/passwd',
      'myapp:/cb',
      'https://user:pw@app.example/cb',
      'https:///app.example/cb',
      'https:\\\\evil.example/cb',
      'https://app.example/c b',
      'https://',
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: URL_BASE,
        headers: admin.auth,
        payload: {
          name: 'bad',
          type: 'public',
          redirect_uris: ['https://fine.example/cb', bad],
        },
      });
      expect(response.statusCode, bad).toBe(400);
      const problem = json<ProblemBody>(response);
      expect(problem.code).toBe('validation_failed');
      expect(
        problem.errors?.map((e) => e.field),
        bad,
      ).toEqual(['redirect_uris.1']);
      const logout = await app.inject({
        method: 'POST',
        url: URL_BASE,
        headers: admin.auth,
        payload: {
          name: 'bad',
          type: 'public',
          redirect_uris: ['https://fine.example/cb'],
          post_logout_redirect_uris: [bad],
        },
      });
      expect(logout.statusCode, bad).toBe(400);
      expect(json<ProblemBody>(logout).errors?.[0]?.field).toBe('post_logout_redirect_uris.0');
    }
    expect(await countClients()).toBe(before);
  });

  it('a device-only client (a CLI) needs no redirect URI; a client of the code flow does', async () => {
    const cli = await register({
      type: 'public',
      redirect_uris: undefined,
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    });
    expect(cli.redirect_uris).toEqual([]);
    // Giving it the code flow without a redirect URI is refused, and nothing changes.
    const patch = (payload: Record<string, unknown>) =>
      app.inject({
        method: 'PATCH',
        url: `${URL_BASE}/${cli.client_id}`,
        headers: admin.auth,
        payload,
      });
    const refused = await patch({ grant_types: ['authorization_code'] });
    expect(refused.statusCode).toBe(400);
    expect(json<ProblemBody>(refused).errors).toEqual([
      { field: 'redirect_uris', message: expect.stringContaining('authorization_code') },
    ]);
    expect((await oauthClients.get(cli.client_id)).grant_types).toEqual([
      'urn:ietf:params:oauth:grant-type:device_code',
    ]);
    const web = await register();
    const emptied = await app.inject({
      method: 'PATCH',
      url: `${URL_BASE}/${web.client_id}`,
      headers: admin.auth,
      payload: { redirect_uris: [] },
    });
    expect(emptied.statusCode).toBe(400);
    expect((await oauthClients.get(web.client_id)).redirect_uris).toEqual([
      'https://app.example/callback',
    ]);
  });

  it('400 for bad fields, and nothing is created', async () => {
    const before = await countClients();
    const base = { name: 'x', type: 'public', redirect_uris: ['https://app.example/cb'] };
    for (const payload of [
      { ...base, name: '' },
      { ...base, name: '   ' },
      { ...base, name: 'x'.repeat(101) },
      { ...base, type: 'trusted' },
      { ...base, type: undefined },
      { ...base, redirect_uris: [] },
      { ...base, redirect_uris: undefined },
      { ...base, redirect_uris: 'https://app.example/cb' },
      { ...base, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://a.example/${i}`) },
      { ...base, redirect_uris: [`https://a.example/${'x'.repeat(2000)}`] },
      { ...base, grant_types: [] },
      { ...base, grant_types: ['client_credentials'] },
      { ...base, grant_types: ['implicit'] },
      { ...base, scopes: ['openid', 'users:read'] },
      { ...base, scopes: 'openid' },
      { ...base, first_party: 'yes' },
      { ...base, client_id: 'ab' },
      { ...base, client_id: 'has space' },
      { ...base, client_id: 'x'.repeat(65) },
      { ...base, client_id: 'a/b/c' },
      { ...base, client_id: 42 },
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: URL_BASE,
        headers: admin.auth,
        payload,
      });
      expect(response.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(json<ProblemBody>(response).code).toBe('validation_failed');
    }
    expect(await countClients()).toBe(before);
  });
});

describe('reading the registry', () => {
  it('lists newest first in keyset pages, each client once, never a secret', async () => {
    const made: OAuthClientWithSecret[] = [];
    for (const name of ['page one', 'page two', 'page three']) {
      clock.advance(1);
      made.push(await register({ name }));
    }
    const seen: OAuthClientView[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `${URL_BASE}?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await app.inject({ method: 'GET', url, headers: admin.auth });
      expect(response.statusCode).toBe(200);
      const page = json<{ items: OAuthClientView[]; next_cursor: string | null }>(response);
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) expect(item).not.toHaveProperty('client_secret');
      seen.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.slice(0, 3).map((c) => c.name)).toEqual(['page three', 'page two', 'page one']);
    const times = seen.map((c) => Date.parse(c.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(new Set(seen.map((c) => c.client_id)).size).toBe(seen.length);
    expect(seen.length).toBe(await countClients());
    for (const client of made) expect(JSON.stringify(seen)).not.toContain(client.client_secret);
  });

  it('400 for a bad cursor or limit', async () => {
    const forged = Buffer.from(JSON.stringify([new Date().toISOString(), 'x y'])).toString(
      'base64url',
    );
    for (const query of ['?cursor=garbage', `?cursor=${forged}`, '?limit=0', '?limit=101']) {
      const response = await app.inject({
        method: 'GET',
        url: `${URL_BASE}${query}`,
        headers: admin.auth,
      });
      expect(response.statusCode, query).toBe(400);
    }
  });

  it('404 for an unknown client on get, change, rotate and delete; 400 for a malformed id', async () => {
    for (const [method, url] of [
      ['GET', `${URL_BASE}/no-such-client`],
      ['PATCH', `${URL_BASE}/no-such-client`],
      ['POST', `${URL_BASE}/no-such-client/rotate`],
      ['DELETE', `${URL_BASE}/no-such-client`],
    ] as const) {
      const response = await app.inject({
        method,
        url,
        headers: admin.auth,
        ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}),
      });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(json<ProblemBody>(response).code).toBe('not_found');
    }
    const malformed = await app.inject({
      method: 'GET',
      url: `${URL_BASE}/${'x'.repeat(65)}`,
      headers: admin.auth,
    });
    expect(malformed.statusCode).toBe(400);
  });

  it('findClient hands the provider the client as registered, never its secret', async () => {
    const created = await register({ first_party: true });
    const found = await oauthClients.findClient(created.client_id);
    expect(found).toEqual({
      client_id: created.client_id,
      name: created.name,
      type: 'confidential',
      redirect_uris: created.redirect_uris,
      post_logout_redirect_uris: [],
      grant_types: created.grant_types,
      scopes: created.scopes,
      first_party: true,
      created_at: new Date(created.created_at),
      secret_rotated_at: null,
      registration: 'admin',
    });
    expect(await oauthClients.findClient('no-such-client')).toBeUndefined();
  });
});

describe('changing a client', () => {
  it('changes the fields given, keeps the rest, and audits the change', async () => {
    const created = await register();
    const response = await app.inject({
      method: 'PATCH',
      url: `${URL_BASE}/${created.client_id}`,
      headers: admin.auth,
      payload: {
        name: ' Renamed ',
        redirect_uris: ['https://new.example/cb'],
        post_logout_redirect_uris: ['https://new.example/bye'],
        scopes: ['openid', 'openid'],
        first_party: true,
      },
    });
    expect(response.statusCode).toBe(200);
    const { client_secret: _secret, ...before } = created;
    expect(json(response)).toEqual({
      ...before,
      name: 'Renamed',
      redirect_uris: ['https://new.example/cb'],
      post_logout_redirect_uris: ['https://new.example/bye'],
      scopes: ['openid'],
      first_party: true,
    });
    expect(response.body).not.toContain('secret_hash');
    const [event] = await eventsAbout(created.client_id, 'oauth.client_updated');
    expect(event).toMatchObject({
      actor_id: admin.user.id,
      data: { client_id: created.client_id, changes: { name: 'Renamed', scopes: ['openid'] } },
    });
  });

  it('400 for a bad value or nothing to change; the type and client_id are not changeable', async () => {
    const created = await register();
    for (const payload of [
      {},
      { type: 'public' },
      { client_id: 'new-id' },
      { redirect_uris: [] },
      { redirect_uris: ['http://app.example/cb'] },
      { post_logout_redirect_uris: ['https://app.example/#x'] },
      { grant_types: ['password'] },
      { scopes: ['root'] },
      { name: '' },
    ]) {
      const response = await app.inject({
        method: 'PATCH',
        url: `${URL_BASE}/${created.client_id}`,
        headers: admin.auth,
        payload,
      });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(json<ProblemBody>(response).code).toBe('validation_failed');
    }
    expect(await oauthClients.findClient(created.client_id)).toMatchObject({
      type: 'confidential',
      redirect_uris: created.redirect_uris,
      scopes: created.scopes,
    });
    expect(await eventsAbout(created.client_id, 'oauth.client_updated')).toEqual([]);
  });
});

describe('client authentication', () => {
  it('a confidential client authenticates with its secret only', async () => {
    const created = await register();
    const client = await oauthClients.authenticateClient({
      clientId: created.client_id,
      clientSecret: created.client_secret,
    });
    expect(client.client_id).toBe(created.client_id);
    expect(client).not.toHaveProperty('secret_hash');
    for (const clientSecret of [
      undefined,
      '',
      `${created.client_secret}x`,
      created.client_secret!.slice(0, -1),
    ]) {
      await expect(
        oauthClients.authenticateClient({ clientId: created.client_id, clientSecret }),
      ).rejects.toBeInstanceOf(InvalidClientError);
    }
  });

  it('an unknown client fails the same way', async () => {
    const created = await register();
    const failure = oauthClients.authenticateClient({
      clientId: 'no-such-client',
      clientSecret: created.client_secret,
    });
    await expect(failure).rejects.toBeInstanceOf(InvalidClientError);
    await expect(failure).rejects.toThrow('Client authentication failed');
    await expect(
      oauthClients.authenticateClient({ clientId: 'no-such-client', clientSecret: undefined }),
    ).rejects.toBeInstanceOf(InvalidClientError);
  });

  it('a public client presents no secret, and is refused when it presents one', async () => {
    const created = await register({ type: 'public' });
    const client = await oauthClients.authenticateClient({
      clientId: created.client_id,
      clientSecret: undefined,
    });
    expect(client).toMatchObject({ client_id: created.client_id, type: 'public' });
    for (const clientSecret of ['', 'anything'])
      await expect(
        oauthClients.authenticateClient({ clientId: created.client_id, clientSecret }),
      ).rejects.toBeInstanceOf(InvalidClientError);
  });
});

describe('rotating the secret', () => {
  it('shows a new secret once; the old one stops at once; audited without the secret', async () => {
    const created = await register();
    clock.advance(5);
    const response = await app.inject({
      method: 'POST',
      url: `${URL_BASE}/${created.client_id}/rotate`,
      headers: admin.auth,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const rotated = json<OAuthClientWithSecret>(response);
    expect(rotated.client_id).toBe(created.client_id);
    expect(rotated.client_secret).toMatch(/^hcs_[A-Za-z0-9_-]{43}$/);
    expect(rotated.client_secret).not.toBe(created.client_secret);
    expect(rotated.secret_rotated_at).toBe(clock.now().toISOString());

    await expect(
      oauthClients.authenticateClient({
        clientId: created.client_id,
        clientSecret: created.client_secret,
      }),
    ).rejects.toBeInstanceOf(InvalidClientError);
    await expect(
      oauthClients.authenticateClient({
        clientId: created.client_id,
        clientSecret: rotated.client_secret,
      }),
    ).resolves.toMatchObject({ client_id: created.client_id });

    const got = await app.inject({
      method: 'GET',
      url: `${URL_BASE}/${created.client_id}`,
      headers: admin.auth,
    });
    expect(got.body).not.toContain(rotated.client_secret!);
    const events = await eventsAbout(created.client_id, 'oauth.client_rotated');
    expect(events).toEqual([expect.objectContaining({ actor_id: admin.user.id })]);
    expect(JSON.stringify(events)).not.toContain(rotated.client_secret!);
  });

  it('409 for a public client, which has no secret', async () => {
    const created = await register({ type: 'public' });
    const response = await app.inject({
      method: 'POST',
      url: `${URL_BASE}/${created.client_id}/rotate`,
      headers: admin.auth,
    });
    expect(response.statusCode).toBe(409);
    expect(json<ProblemBody>(response).code).toBe('conflict');
    expect(await eventsAbout(created.client_id, 'oauth.client_rotated')).toEqual([]);
  });
});

describe('deleting a client', () => {
  it("ends its grants at once, drops its consents, audits; other clients' grants stay", async () => {
    const doomed = await register();
    const kept = await register();
    const user = await signedInUser(app);
    await consents.grant(user.user.id, doomed.client_id, ['openid'], NO_CLIENT);
    await consents.grant(user.user.id, kept.client_id, ['openid'], NO_CLIENT);
    const doomedGrant = await clientGrant(user.user.id, doomed.client_id);
    const keptGrant = await clientGrant(user.user.id, kept.client_id);
    expect((await me(doomedGrant.auth)).statusCode).toBe(200);

    const response = await app.inject({
      method: 'DELETE',
      url: `${URL_BASE}/${doomed.client_id}`,
      headers: admin.auth,
    });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');

    expect((await me(doomedGrant.auth)).statusCode).toBe(401);
    expect((await me(keptGrant.auth)).statusCode).toBe(200);
    expect((await me(user.auth)).statusCode).toBe(200);
    const session = await deps.db
      .selectFrom('sessions')
      .select(['revoked_at', 'revoked_reason'])
      .where('id', '=', doomedGrant.session.id)
      .executeTakeFirstOrThrow();
    expect(session).toEqual({ revoked_at: clock.now(), revoked_reason: 'client_deleted' });
    expect(await consents.findGranted(user.user.id, doomed.client_id)).toBeUndefined();
    expect(await consents.findGranted(user.user.id, kept.client_id)).toEqual(['openid']);
    expect(await oauthClients.findClient(doomed.client_id)).toBeUndefined();

    const events = await eventsAbout(doomed.client_id, 'oauth.client_deleted');
    expect(events).toEqual([
      expect.objectContaining({
        actor_id: admin.user.id,
        data: expect.objectContaining({ client_id: doomed.client_id, consents_deleted: 1 }),
      }),
    ]);
    const again = await app.inject({
      method: 'DELETE',
      url: `${URL_BASE}/${doomed.client_id}`,
      headers: admin.auth,
    });
    expect(again.statusCode).toBe(404);
    await expect(
      oauthClients.authenticateClient({
        clientId: doomed.client_id,
        clientSecret: doomed.client_secret,
      }),
    ).rejects.toBeInstanceOf(InvalidClientError);
  });

  it('the operator (CLI actor) is recorded as no one', async () => {
    const created = await oauthClients.create(
      { name: 'from the CLI', type: 'public', redirect_uris: ['https://cli.example/cb'] },
      OPERATOR,
    );
    await oauthClients.delete(created.client_id, OPERATOR);
    const events = [
      ...(await eventsAbout(created.client_id, 'oauth.client_created')),
      ...(await eventsAbout(created.client_id, 'oauth.client_deleted')),
    ];
    expect(events.map((e) => [e.type, e.actor_id])).toEqual([
      ['oauth.client_created', null],
      ['oauth.client_deleted', null],
    ]);
  });
});
