import { createLocalJWKSet, jwtVerify } from 'jose';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { json, signedInAdmin, signedInUser, startTestApp } from '../../../test/app.js';
import type { ProblemBody } from '../../http/problem.js';
import type { ServiceAccountView } from './service-accounts.schemas.js';

const { app, deps, clock, config } = await startTestApp();
const admin = await signedInAdmin(app, deps);

type Created = ServiceAccountView & { client_secret: string };

async function createAccount(scopes: string[], name = 'billing agent'): Promise<Created> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/admin/service-accounts',
    headers: admin.auth,
    payload: { name, scopes },
  });
  expect(response.statusCode).toBe(201);
  // The answer carries the only copy of the secret: no browser or proxy may keep it.
  expect(response.headers['cache-control']).toBe('no-store');
  return json<Created>(response);
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

const tokenRequest = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: '/api/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(params).toString(),
  });

async function serviceToken(account: Created, scope?: string): Promise<string> {
  const response = await tokenRequest(
    { grant_type: 'client_credentials', ...(scope ? { scope } : {}) },
    { authorization: basic(account.client_id, account.client_secret) },
  );
  expect(response.statusCode).toBe(200);
  return json<{ access_token: string }>(response).access_token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('service accounts admin API', () => {
  it('401 without a token, 403 for a plain user', async () => {
    expect(
      (await app.inject({ method: 'GET', url: '/api/admin/service-accounts' })).statusCode,
    ).toBe(401);
    const user = await signedInUser(app);
    const response = await app.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: user.auth,
      payload: { name: 'x', scopes: [] },
    });
    expect(response.statusCode).toBe(403);
    expect(json<ProblemBody>(response).code).toBe('forbidden');
  });

  it('creates an account: the secret is shown once, stored only as a hash, audited', async () => {
    const created = await createAccount(['users:read', 'audit:read', 'users:read']);
    expect(created).toMatchObject({ name: 'billing agent', scopes: ['audit:read', 'users:read'] });
    expect(created.client_id).toMatch(/^sa_[0-9a-f]{32}$/);
    expect(created.client_secret).toMatch(/^hsas_[A-Za-z0-9_-]{43}$/);

    const row = await deps.db
      .selectFrom('service_accounts')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(row.secret_hash).not.toContain(created.client_secret);
    expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);

    const got = await app.inject({
      method: 'GET',
      url: `/api/admin/service-accounts/${created.id}`,
      headers: admin.auth,
    });
    expect(json(got)).not.toHaveProperty('client_secret');
    const list = await app.inject({
      method: 'GET',
      url: '/api/admin/service-accounts',
      headers: admin.auth,
    });
    expect(list.body).not.toContain(created.client_secret);
    expect(list.body).not.toContain(row.secret_hash);
    expect(json<{ items: ServiceAccountView[] }>(list).items.map((a) => a.id)).toContain(
      created.id,
    );

    const event = await deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'service_account.created')
      .orderBy('at', 'desc')
      .executeTakeFirstOrThrow();
    expect(event.actor_id).toBe(admin.user.id);
    expect(event.data).toMatchObject({
      service_account_id: created.id,
      client_id: created.client_id,
      name: 'billing agent',
    });
    expect(JSON.stringify(event.data)).not.toContain(created.client_secret);
  });

  it('400 for a bad name or scope, and nothing is created', async () => {
    const before = await deps.db.selectFrom('service_accounts').select('id').execute();
    for (const payload of [
      { name: '', scopes: [] },
      { name: 'x', scopes: ['not a scope'] },
      { name: 'x', scopes: 'users:read' },
      { scopes: ['users:read'] },
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/admin/service-accounts',
        headers: admin.auth,
        payload,
      });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const after = await deps.db.selectFrom('service_accounts').select('id').execute();
    expect(after).toHaveLength(before.length);
  });

  it('trims the name; refuses a name over 100, more than 50 scopes or a bad scope list', async () => {
    const trimmed = await createAccount(['users:read'], '  nightly export  ');
    expect(trimmed.name).toBe('nightly export');
    const fifty = Array.from({ length: 50 }, (_, i) => `res${i}:read`);
    expect((await createAccount(fifty)).scopes).toHaveLength(50);
    const before = await deps.db.selectFrom('service_accounts').select('id').execute();
    for (const payload of [
      { name: 'x'.repeat(101), scopes: [] },
      { name: '   ', scopes: [] },
      { name: 'x', scopes: [...fifty, 'res50:read'] },
      { name: 'x', scopes: ['users:read "quoted"'] },
      { name: 'x', scopes: [7] },
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/admin/service-accounts',
        headers: admin.auth,
        payload,
      });
      expect(response.statusCode, JSON.stringify(payload).slice(0, 60)).toBe(400);
      expect(json<ProblemBody>(response).code).toBe('validation_failed');
    }
    const after = await deps.db.selectFrom('service_accounts').select('id').execute();
    expect(after).toHaveLength(before.length);
  });

  it('lists newest first in keyset pages, never with a secret or hash', async () => {
    const created: Created[] = [];
    for (const name of ['page one', 'page two', 'page three']) {
      clock.advance(1);
      created.push(await createAccount(['users:read'], name));
    }
    const seen: ServiceAccountView[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/admin/service-accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await app.inject({ method: 'GET', url, headers: admin.auth });
      expect(response.statusCode).toBe(200);
      const page = json<{ items: ServiceAccountView[]; next_cursor: string | null }>(response);
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) {
        expect(Object.keys(item).sort()).toEqual(
          [
            'client_id',
            'created_at',
            'id',
            'last_used_at',
            'name',
            'scopes',
            'secret_rotated_at',
          ].sort(),
        );
      }
      seen.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.slice(0, 3).map((a) => a.name)).toEqual(['page three', 'page two', 'page one']);
    const times = seen.map((a) => Date.parse(a.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(new Set(seen.map((a) => a.id)).size).toBe(seen.length);
    for (const account of created)
      expect(JSON.stringify(seen)).not.toContain(account.client_secret);
    const bad = await app.inject({
      method: 'GET',
      url: '/api/admin/service-accounts?cursor=garbage',
      headers: admin.auth,
    });
    expect(bad.statusCode).toBe(400);
  });

  it('audits rotation and deletion with the admin as actor', async () => {
    const account = await createAccount(['users:read'], 'audited');
    const rotated = await app.inject({
      method: 'POST',
      url: `/api/admin/service-accounts/${account.id}/rotate`,
      headers: admin.auth,
    });
    expect(rotated.statusCode).toBe(200);
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/api/admin/service-accounts/${account.id}`,
      headers: admin.auth,
    });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    const events = await deps.db
      .selectFrom('audit_events')
      .select(['type', 'actor_id', 'data'])
      .where('type', 'in', ['service_account.rotated', 'service_account.deleted'])
      .where(sql<boolean>`data->>'service_account_id' = ${account.id}`)
      .orderBy('at')
      .execute();
    const expected = {
      service_account_id: account.id,
      client_id: account.client_id,
      name: 'audited',
    };
    expect(events).toEqual([
      {
        type: 'service_account.rotated',
        actor_id: admin.user.id,
        data: expect.objectContaining(expected),
      },
      {
        type: 'service_account.deleted',
        actor_id: admin.user.id,
        data: expect.objectContaining(expected),
      },
    ]);
    expect(JSON.stringify(events)).not.toContain(json<Created>(rotated).client_secret);
    const gone = await app.inject({
      method: 'GET',
      url: `/api/admin/service-accounts/${account.id}`,
      headers: admin.auth,
    });
    expect(gone.statusCode).toBe(404);
  });

  it('a service account with service_accounts:write acts as itself in the audit trail', async () => {
    const manager = await createAccount(['service_accounts:write', 'users:read'], 'manager');
    const response = await app.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: bearer(await serviceToken(manager)),
      payload: { name: 'made by a robot', scopes: ['users:read'] },
    });
    expect(response.statusCode).toBe(201);
    const made = json<Created>(response);
    const event = await deps.db
      .selectFrom('audit_events')
      .select(['actor_id', 'data'])
      .where('type', '=', 'service_account.created')
      .where(sql<boolean>`data->>'service_account_id' = ${made.id}`)
      .executeTakeFirstOrThrow();
    expect(event.actor_id).toBeNull();
    expect(event.data).toMatchObject({
      client_id: made.client_id,
      actor_client_id: manager.client_id,
    });
    // No one grants what they do not hold: not even a service account.
    const wider = await app.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: bearer(await serviceToken(manager)),
      payload: { name: 'wider', scopes: ['users:write'] },
    });
    expect(wider.statusCode).toBe(403);
  });

  it('404 for an unknown account on get, rotate and delete', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const [method, url] of [
      ['GET', `/api/admin/service-accounts/${id}`],
      ['POST', `/api/admin/service-accounts/${id}/rotate`],
      ['DELETE', `/api/admin/service-accounts/${id}`],
    ] as const) {
      expect((await app.inject({ method, url, headers: admin.auth })).statusCode).toBe(404);
    }
  });
});

describe('POST /api/auth/token, grant_type=client_credentials', () => {
  it('issues a 5-minute token with the scopes and no refresh token, via Basic', async () => {
    const account = await createAccount(['users:read', 'audit:read']);
    const response = await tokenRequest(
      { grant_type: 'client_credentials' },
      { authorization: basic(account.client_id, account.client_secret) },
    );
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = json<Record<string, unknown>>(response);
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 300,
      scope: 'audit:read users:read',
    });
    // A verifier with only the JWKS accepts it.
    const jwks = json<{ keys: object[] }>(
      await app.inject({ method: 'GET', url: '/.well-known/jwks.json' }),
    );
    const { payload } = await jwtVerify(
      body['access_token'] as string,
      createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]),
      {
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
        currentDate: clock.now(),
      },
    );
    expect(payload).toMatchObject({
      sub: account.client_id,
      client_id: account.client_id,
      scope: 'audit:read users:read',
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload).not.toHaveProperty('sid');

    const row = await deps.db
      .selectFrom('service_accounts')
      .select('last_used_at')
      .where('id', '=', account.id)
      .executeTakeFirstOrThrow();
    expect(row.last_used_at).not.toBeNull();
  });

  it('accepts client_id and client_secret in the body, and a subset of the scopes', async () => {
    const account = await createAccount(['users:read', 'audit:read']);
    const response = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: account.client_id,
      client_secret: account.client_secret,
      scope: 'users:read',
    });
    expect(response.statusCode).toBe(200);
    expect(json(response)['scope']).toBe('users:read');
  });

  it('invalid_scope for a scope the account lacks', async () => {
    const account = await createAccount(['users:read']);
    const response = await tokenRequest(
      { grant_type: 'client_credentials', scope: 'users:read users:write' },
      { authorization: basic(account.client_id, account.client_secret) },
    );
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']).toBe('invalid_scope');
  });

  it('invalid_client (401) for a wrong secret or unknown client; Basic gets a challenge', async () => {
    const account = await createAccount(['users:read']);
    const wrong = await tokenRequest(
      { grant_type: 'client_credentials' },
      { authorization: basic(account.client_id, `${account.client_secret}x`) },
    );
    expect(wrong.statusCode).toBe(401);
    expect(json(wrong)['error']).toBe('invalid_client');
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic realm=/);
    const unknown = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'sa_nobody',
      client_secret: account.client_secret,
    });
    expect(unknown.statusCode).toBe(401);
    expect(json(unknown)['error']).toBe('invalid_client');
    expect(unknown.body).toBe(
      JSON.stringify({
        error: 'invalid_client',
        error_description: 'Client authentication failed',
      }),
    );
    const both = await tokenRequest(
      { grant_type: 'client_credentials', client_secret: account.client_secret },
      { authorization: basic(account.client_id, account.client_secret) },
    );
    expect(json(both)['error']).toBe('invalid_request');
  });
});

describe('client_credentials: more ways in and out', () => {
  it('accepts a JSON body, and the subset asked for is what the token carries', async () => {
    const account = await createAccount(['users:read', 'audit:read', 'roles:read']);
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: {
        grant_type: 'client_credentials',
        client_id: account.client_id,
        client_secret: account.client_secret,
        scope: 'roles:read  users:read roles:read',
      },
    });
    expect(response.statusCode).toBe(200);
    const body = json<{ access_token: string; scope: string }>(response);
    expect(body.scope).toBe('roles:read users:read');
    expect(body).not.toHaveProperty('refresh_token');
    expect(body).not.toHaveProperty('user');
    const verified = await deps.tokens.verify(body.access_token);
    expect(verified).toMatchObject({ sub: account.client_id, sid: undefined, scope: body.scope });
  });

  it('refuses Basic with a different client_id in the body, and echoes no odd scope', async () => {
    const account = await createAccount(['users:read']);
    const auth = { authorization: basic(account.client_id, account.client_secret) };
    const differs = await tokenRequest(
      { grant_type: 'client_credentials', client_id: 'sa_other' },
      auth,
    );
    expect(differs.statusCode).toBe(400);
    expect(json(differs)['error']).toBe('invalid_request');
    const same = await tokenRequest(
      { grant_type: 'client_credentials', client_id: account.client_id },
      auth,
    );
    expect(same.statusCode).toBe(200);
    const odd = await tokenRequest(
      { grant_type: 'client_credentials', scope: 'users:read "\\é' },
      auth,
    );
    expect(odd.statusCode).toBe(400);
    const { error, error_description } = json<{ error: string; error_description: string }>(odd);
    expect(error).toBe('invalid_scope');
    expect(error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
    const long = await tokenRequest(
      { grant_type: 'client_credentials', scope: 'a'.repeat(5000) },
      auth,
    );
    expect(json(long)['error']).toBe('invalid_request');
  });

  it('an unknown client via Basic gets invalid_client and the challenge; nothing is marked used', async () => {
    const account = await createAccount(['users:read']);
    const unknown = await tokenRequest(
      { grant_type: 'client_credentials' },
      { authorization: basic('sa_unknown', account.client_secret) },
    );
    expect(unknown.statusCode).toBe(401);
    expect(json(unknown)).toEqual({
      error: 'invalid_client',
      error_description: 'Client authentication failed',
    });
    expect(unknown.headers['www-authenticate']).toBe('Basic realm="hyperion-auth"');
    const wrong = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: account.client_id,
      client_secret: 'hsas_wrong',
    });
    expect(wrong.statusCode).toBe(401);
    // Body credentials were not Basic: no Basic challenge is owed (RFC 6749 §5.2).
    expect(wrong.headers['www-authenticate']).toBeUndefined();
    const row = await deps.db
      .selectFrom('service_accounts')
      .select('last_used_at')
      .where('id', '=', account.id)
      .executeTakeFirstOrThrow();
    expect(row.last_used_at).toBeNull();
  });

  it('lasts SERVICE_TOKEN_TTL when configured', async () => {
    const custom = await startTestApp({ env: { SERVICE_TOKEN_TTL: '90s' } });
    try {
      expect(custom.config.serviceTokenTtl).toBe(90);
      const boss = await signedInAdmin(custom.app, custom.deps);
      const created = json<Created>(
        await custom.app.inject({
          method: 'POST',
          url: '/api/admin/service-accounts',
          headers: boss.auth,
          payload: { name: 'short-lived', scopes: [] },
        }),
      );
      const response = await custom.app.inject({
        method: 'POST',
        url: '/api/auth/token',
        payload: {
          grant_type: 'client_credentials',
          client_id: created.client_id,
          client_secret: created.client_secret,
        },
      });
      expect(json(response)).toMatchObject({ expires_in: 90, scope: '' });
    } finally {
      await custom.close();
    }
  });
});

describe('service tokens at the API', () => {
  const listAccounts = (token: string) =>
    app.inject({ method: 'GET', url: '/api/admin/service-accounts', headers: bearer(token) });

  it('act within their scopes: 200 with the permission, 403 without', async () => {
    const reader = await createAccount(['service_accounts:read']);
    expect((await listAccounts(await serviceToken(reader))).statusCode).toBe(200);
    const other = await createAccount(['users:read']);
    const refused = await listAccounts(await serviceToken(other));
    expect(refused.statusCode).toBe(403);
    expect(json<ProblemBody>(refused).code).toBe('forbidden');
    // A narrower token than the account gets only what it asked for.
    const both = await createAccount(['service_accounts:read', 'users:read']);
    expect((await listAccounts(await serviceToken(both, 'users:read'))).statusCode).toBe(403);
  });

  it('are refused on user-only routes (401)', async () => {
    const account = await createAccount(['service_accounts:read']);
    const me = await app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: bearer(await serviceToken(account)),
    });
    expect(me.statusCode).toBe(401);
  });

  it('stop working when the account is deleted', async () => {
    const account = await createAccount(['service_accounts:read']);
    const token = await serviceToken(account);
    const response = await app.inject({
      method: 'DELETE',
      url: `/api/admin/service-accounts/${account.id}`,
      headers: admin.auth,
    });
    expect(response.statusCode).toBe(204);
    expect((await listAccounts(token)).statusCode).toBe(401);
    const verify = await app.inject({
      method: 'GET',
      url: '/api/auth/verify',
      headers: bearer(token),
    });
    expect(verify.statusCode).toBe(401);
    const again = await tokenRequest(
      { grant_type: 'client_credentials' },
      { authorization: basic(account.client_id, account.client_secret) },
    );
    expect(json(again)['error']).toBe('invalid_client');
  });

  it('rotation: the old secret and its tokens stop, the new secret works', async () => {
    const account = await createAccount(['service_accounts:read']);
    const oldToken = await serviceToken(account);
    clock.advance(1);
    const response = await app.inject({
      method: 'POST',
      url: `/api/admin/service-accounts/${account.id}/rotate`,
      headers: admin.auth,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const rotated = json<Created>(response);
    expect(rotated.client_id).toBe(account.client_id);
    expect(rotated.client_secret).not.toBe(account.client_secret);
    expect(rotated.secret_rotated_at).not.toBeNull();

    expect((await listAccounts(oldToken)).statusCode).toBe(401);
    const oldSecret = await tokenRequest(
      { grant_type: 'client_credentials' },
      { authorization: basic(account.client_id, account.client_secret) },
    );
    expect(json(oldSecret)['error']).toBe('invalid_client');
    clock.advance(1);
    expect((await listAccounts(await serviceToken(rotated))).statusCode).toBe(200);
  });

  it('expire after SERVICE_TOKEN_TTL (401 token_expired)', async () => {
    const account = await createAccount(['service_accounts:read']);
    const token = await serviceToken(account);
    clock.advance(301);
    const response = await listAccounts(token);
    expect(response.statusCode).toBe(401);
    expect(json<ProblemBody>(response).code).toBe('token_expired');
  });

  it('pass forward auth with the scopes the account still holds', async () => {
    const account = await createAccount(['users:read', 'audit:read']);
    const response = await app.inject({
      method: 'GET',
      url: '/api/auth/verify',
      headers: bearer(await serviceToken(account)),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-user-id']).toBe(account.client_id);
    expect(response.headers['x-auth-scope']).toBe('audit:read users:read');
    expect(json(response)).toEqual({
      user_id: account.client_id,
      email: null,
      roles: [],
      scope: 'audit:read users:read',
    });
  });
});
