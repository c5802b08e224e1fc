import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import {
  grantPermissions,
  json,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../test/app.js';
import { callerVerifier } from '../app.js';
import { registerAuthentication, requireCaller } from './authenticate.js';
import { type ProblemBody, registerProblemHandlers } from './problem.js';

// The one hook that enforces what routes declare, on routes made for the test.
const { app: service, deps, clock } = await startTestApp();
const app = Fastify({ logger: false });
registerProblemHandlers(app);
registerAuthentication(app, callerVerifier(deps));
app.get('/needs-permission', { config: { permission: 'reports:read' } }, async (request) => ({
  caller: requireCaller(request).kind,
}));
app.get('/needs-role', { config: { role: 'auditor' } }, async () => ({ ok: true }));
app.get('/needs-user', { config: { auth: true } }, async () => ({ ok: true }));
await app.ready();
afterAll(() => app.close());

const get = (url: string, token?: string) =>
  app.inject({
    method: 'GET',
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

function expectProblem(response: Awaited<ReturnType<typeof get>>, status: number, code: string) {
  expect(response.statusCode).toBe(status);
  expect(json<ProblemBody>(response).code).toBe(code);
}

describe('routes that declare a permission or a role', () => {
  it('401 without a token or with a bad one', async () => {
    expectProblem(await get('/needs-permission'), 401, 'unauthorized');
    expectProblem(await get('/needs-role', 'not.a.jwt'), 401, 'unauthorized');
  });

  it('403 forbidden for a user without the right; the admin passes everything', async () => {
    const user = await signedInUser(service);
    expectProblem(await get('/needs-permission', user.tokens.access_token), 403, 'forbidden');
    expectProblem(await get('/needs-role', user.tokens.access_token), 403, 'forbidden');
    const admin = await signedInAdmin(service, deps);
    expect((await get('/needs-permission', admin.tokens.access_token)).statusCode).toBe(200);
    expect((await get('/needs-role', admin.tokens.access_token)).statusCode).toBe(200);
  });

  it('a permission matches exactly, by resource:*, or by *', async () => {
    for (const [role, granted] of [
      ['reports-exact', ['reports:read']],
      ['reports-any', ['reports:*']],
    ] as const) {
      const user = await signedInUser(service);
      await grantPermissions(deps, user.user.id, role, [...granted]);
      const response = await get('/needs-permission', user.tokens.access_token);
      expect(response.statusCode, role).toBe(200);
      expect(json(response)).toEqual({ caller: 'user' });
    }
    const other = await signedInUser(service);
    await grantPermissions(deps, other.user.id, 'reports-writer', ['reports:write']);
    expectProblem(await get('/needs-permission', other.tokens.access_token), 403, 'forbidden');
  });

  it('a role held through a group passes a role route', async () => {
    const user = await signedInUser(service);
    await deps.db
      .insertInto('roles')
      .values({ name: 'auditor', permissions: [], description: '', updated_at: new Date() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const group = await deps.db
      .insertInto('groups')
      .values({ name: `auditors ${Date.now()}`, updated_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    await deps.db
      .insertInto('group_roles')
      .values({ group_id: group.id, role_name: 'auditor' })
      .execute();
    expectProblem(await get('/needs-role', user.tokens.access_token), 403, 'forbidden');
    await deps.db
      .insertInto('group_members')
      .values({ group_id: group.id, user_id: user.user.id })
      .execute();
    expect((await get('/needs-role', user.tokens.access_token)).statusCode).toBe(200);
  });

  it('an expired token is 401 token_expired', async () => {
    const admin = await signedInAdmin(service, deps);
    clock.advance(deps.config.accessTokenTtl + 1);
    expectProblem(await get('/needs-permission', admin.tokens.access_token), 401, 'token_expired');
  });

  it('a service token acts only on permission routes, within its scopes', async () => {
    const admin = await signedInAdmin(service, deps);
    const created = await service.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: admin.auth,
      payload: { name: 'reporter', scopes: ['reports:read'] },
    });
    const { client_id, client_secret } = json<{ client_id: string; client_secret: string }>(
      created,
    );
    const issued = await service.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { grant_type: 'client_credentials', client_id, client_secret },
    });
    const token = json<{ access_token: string }>(issued).access_token;
    const allowed = await get('/needs-permission', token);
    expect(allowed.statusCode).toBe(200);
    expect(json(allowed)).toEqual({ caller: 'service' });
    // Authenticated, but a service holds no role: forbidden, not unknown.
    expectProblem(await get('/needs-role', token), 403, 'forbidden');
    expectProblem(await get('/needs-user', token), 401, 'unauthorized');
  });
});

describe('rights are checked before the input is', () => {
  // Whoever may not call a route is told so whatever they sent: a 400 would answer before the
  // 401/403 and describe the route's input to anyone.
  const badBody = { name: 5, permissions: 'all' };

  it('401 without a token, whatever the body, query or path', async () => {
    for (const request of [
      { method: 'POST' as const, url: '/api/admin/roles', payload: badBody },
      { method: 'GET' as const, url: '/api/admin/users?limit=100000&active=maybe' },
      { method: 'GET' as const, url: '/api/admin/users/not-a-uuid' },
      { method: 'DELETE' as const, url: '/api/auth/me' },
      {
        method: 'POST' as const,
        url: '/api/admin/roles',
        headers: { 'content-type': 'application/json' },
        payload: '{"name":',
      },
    ]) {
      expectProblem(await service.inject(request), 401, 'unauthorized');
    }
  });

  it('403 for a signed-in user without the right, whatever the body', async () => {
    const user = await signedInUser(service);
    for (const request of [
      { method: 'POST' as const, url: '/api/admin/roles', payload: badBody },
      { method: 'PATCH' as const, url: '/api/admin/users/not-a-uuid', payload: { roles: 7 } },
      { method: 'GET' as const, url: '/api/admin/audit-events?limit=-1' },
    ]) {
      expectProblem(await service.inject({ ...request, headers: user.auth }), 403, 'forbidden');
    }
  });

  it('an admin with the same bad input is told what is wrong with it', async () => {
    const admin = await signedInAdmin(service, deps);
    const response = await service.inject({
      method: 'POST',
      url: '/api/admin/roles',
      headers: admin.auth,
      payload: badBody,
    });
    expectProblem(response, 400, 'validation_failed');
  });
});

describe('service tokens at the hook', () => {
  async function createAccount(scopes: string[]) {
    const admin = await signedInAdmin(service, deps);
    const created = await service.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: admin.auth,
      payload: { name: 'hook test', scopes },
    });
    expect(created.statusCode).toBe(201);
    return json<{ id: string; client_id: string; client_secret: string }>(created);
  }

  async function tokenOf(account: { client_id: string; client_secret: string }) {
    const basic = Buffer.from(`${account.client_id}:${account.client_secret}`).toString('base64');
    const issued = await service.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { authorization: `Basic ${basic}` },
      payload: { grant_type: 'client_credentials' },
    });
    expect(issued.statusCode).toBe(200);
    return json<{ access_token: string }>(issued).access_token;
  }

  it('403 forbidden when the scope lacks the permission; resource:* covers the resource', async () => {
    expectProblem(
      await get('/needs-permission', await tokenOf(await createAccount(['reports:write']))),
      403,
      'forbidden',
    );
    const wildcard = await get(
      '/needs-permission',
      await tokenOf(await createAccount(['reports:*'])),
    );
    expect(wildcard.statusCode).toBe(200);
    expect(json(wildcard)).toEqual({ caller: 'service' });
  });

  it('401 once the account is deleted', async () => {
    const account = await createAccount(['reports:read']);
    const token = await tokenOf(account);
    expect((await get('/needs-permission', token)).statusCode).toBe(200);
    const deleted = await service.inject({
      method: 'DELETE',
      url: `/api/admin/service-accounts/${account.id}`,
      headers: (await signedInAdmin(service, deps)).auth,
    });
    expect(deleted.statusCode).toBe(204);
    expectProblem(await get('/needs-permission', token), 401, 'unauthorized');
  });

  it('after a rotation the old token is 401 and a token from the new secret works', async () => {
    const account = await createAccount(['reports:read']);
    const old = await tokenOf(account);
    // Token times are whole seconds: the rotation happens in a later second than the issue.
    clock.advance(1);
    const rotated = await service.inject({
      method: 'POST',
      url: `/api/admin/service-accounts/${account.id}/rotate`,
      headers: (await signedInAdmin(service, deps)).auth,
    });
    expect(rotated.statusCode).toBe(200);
    expectProblem(await get('/needs-permission', old), 401, 'unauthorized');
    const fresh = await tokenOf({
      client_id: account.client_id,
      client_secret: json<{ client_secret: string }>(rotated).client_secret,
    });
    expect((await get('/needs-permission', fresh)).statusCode).toBe(200);
  });

  it('an expired service token is 401 token_expired', async () => {
    const token = await tokenOf(await createAccount(['reports:read']));
    clock.advance(deps.config.serviceTokenTtl + 1);
    expectProblem(await get('/needs-permission', token), 401, 'token_expired');
  });
});
