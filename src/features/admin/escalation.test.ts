import { describe, expect, it } from 'vitest';
import {
  grantPermissions,
  json,
  signUp,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import type { ProblemBody } from '../../http/problem.js';

// No one grants what they do not hold: a delegated right cannot be turned into a wider one.
const { app, deps } = await startTestApp();
const admin = await signedInAdmin(app, deps);

const call = (
  headers: Record<string, string>,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
) => app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

async function expectForbidden(response: Awaited<ReturnType<typeof call>>) {
  expect(response.statusCode, response.body).toBe(403);
  expect(json<ProblemBody>(response).code).toBe('forbidden');
}

describe('a helpdesk role with users:read and users:write', () => {
  it('cannot make itself or anyone an admin, but can grant what it holds', async () => {
    const helpdesk = await signedInUser(app);
    await grantPermissions(deps, helpdesk.user.id, 'helpdesk', ['users:read', 'users:write']);
    await expectForbidden(
      await call(helpdesk.auth, 'PATCH', `/api/admin/users/${helpdesk.user.id}`, {
        roles: ['admin', 'helpdesk', 'user'],
      }),
    );
    const target = await signUp(app);
    await expectForbidden(
      await call(helpdesk.auth, 'PATCH', `/api/admin/users/${target.user.id}`, {
        roles: ['admin', 'user'],
      }),
    );
    expect(await deps.services.accounts.roleNamesOf(target.user.id)).toEqual(['user']);
    const allowed = await call(helpdesk.auth, 'PATCH', `/api/admin/users/${target.user.id}`, {
      roles: ['helpdesk', 'user'],
      name: 'Promoted',
    });
    expect(allowed.statusCode).toBe(200);
  });

  it('cannot deactivate, sign out or delete an admin, but can a plain user', async () => {
    const helpdesk = await signedInUser(app);
    await grantPermissions(deps, helpdesk.user.id, 'helpdesk', ['users:read', 'users:write']);
    const adminUrl = `/api/admin/users/${admin.user.id}`;
    await expectForbidden(await call(helpdesk.auth, 'PATCH', adminUrl, { is_active: false }));
    await expectForbidden(await call(helpdesk.auth, 'POST', `${adminUrl}/signout`));
    await expectForbidden(await call(helpdesk.auth, 'DELETE', adminUrl));
    expect((await deps.services.accounts.getUser(admin.user.id)).is_active).toBe(true);

    const plain = await signUp(app);
    const deactivate = await call(helpdesk.auth, 'PATCH', `/api/admin/users/${plain.user.id}`, {
      is_active: false,
    });
    expect(deactivate.statusCode).toBe(200);
  });
});

describe('a role editor with roles:write', () => {
  it('cannot create or widen a role beyond its own permissions', async () => {
    const editor = await signedInUser(app);
    await grantPermissions(deps, editor.user.id, 'role-editor', ['roles:read', 'roles:write']);
    await expectForbidden(
      await call(editor.auth, 'POST', '/api/admin/roles', { name: 'root', permissions: ['*'] }),
    );
    await expectForbidden(
      await call(editor.auth, 'PATCH', '/api/admin/roles/role-editor', {
        permissions: ['roles:read', 'roles:write', 'users:write'],
      }),
    );
    const narrow = await call(editor.auth, 'POST', '/api/admin/roles', {
      name: 'role-viewer',
      permissions: ['roles:read'],
    });
    expect(narrow.statusCode).toBe(201);
    await expectForbidden(await call(editor.auth, 'DELETE', '/api/admin/roles/admin'));
  });
});

describe('a group manager with groups:write', () => {
  it('cannot join a group that grants admin, nor give a group roles it lacks', async () => {
    const manager = await signedInUser(app);
    await grantPermissions(deps, manager.user.id, 'group-manager', ['groups:read', 'groups:write']);
    const admins = await call(admin.auth, 'POST', '/api/admin/groups', {
      name: 'Administrators',
      roles: ['admin'],
    });
    const groupId = json<{ id: string }>(admins).id;
    await expectForbidden(
      await call(manager.auth, 'POST', `/api/admin/groups/${groupId}/members`, {
        user_id: manager.user.id,
      }),
    );
    await expectForbidden(
      await call(manager.auth, 'POST', '/api/admin/groups', { name: 'Mine', roles: ['admin'] }),
    );
    expect(await deps.services.accounts.roleNamesOf(manager.user.id)).not.toContain('admin');
  });
});

describe('a service-account manager with service_accounts:write', () => {
  it('cannot mint a credential broader than itself, nor rotate one to take its secret', async () => {
    const manager = await signedInUser(app);
    await grantPermissions(deps, manager.user.id, 'sa-manager', [
      'service_accounts:read',
      'service_accounts:write',
      'audit:read',
    ]);
    await expectForbidden(
      await call(manager.auth, 'POST', '/api/admin/service-accounts', {
        name: 'wide',
        scopes: ['users:write'],
      }),
    );
    const narrow = await call(manager.auth, 'POST', '/api/admin/service-accounts', {
      name: 'auditor bot',
      scopes: ['audit:read'],
    });
    expect(narrow.statusCode).toBe(201);

    const wide = await call(admin.auth, 'POST', '/api/admin/service-accounts', {
      name: 'admin bot',
      scopes: ['users:write'],
    });
    const wideId = json<{ id: string }>(wide).id;
    await expectForbidden(
      await call(manager.auth, 'POST', `/api/admin/service-accounts/${wideId}/rotate`),
    );
    await expectForbidden(
      await call(manager.auth, 'DELETE', `/api/admin/service-accounts/${wideId}`),
    );
  });
});
