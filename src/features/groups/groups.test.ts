import { describe, expect, it } from 'vitest';
import {
  grantPermissions,
  json,
  signIn,
  signUp,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import type { ProblemBody } from '../../http/problem.js';
import type { UserView } from '../accounts/accounts.schemas.js';
import { AppError } from '../../errors.js';
import * as groupsRepo from './groups.repository.js';
import type { GroupView } from './groups.schemas.js';

const { app, deps, clock } = await startTestApp();
const admin = await signedInAdmin(app, deps);

const call = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
  headers = admin.auth,
) => app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

let groupCounter = 0;
async function createGroup(body: { name?: string; roles?: string[]; description?: string } = {}) {
  groupCounter += 1;
  const response = await call('POST', '/api/admin/groups', {
    name: body.name ?? `group ${groupCounter} ${Date.now()}`,
    ...body,
  });
  expect(response.statusCode).toBe(201);
  return json<GroupView>(response);
}

async function groupEvents(groupId: string) {
  const rows = await deps.db
    .selectFrom('audit_events')
    .selectAll()
    .where('type', '=', 'group.changed')
    .orderBy('at')
    .orderBy('id')
    .execute();
  return rows.filter((row) => row.data['group_id'] === groupId);
}

describe('groups API access', () => {
  it('401 without a token, 403 for a plain user; groups:read lists but cannot create', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/admin/groups' })).statusCode).toBe(401);
    const user = await signedInUser(app);
    expect((await call('GET', '/api/admin/groups', undefined, user.auth)).statusCode).toBe(403);
    await grantPermissions(deps, user.user.id, 'group-reader', ['groups:read']);
    expect((await call('GET', '/api/admin/groups', undefined, user.auth)).statusCode).toBe(200);
    const create = await call('POST', '/api/admin/groups', { name: 'nope' }, user.auth);
    expect(create.statusCode).toBe(403);
    expect(json<ProblemBody>(create).code).toBe('forbidden');
  });
});

describe('group CRUD', () => {
  it('creates, reads, renames, replaces roles and deletes a group, auditing each', async () => {
    await grantPermissions(deps, admin.user.id, 'editor', ['posts:write']);
    const group = await createGroup({
      name: '  Editors ',
      description: 'Writers',
      roles: ['editor'],
    });
    expect(group).toMatchObject({ name: 'Editors', description: 'Writers', roles: ['editor'] });
    expect(json<GroupView>(await call('GET', `/api/admin/groups/${group.id}`))).toEqual(group);

    clock.advance(1);
    const renamed = await call('PATCH', `/api/admin/groups/${group.id}`, {
      name: 'Authors',
      roles: ['user', 'editor', 'user'],
    });
    expect(renamed.statusCode).toBe(200);
    expect(json<GroupView>(renamed)).toMatchObject({ name: 'Authors', roles: ['editor', 'user'] });

    clock.advance(1);
    expect((await call('DELETE', `/api/admin/groups/${group.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/admin/groups/${group.id}`)).statusCode).toBe(404);
    const actions = (await groupEvents(group.id)).map((event) => event.data['action']);
    expect(actions).toEqual(['created', 'updated', 'deleted']);
  });

  it('group names are unique regardless of case: 409 conflict', async () => {
    const name = `Ops ${Date.now()}`;
    await createGroup({ name });
    const again = await call('POST', '/api/admin/groups', { name: name.toUpperCase() });
    expect(again.statusCode).toBe(409);
    expect(json<ProblemBody>(again).code).toBe('conflict');
    const other = await createGroup();
    const rename = await call('PATCH', `/api/admin/groups/${other.id}`, {
      name: name.toLowerCase(),
    });
    expect(rename.statusCode).toBe(409);
    expect(json<GroupView>(await call('GET', `/api/admin/groups/${other.id}`)).name).toBe(
      other.name,
    );
  });

  it('400 for an unknown role or a bad body, and nothing is created', async () => {
    const before = json<{ items: GroupView[] }>(await call('GET', '/api/admin/groups?limit=100'));
    const unknownRole = await call('POST', '/api/admin/groups', { name: 'g', roles: ['ghost'] });
    expect(unknownRole.statusCode).toBe(400);
    expect(json<ProblemBody>(unknownRole).errors?.[0]?.field).toBe('roles');
    for (const body of [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 3 },
    ]) {
      expect((await call('POST', '/api/admin/groups', body)).statusCode, JSON.stringify(body)).toBe(
        400,
      );
    }
    const after = json<{ items: GroupView[] }>(await call('GET', '/api/admin/groups?limit=100'));
    expect(after.items).toHaveLength(before.items.length);
  });

  it('404 for an unknown group, 400 for a malformed id', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await call('GET', `/api/admin/groups/${missing}`)).statusCode).toBe(404);
    expect((await call('PATCH', `/api/admin/groups/${missing}`, { name: 'x' })).statusCode).toBe(
      404,
    );
    expect((await call('DELETE', `/api/admin/groups/${missing}`)).statusCode).toBe(404);
    expect((await call('GET', '/api/admin/groups/nope')).statusCode).toBe(400);
  });

  it('lists newest first, a page at a time, each group once', async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      clock.advance(1);
      created.push((await createGroup()).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: GroupView[]; next_cursor: string | null } = json(
        await call('GET', `/api/admin/groups?limit=2${cursor ? `&cursor=${cursor}` : ''}`),
      );
      seen.push(...page.items.map((group) => group.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, 5)).toEqual([...created].reverse());
  });
});

