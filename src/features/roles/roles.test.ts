import { describe, expect, it } from 'vitest';
import {
  auditEventsOf,
  grantPermissions,
  json,
  signIn,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import type { ProblemBody } from '../../http/problem.js';
import type { RoleView } from './roles.schemas.js';

const { app, deps } = await startTestApp();
const admin = await signedInAdmin(app, deps);

type Page = { items: RoleView[]; next_cursor: string | null };

const call = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
  headers = admin.auth,
) => app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

async function roleEvents(type: string) {
  return deps.db
    .selectFrom('audit_events')
    .selectAll()
    .where('type', '=', type)
    .orderBy('at')
    .execute();
}

describe('roles API access', () => {
  it('401 without a token, 403 for a plain user', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/admin/roles' })).statusCode).toBe(401);
    const user = await signedInUser(app);
    const response = await call('GET', '/api/admin/roles', undefined, user.auth);
    expect(response.statusCode).toBe(403);
    expect(json<ProblemBody>(response).code).toBe('forbidden');
  });

  it('roles:read may list but not create', async () => {
    const reader = await signedInUser(app);
    await grantPermissions(deps, reader.user.id, 'role-reader', ['roles:read']);
    expect((await call('GET', '/api/admin/roles', undefined, reader.auth)).statusCode).toBe(200);
    const create = await call(
      'POST',
      '/api/admin/roles',
      { name: 'sneaky', permissions: ['*'] },
      reader.auth,
    );
    expect(create.statusCode).toBe(403);
    expect((await call('GET', '/api/admin/roles/sneaky')).statusCode).toBe(404);
  });
});

describe('GET /api/admin/roles', () => {
  it('lists the built-in roles, by name, a page at a time', async () => {
    for (const name of ['aa-first', 'mm-middle', 'zz-last'])
      expect((await call('POST', '/api/admin/roles', { name, permissions: [] })).statusCode).toBe(
        201,
      );
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = json<Page>(
        await call('GET', `/api/admin/roles?limit=2${cursor ? `&cursor=${cursor}` : ''}`),
      );
      expect(page.items.length).toBeLessThanOrEqual(2);
      names.push(...page.items.map((role) => role.name));
      cursor = page.next_cursor;
    } while (cursor);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining(['aa-first', 'admin', 'mm-middle', 'user', 'zz-last']),
    );
    const builtIn = json<RoleView>(await call('GET', '/api/admin/roles/admin'));
    expect(builtIn).toMatchObject({ name: 'admin', permissions: ['*'], built_in: true });
    expect((await call('GET', '/api/admin/roles?cursor=%%%')).statusCode).toBe(400);
  });
});