describe('membership', () => {
  it('members inherit the group roles: in the token, in /me, and in authorization', async () => {
    await grantPermissions(deps, admin.user.id, 'reporter', ['users:read']);
    const group = await createGroup({ roles: ['reporter'] });
    const member = await signedInUser(app);
    expect((await call('GET', '/api/admin/users', undefined, member.auth)).statusCode).toBe(403);

    clock.advance(1);
    const add = await call('POST', `/api/admin/groups/${group.id}/members`, {
      user_id: member.user.id,
    });
    expect(add.statusCode).toBe(201);
    expect(json<UserView>(add).roles).toEqual(['reporter', 'user']);
    const again = await call('POST', `/api/admin/groups/${group.id}/members`, {
      user_id: member.user.id,
    });
    expect(again.statusCode).toBe(200);

    // Permissions are read fresh: the existing token already works on admin routes.
    expect((await call('GET', '/api/admin/users', undefined, member.auth)).statusCode).toBe(200);
    const tokens = await signIn(app, member.email, member.password);
    expect(tokens.user.roles).toEqual(['reporter', 'user']);
    const claims = await deps.tokens.verify(tokens.access_token);
    expect(claims.roles).toEqual(['reporter', 'user']);
    const me = await app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(json<UserView>(me).roles).toEqual(['reporter', 'user']);

    const members = json<{ items: UserView[] }>(
      await call('GET', `/api/admin/groups/${group.id}/members`),
    );
    expect(members.items.map((user) => user.id)).toEqual([member.user.id]);

    clock.advance(1);
    const remove = await call('DELETE', `/api/admin/groups/${group.id}/members/${member.user.id}`);
    expect(remove.statusCode).toBe(204);
    expect((await call('GET', '/api/admin/users', undefined, member.auth)).statusCode).toBe(403);
    expect((await signIn(app, member.email, member.password)).user.roles).toEqual(['user']);
    const actions = (await groupEvents(group.id)).map((event) => event.data['action']);
    expect(actions).toEqual(['created', 'member_added', 'member_removed']);
  });

  it('404 for an unknown user, a non-member or an unknown group', async () => {
    const group = await createGroup();
    const someone = await signUp(app);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(
      (await call('POST', `/api/admin/groups/${group.id}/members`, { user_id: missing }))
        .statusCode,
    ).toBe(404);
    expect(
      (await call('POST', `/api/admin/groups/${missing}/members`, { user_id: someone.user.id }))
        .statusCode,
    ).toBe(404);
    expect(
      (await call('DELETE', `/api/admin/groups/${group.id}/members/${someone.user.id}`)).statusCode,
    ).toBe(404);
    expect((await call('GET', `/api/admin/groups/${missing}/members`)).statusCode).toBe(404);
    expect(
      (await call('POST', `/api/admin/groups/${group.id}/members`, { user_id: 'x' })).statusCode,
    ).toBe(400);
  });

  it('deleting a group takes its roles from its members', async () => {
    await grantPermissions(deps, admin.user.id, 'auditor', ['audit:read']);
    const group = await createGroup({ roles: ['auditor'] });
    const member = await signUp(app);
    await call('POST', `/api/admin/groups/${group.id}/members`, { user_id: member.user.id });
    expect(await deps.services.accounts.roleNamesOf(member.user.id)).toContain('auditor');
    await call('DELETE', `/api/admin/groups/${group.id}`);
    expect(await deps.services.accounts.roleNamesOf(member.user.id)).toEqual(['user']);
  });
});