describe('POST /api/admin/roles', () => {
  it('creates a role: 201, permissions sorted and unique, audited', async () => {
    const response = await call('POST', '/api/admin/roles', {
      name: 'editor',
      description: ' Edits posts ',
      permissions: ['posts:write', 'posts:read', 'posts:write'],
    });
    expect(response.statusCode).toBe(201);
    expect(json<RoleView>(response)).toEqual({
      name: 'editor',
      description: 'Edits posts',
      permissions: ['posts:read', 'posts:write'],
      built_in: false,
    });
    const event = (await roleEvents('role.created')).find((row) => row.data['name'] === 'editor');
    expect(event?.actor_id).toBe(admin.user.id);
    expect(event?.data).toMatchObject({ name: 'editor' });
  });

  it('a role without permissions may be created (a label, such as for a group)', async () => {
    const response = await call('POST', '/api/admin/roles', { name: 'beta-tester' });
    expect(response.statusCode).toBe(201);
    expect(json<RoleView>(response)).toMatchObject({ permissions: [], description: '' });
  });

  it('409 conflict for a name that exists', async () => {
    await call('POST', '/api/admin/roles', { name: 'twice', permissions: [] });
    const again = await call('POST', '/api/admin/roles', { name: 'twice', permissions: ['a:b'] });
    expect(again.statusCode).toBe(409);
    expect(json<ProblemBody>(again).code).toBe('conflict');
    expect(json<RoleView>(await call('GET', '/api/admin/roles/twice')).permissions).toEqual([]);
  });

  it('400 for a bad name or permission, and nothing is created', async () => {
    for (const body of [
      { name: 'Bad Name', permissions: [] },
      { name: '9lives', permissions: [] },
      { name: 'ok-name', permissions: ['no colon'] },
      { name: 'ok-name', permissions: ['users:'] },
      { name: 'ok-name', permissions: 'users:read' },
    ]) {
      const response = await call('POST', '/api/admin/roles', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(json<ProblemBody>(response).code).toBe('validation_failed');
    }
    expect((await call('GET', '/api/admin/roles/ok-name')).statusCode).toBe(404);
  });
});

describe('PATCH /api/admin/roles/{name}', () => {
  it('changes permissions, and holders get them at once', async () => {
    await call('POST', '/api/admin/roles', { name: 'helpdesk', permissions: [] });
    const agent = await signedInUser(app);
    await deps.db
      .insertInto('user_roles')
      .values({ user_id: agent.user.id, role_name: 'helpdesk' })
      .execute();
    expect((await call('GET', '/api/admin/users', undefined, agent.auth)).statusCode).toBe(403);
    const response = await call('PATCH', '/api/admin/roles/helpdesk', {
      permissions: ['users:read'],
    });
    expect(response.statusCode).toBe(200);
    expect(json<RoleView>(response).permissions).toEqual(['users:read']);
    expect((await call('GET', '/api/admin/users', undefined, agent.auth)).statusCode).toBe(200);
    const events = await roleEvents('role.updated');
    expect(events.at(-1)?.data).toMatchObject({ name: 'helpdesk', changed: ['permissions'] });
  });

  it("refuses to change the admin role's permissions (409) but allows its description", async () => {
    const refused = await call('PATCH', '/api/admin/roles/admin', { permissions: ['users:read'] });
    expect(refused.statusCode).toBe(409);
    expect(json<RoleView>(await call('GET', '/api/admin/roles/admin')).permissions).toEqual(['*']);
    const described = await call('PATCH', '/api/admin/roles/admin', { description: 'Root' });
    expect(described.statusCode).toBe(200);
  });

  it('404 for an unknown role, 400 for an empty change', async () => {
    expect((await call('PATCH', '/api/admin/roles/nobody', { description: 'x' })).statusCode).toBe(
      404,
    );
    expect((await call('PATCH', '/api/admin/roles/user', {})).statusCode).toBe(400);
  });
});

describe('DELETE /api/admin/roles/{name}', () => {
  it('deletes a role; its holders lose it', async () => {
    await call('POST', '/api/admin/roles', { name: 'temp', permissions: ['audit:read'] });
    const holder = await signedInUser(app);
    await deps.db
      .insertInto('user_roles')
      .values({ user_id: holder.user.id, role_name: 'temp' })
      .execute();
    const response = await call('DELETE', '/api/admin/roles/temp');
    expect(response.statusCode).toBe(204);
    expect((await call('GET', '/api/admin/roles/temp')).statusCode).toBe(404);
    const tokens = await signIn(app, holder.email, holder.password);
    expect(tokens.user.roles).toEqual(['user']);
    expect((await roleEvents('role.deleted')).at(-1)?.data).toEqual({ name: 'temp' });
    expect((await call('DELETE', '/api/admin/roles/temp')).statusCode).toBe(404);
  });

  it('409 for the built-in roles', async () => {
    for (const name of ['admin', 'user']) {
      const response = await call('DELETE', `/api/admin/roles/${name}`);
      expect(response.statusCode).toBe(409);
      expect(json<ProblemBody>(response).code).toBe('conflict');
    }
    expect(json<RoleView>(await call('GET', '/api/admin/roles/user')).built_in).toBe(true);
    expect(await auditEventsOf(deps, admin.user.id, 'role.deleted')).toHaveLength(0);
  });
});

describe('roles API: more checks', () => {
  it('a bad permission is a 400 naming the permissions field', async () => {
    const response = await call('POST', '/api/admin/roles', {
      name: 'field-check',
      permissions: ['users:read', 'Users:Read'],
    });
    expect(response.statusCode).toBe(400);
    const problem = json<ProblemBody>(response);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors?.map((error) => error.field)).toEqual(['permissions.1']);
    expect((await call('GET', '/api/admin/roles/field-check')).statusCode).toBe(404);
  });

  it('limit is 1..100', async () => {
    for (const limit of ['0', '101', 'x'])
      expect((await call('GET', `/api/admin/roles?limit=${limit}`)).statusCode, limit).toBe(400);
    expect((await call('GET', '/api/admin/roles?limit=100')).statusCode).toBe(200);
  });

  it('roles:read may get a role but not change or delete one', async () => {
    await call('POST', '/api/admin/roles', { name: 'target', permissions: ['posts:read'] });
    const reader = await signedInUser(app);
    await grantPermissions(deps, reader.user.id, 'role-reader-2', ['roles:read']);
    expect(
      json<RoleView>(await call('GET', '/api/admin/roles/target', undefined, reader.auth)),
    ).toEqual({ name: 'target', description: '', permissions: ['posts:read'], built_in: false });
    for (const [method, payload] of [
      ['PATCH', { description: 'mine' }],
      ['DELETE', undefined],
    ] as const) {
      const response = await call(method, '/api/admin/roles/target', payload, reader.auth);
      expect(response.statusCode, method).toBe(403);
      expect(json<ProblemBody>(response).code).toBe('forbidden');
    }
    expect(json<RoleView>(await call('GET', '/api/admin/roles/target')).description).toBe('');
  });

  it('a bad PATCH changes nothing and records nothing', async () => {
    await call('POST', '/api/admin/roles', { name: 'stable', permissions: ['posts:read'] });
    const eventsBefore = (await roleEvents('role.updated')).length;
    for (const body of [
      { permissions: ['not a permission'] },
      { description: 'x'.repeat(501) },
      { permissions: 'posts:read' },
    ])
      expect((await call('PATCH', '/api/admin/roles/stable', body)).statusCode).toBe(400);
    expect((await call('PATCH', '/api/admin/roles/admin', { permissions: [] })).statusCode).toBe(
      409,
    );
    expect(json<RoleView>(await call('GET', '/api/admin/roles/stable')).permissions).toEqual([
      'posts:read',
    ]);
    expect(await roleEvents('role.updated')).toHaveLength(eventsBefore);
  });

  it('role.updated names every changed field; the admin description may change', async () => {
    await call('POST', '/api/admin/roles', { name: 'both', permissions: [] });
    const response = await call('PATCH', '/api/admin/roles/both', {
      description: 'Both',
      permissions: ['b:read', 'a:read', 'a:read'],
    });
    expect(json<RoleView>(response)).toEqual({
      name: 'both',
      description: 'Both',
      permissions: ['a:read', 'b:read'],
      built_in: false,
    });
    const event = (await roleEvents('role.updated')).at(-1);
    expect(event?.actor_id).toBe(admin.user.id);
    expect(event?.data).toMatchObject({
      name: 'both',
      changed: ['description', 'permissions'],
      permissions: ['a:read', 'b:read'],
    });
  });

  it('deleting a role takes it from groups and their members too', async () => {
    await call('POST', '/api/admin/roles', { name: 'grouped', permissions: ['audit:read'] });
    const group = json<{ id: string; roles: string[] }>(
      await call('POST', '/api/admin/groups', { name: 'Grouped holders', roles: ['grouped'] }),
    );
    const member = await signedInUser(app);
    await call('POST', `/api/admin/groups/${group.id}/members`, { user_id: member.user.id });
    expect((await deps.services.accounts.authorizationOf(member.user.id)).permissions).toContain(
      'audit:read',
    );
    expect((await call('DELETE', '/api/admin/roles/grouped')).statusCode).toBe(204);
    expect(
      json<{ roles: string[] }>(await call('GET', `/api/admin/groups/${group.id}`)).roles,
    ).toEqual([]);
    expect(await deps.services.accounts.authorizationOf(member.user.id)).toMatchObject({
      roles: ['user'],
      permissions: [],
    });
  });

  it('a service account with roles:write acts too; the audit names its client', async () => {
    const created = json<{ client_id: string; client_secret: string }>(
      await call('POST', '/api/admin/service-accounts', {
        name: 'role robot',
        scopes: ['roles:read', 'roles:write', 'posts:read'],
      }),
    );
    const token = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: created.client_id,
        client_secret: created.client_secret,
      }).toString(),
    });
    expect(token.statusCode).toBe(200);
    const robot = { authorization: `Bearer ${json<{ access_token: string }>(token).access_token}` };
    const response = await call(
      'POST',
      '/api/admin/roles',
      { name: 'robot-made', permissions: ['posts:read'] },
      robot,
    );
    expect(response.statusCode).toBe(201);
    const event = (await roleEvents('role.created')).find(
      (row) => row.data['name'] === 'robot-made',
    );
    expect(event?.actor_id).toBeNull();
    expect(event?.data).toMatchObject({ name: 'robot-made', client_id: created.client_id });
    // It cannot grant beyond its scopes.
    const wider = await call(
      'POST',
      '/api/admin/roles',
      { name: 'robot-wide', permissions: ['users:write'] },
      robot,
    );
    expect(wider.statusCode).toBe(403);
  });
});