describe('the last admin through a group', () => {
  it('cannot lose admin by removal, role change or group deletion: 409, nothing changed', async () => {
    const { app: soloApp, deps: soloDeps } = await startTestApp();
    const solo = await signedInAdmin(soloApp, soloDeps);
    const auth = solo.auth;
    const created = await soloApp.inject({
      method: 'POST',
      url: '/api/admin/groups',
      headers: auth,
      payload: { name: 'Admins', roles: ['admin'] },
    });
    const group = json<GroupView>(created);
    await soloApp.inject({
      method: 'POST',
      url: `/api/admin/groups/${group.id}/members`,
      headers: auth,
      payload: { user_id: solo.user.id },
    });
    // Now an admin only through the group.
    const demote = await soloApp.inject({
      method: 'PATCH',
      url: `/api/admin/users/${solo.user.id}`,
      headers: auth,
      payload: { roles: ['user'] },
    });
    expect(demote.statusCode).toBe(200);

    for (const request of [
      { method: 'DELETE' as const, url: `/api/admin/groups/${group.id}/members/${solo.user.id}` },
      { method: 'PATCH' as const, url: `/api/admin/groups/${group.id}`, payload: { roles: [] } },
      { method: 'DELETE' as const, url: `/api/admin/groups/${group.id}` },
    ]) {
      const response = await soloApp.inject({ ...request, headers: auth });
      expect(response.statusCode, `${request.method} ${request.url}`).toBe(409);
      expect(json<ProblemBody>(response).code).toBe('conflict');
    }
    expect(await soloDeps.services.accounts.roleNamesOf(solo.user.id)).toEqual(['admin', 'user']);
    const kept = await soloApp.inject({
      method: 'GET',
      url: `/api/admin/groups/${group.id}`,
      headers: auth,
    });
    expect(json<GroupView>(kept).roles).toEqual(['admin']);
    // The refused changes left no trace in the audit trail either.
    const actions = await soloDeps.db
      .selectFrom('audit_events')
      .select('data')
      .where('type', '=', 'group.changed')
      .execute();
    expect(actions.map((row) => row.data['action'])).toEqual(['created', 'member_added']);
  });
});

describe('groups API: more checks', () => {
  it('PATCH with an unknown role or a bad body is a 400 that changes nothing', async () => {
    const group = await createGroup({ name: `Stable ${Date.now()}`, roles: ['user'] });
    const eventsBefore = (await groupEvents(group.id)).length;
    const unknown = await call('PATCH', `/api/admin/groups/${group.id}`, {
      name: 'Renamed',
      roles: ['ghost'],
    });
    expect(unknown.statusCode).toBe(400);
    expect(json<ProblemBody>(unknown).errors?.map((error) => error.field)).toEqual(['roles']);
    for (const body of [{}, { name: '  ' }, { roles: 'user' }, { description: 'x'.repeat(501) }])
      expect(
        (await call('PATCH', `/api/admin/groups/${group.id}`, body)).statusCode,
        JSON.stringify(body),
      ).toBe(400);
    expect(json<GroupView>(await call('GET', `/api/admin/groups/${group.id}`))).toEqual(group);
    expect(await groupEvents(group.id)).toHaveLength(eventsBefore);
  });

  it('groups:read lists groups and members but cannot change membership', async () => {
    const group = await createGroup();
    const reader = await signedInUser(app);
    await grantPermissions(deps, reader.user.id, 'group-reader-2', ['groups:read']);
    const members = await call(
      'GET',
      `/api/admin/groups/${group.id}/members`,
      undefined,
      reader.auth,
    );
    expect(members.statusCode).toBe(200);
    expect(json(members)).toEqual({ items: [], next_cursor: null });
    for (const [method, url, payload] of [
      ['POST', `/api/admin/groups/${group.id}/members`, { user_id: reader.user.id }],
      ['DELETE', `/api/admin/groups/${group.id}/members/${reader.user.id}`, undefined],
      ['PATCH', `/api/admin/groups/${group.id}`, { name: 'mine' }],
      ['DELETE', `/api/admin/groups/${group.id}`, undefined],
    ] as const) {
      const response = await call(method, url, payload, reader.auth);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(json<ProblemBody>(response).code).toBe('forbidden');
    }
    expect(json<GroupView>(await call('GET', `/api/admin/groups/${group.id}`))).toEqual(group);
  });

  it('members are listed as users (effective roles, no secrets), newest first, by pages', async () => {
    await grantPermissions(deps, admin.user.id, 'paged', ['posts:read']);
    const group = await createGroup({ roles: ['paged'] });
    const added: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      clock.advance(1);
      const user = await signUp(app);
      const response = await call('POST', `/api/admin/groups/${group.id}/members`, {
        user_id: user.user.id,
      });
      expect(response.statusCode).toBe(201);
      added.push(user.user.id);
    }
    const seen: UserView[] = [];
    let cursor: string | null = null;
    do {
      const response = await call(
        'GET',
        `/api/admin/groups/${group.id}/members?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(response.statusCode).toBe(200);
      expect(response.body).not.toMatch(/password|hash/i);
      const page: { items: UserView[]; next_cursor: string | null } = json(response);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.map((user) => user.id)).toEqual([...added].reverse());
    for (const user of seen) expect(user.roles).toEqual(['paged', 'user']);
    // The admin's view of one user adds the factors they hold; the lists show the user alone.
    const { factors, ...viaAdmin } = json<UserView & { factors: string[] }>(
      await call('GET', `/api/admin/users/${added[0]}`),
    );
    expect(factors).toEqual([]);
    expect(seen.at(-1)).toEqual(viaAdmin);
    expect(
      (await call('GET', `/api/admin/groups/${group.id}/members?cursor=bogus`)).statusCode,
    ).toBe(400);
    expect((await call('GET', `/api/admin/groups?limit=101`)).statusCode).toBe(400);
  });

  it('a permission granted through a group is effective for authorization', async () => {
    await grantPermissions(deps, admin.user.id, 'user-reader', ['users:read']);
    const group = await createGroup({ roles: ['user-reader'] });
    const member = await signedInUser(app);
    expect((await deps.services.accounts.authorizationOf(member.user.id)).permissions).toEqual([]);
    await call('POST', `/api/admin/groups/${group.id}/members`, { user_id: member.user.id });
    expect(await deps.services.accounts.authorizationOf(member.user.id)).toMatchObject({
      roles: ['user', 'user-reader'],
      permissions: ['users:read'],
    });
    const list = await call('GET', '/api/admin/users', undefined, member.auth);
    expect(list.statusCode).toBe(200);
    // Replacing the group's roles takes the permission away at once.
    await call('PATCH', `/api/admin/groups/${group.id}`, { roles: [] });
    expect((await deps.services.accounts.authorizationOf(member.user.id)).permissions).toEqual([]);
    expect((await call('GET', '/api/admin/users', undefined, member.auth)).statusCode).toBe(403);
  });

  it('audit rows: actor, member as subject, and the action context', async () => {
    const group = await createGroup({ name: `Audited ${Date.now()}` });
    const member = await signUp(app);
    for (const [method, url, payload] of [
      ['POST', `/api/admin/groups/${group.id}/members`, { user_id: member.user.id }],
      ['POST', `/api/admin/groups/${group.id}/members`, { user_id: member.user.id }],
      ['PATCH', `/api/admin/groups/${group.id}`, { roles: ['user'] }],
      ['DELETE', `/api/admin/groups/${group.id}/members/${member.user.id}`, undefined],
    ] as const) {
      clock.advance(1);
      expect((await call(method, url, payload)).statusCode).toBeLessThan(300);
    }
    const events = await groupEvents(group.id);
    // Adding an existing member again records nothing.
    expect(events.map((event) => [event.actor_id, event.user_id, event.data])).toEqual([
      [admin.user.id, null, { group_id: group.id, action: 'created', name: group.name, roles: [] }],
      [
        admin.user.id,
        member.user.id,
        { group_id: group.id, action: 'member_added', member_id: member.user.id },
      ],
      [
        admin.user.id,
        null,
        { group_id: group.id, action: 'updated', changed: ['roles'], added: ['user'], removed: [] },
      ],
      [
        admin.user.id,
        member.user.id,
        { group_id: group.id, action: 'member_removed', member_id: member.user.id },
      ],
    ]);
  });

  it('an admin group may lose its admin role while another admin remains', async () => {
    const group = await createGroup({ roles: ['admin'] });
    const member = await signUp(app);
    await call('POST', `/api/admin/groups/${group.id}/members`, { user_id: member.user.id });
    expect(await deps.services.accounts.roleNamesOf(member.user.id)).toContain('admin');
    const response = await call('PATCH', `/api/admin/groups/${group.id}`, { roles: ['user'] });
    expect(response.statusCode).toBe(200);
    expect(await deps.services.accounts.roleNamesOf(member.user.id)).toEqual(['user']);
  });
});

describe('races with deletion', () => {
  it('a role or user deleted after the existence check is a 400 or 404, not a 500', async () => {
    const group = await createGroup();
    const missing = '00000000-0000-4000-8000-000000000000';
    await expect(
      deps.db
        .transaction()
        .execute((trx) => groupsRepo.replaceGroupRoles(trx, group.id, ['vanished'])),
    ).rejects.toSatisfy(
      (error: unknown) => error instanceof AppError && error.code === 'validation_failed',
    );
    await expect(
      deps.db
        .transaction()
        .execute((trx) => groupsRepo.addMember(trx, group.id, missing, clock.now())),
    ).rejects.toSatisfy(
      (error: unknown) => error instanceof AppError && error.code === 'not_found',
    );
    expect(json<GroupView>(await call('GET', `/api/admin/groups/${group.id}`))).toEqual(group);
  });
});
