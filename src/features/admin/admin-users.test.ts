import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  auditEventsOf,
  grantPermissions,
  json,
  signIn,
  signUp,
  signedInAdmin,
  signedInUser,
  startTestApp,
  uniqueEmail,
} from '../../../test/app.js';
import type { ProblemBody } from '../../http/problem.js';
import type { UserView } from '../accounts/accounts.schemas.js';

const { app, deps, clock } = await startTestApp();
const admin = await signedInAdmin(app, deps);

type Page = { items: UserView[]; next_cursor: string | null };

const list = (query: string, headers = admin.auth) =>
  app.inject({ method: 'GET', url: `/api/admin/users${query}`, headers });
const patch = (id: string, payload: unknown, headers = admin.auth) =>
  app.inject({
    method: 'PATCH',
    url: `/api/admin/users/${id}`,
    headers,
    payload: payload as object,
  });
const me = (accessToken: string, instance = app) =>
  instance.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${accessToken}` },
  });

describe('who may use the admin users API', () => {
  it('401 without a token, 403 forbidden for a plain user, 200 for an admin', async () => {
    const noToken = await app.inject({ method: 'GET', url: '/api/admin/users' });
    expect(noToken.statusCode).toBe(401);
    expect(
      json<ProblemBody>(await app.inject({ method: 'GET', url: '/api/admin/users' })).code,
    ).toBe('unauthorized');
    const user = await signedInUser(app);
    const forbidden = await list('', user.auth);
    expect(forbidden.statusCode).toBe(403);
    expect(json<ProblemBody>(forbidden).code).toBe('forbidden');
    expect((await list('', admin.auth)).statusCode).toBe(200);
  });

  it('a role holding users:read may list and get, but not change', async () => {
    const support = await signedInUser(app);
    await grantPermissions(deps, support.user.id, 'support', ['users:read']);
    expect((await list('', support.auth)).statusCode).toBe(200);
    const target = await signUp(app);
    const got = await app.inject({
      method: 'GET',
      url: `/api/admin/users/${target.user.id}`,
      headers: support.auth,
    });
    expect(got.statusCode).toBe(200);
    expect(json<UserView>(got).email).toBe(target.email);
    const change = await patch(target.user.id, { name: 'Nope' }, support.auth);
    expect(change.statusCode).toBe(403);
    expect((await deps.services.accounts.getUser(target.user.id)).name).toBeNull();
  });

  it('a role taken away stops working at once, before the token expires', async () => {
    const support = await signedInUser(app);
    await grantPermissions(deps, support.user.id, 'support', ['users:read']);
    expect((await list('', support.auth)).statusCode).toBe(200);
    await deps.db.deleteFrom('user_roles').where('user_id', '=', support.user.id).execute();
    expect((await list('', support.auth)).statusCode).toBe(403);
  });
});

describe('GET /api/admin/users', () => {
  it('searches e-mail and name case-insensitively, wildcards taken literally', async () => {
    const tag = `zq${Date.now().toString(36)}`;
    const byName = await signUp(app, { name: `Grace ${tag.toUpperCase()} Hopper` });
    const byEmail = await signUp(app, { email: uniqueEmail(tag) });
    await signUp(app, { name: 'Someone Else' });
    const found = json<Page>(await list(`?q=${tag}`));
    expect(found.items.map((user) => user.id).sort()).toEqual(
      [byName.user.id, byEmail.user.id].sort(),
    );
    // `%` and `_` are not wildcards: nobody's name or e-mail contains "%_%".
    expect(json<Page>(await list(`?q=${encodeURIComponent('%_%')}`)).items).toEqual([]);
  });

  it('filters by role (direct or through a group) and by active flag', async () => {
    const auditor = await signUp(app);
    await grantPermissions(deps, auditor.user.id, 'auditor', ['audit:read']);
    const viaGroup = await signUp(app);
    const group = await deps.db
      .insertInto('groups')
      .values({ name: `auditors-${Date.now()}`, updated_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    await deps.db
      .insertInto('group_roles')
      .values({ group_id: group.id, role_name: 'auditor' })
      .execute();
    await deps.db
      .insertInto('group_members')
      .values({ group_id: group.id, user_id: viaGroup.user.id })
      .execute();
    const auditors = json<Page>(await list('?role=auditor&limit=100')).items;
    expect(auditors.map((user) => user.id).sort()).toEqual(
      [auditor.user.id, viaGroup.user.id].sort(),
    );
    expect(auditors.find((user) => user.id === viaGroup.user.id)?.roles).toEqual([
      'auditor',
      'user',
    ]);

    await patch(auditor.user.id, { is_active: false });
    const inactive = json<Page>(await list('?active=false&role=auditor')).items;
    expect(inactive.map((user) => user.id)).toEqual([auditor.user.id]);
    const active = json<Page>(await list('?active=true&role=auditor')).items;
    expect(active.map((user) => user.id)).toEqual([viaGroup.user.id]);
  });

  it('rejects a bad limit, cursor or flag with 400 validation_failed', async () => {
    for (const query of ['?limit=0', '?limit=101', '?limit=x', '?cursor=bogus', '?active=maybe']) {
      const response = await list(query);
      expect(response.statusCode, query).toBe(400);
      expect(json<ProblemBody>(response).code, query).toBe('validation_failed');
    }
  });

  it('pages newest first without skipping or repeating while users sign up', async () => {
    const tag = `pg${Date.now().toString(36)}`;
    const created: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      clock.advance(1);
      created.push((await signUp(app, { name: `${tag} ${i}` })).user.id);
    }
    // Two at the very same instant: the id breaks the tie.
    created.push((await signUp(app, { name: `${tag} same` })).user.id);
    created.push((await signUp(app, { name: `${tag} same` })).user.id);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?q=${tag}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page: Page = json<Page>(await list(query));
      seen.push(...page.items.map((user) => user.id));
      cursor = page.next_cursor;
      pages += 1;
      // Someone signs up between every two pages.
      clock.advance(1);
      await signUp(app, { name: `${tag} late ${pages}` });
    } while (cursor);

    const original = seen.filter((id) => created.includes(id));
    expect(new Set(seen).size).toBe(seen.length);
    expect(original.sort()).toEqual([...created].sort());
    expect(pages).toBe(5);
  });

  it('pages without skipping or repeating while sign-ups run at the same time', async () => {
    const tag = `cc${Date.now().toString(36)}`;
    const before: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      clock.advance(1);
      before.push((await signUp(app, { name: `${tag} ${i}` })).user.id);
    }
    // Some at one instant: only the id orders them.
    const sameInstant = await Promise.all(
      [1, 2, 3].map(() => signUp(app, { name: `${tag} same` })),
    );
    before.push(...sameInstant.map((created) => created.user.id));

    let walking = true;
    const walk = async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      try {
        do {
          const query: string = `?q=${tag}&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
          const response = await list(query);
          expect(response.statusCode).toBe(200);
          const page: Page = json<Page>(response);
          seen.push(...page.items.map((user) => user.id));
          cursor = page.next_cursor;
          pages += 1;
          // Bounded: a cursor that never ends fails the test instead of hanging it.
        } while (cursor && pages < 100);
      } finally {
        walking = false;
      }
      return seen;
    };
    // Sign-ups until the walk is over: one writer moves time on, the other signs up at the
    // instant the clock shows (a tie with existing users, broken by the id).
    const signUpWhileWalking = async (advance: boolean) => {
      let count = 0;
      while (walking && count < 50) {
        if (advance) clock.advance(1);
        await signUp(app, { name: `${tag} during` });
        count += 1;
      }
      return count;
    };
    const [seen, advancing, tying] = await Promise.all([
      walk(),
      signUpWhileWalking(true),
      signUpWhileWalking(false),
    ]);

    expect(advancing + tying).toBeGreaterThan(0);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => before.includes(id)).sort()).toEqual([...before].sort());
  });

  it('lists never carry a password hash', async () => {
    const response = await list('?limit=100');
    expect(response.body).not.toMatch(/argon2|password_hash|\$2[aby]\$/);
  });
});

describe('GET /api/admin/users/{id}', () => {
  it('404 for an unknown id, 400 for a malformed one', async () => {
    const unknown = await app.inject({
      method: 'GET',
      url: '/api/admin/users/00000000-0000-4000-8000-000000000000',
      headers: admin.auth,
    });
    expect(unknown.statusCode).toBe(404);
    expect(json<ProblemBody>(unknown).code).toBe('not_found');
    const malformed = await app.inject({
      method: 'GET',
      url: '/api/admin/users/not-a-uuid',
      headers: admin.auth,
    });
    expect(malformed.statusCode).toBe(400);
  });
});

describe('PATCH /api/admin/users/{id}', () => {
  it('changes name, e-mail verification and direct roles, with audit events', async () => {
    const target = await signUp(app);
    await grantPermissions(deps, admin.user.id, 'editor', ['posts:write']);
    const response = await patch(target.user.id, {
      name: '  Ada Lovelace ',
      email_verified: true,
      roles: ['editor', 'user', 'editor'],
    });
    expect(response.statusCode).toBe(200);
    const user = json<UserView>(response);
    expect(user).toMatchObject({
      id: target.user.id,
      name: 'Ada Lovelace',
      email_verified: true,
      roles: ['editor', 'user'],
    });

    const updated = await auditEventsOf(deps, target.user.id, 'admin.user_updated');
    expect(updated).toHaveLength(1);
    expect(updated[0]?.actor_id).toBe(admin.user.id);
    expect(updated[0]?.data).toEqual({ changed: ['name', 'email_verified', 'roles'] });
    const rolesChanged = await auditEventsOf(deps, target.user.id, 'admin.roles_changed');
    expect(rolesChanged[0]?.data).toEqual({ added: ['editor'], removed: [] });

    // The new roles are in the next access token.
    const tokens = await signIn(app, target.email, target.password);
    expect(tokens.user.roles).toEqual(['editor', 'user']);

    clock.advance(1);
    const cleared = await patch(target.user.id, { name: null, roles: ['user'] });
    expect(json<UserView>(cleared)).toMatchObject({ name: null, roles: ['user'] });
    const removed = await auditEventsOf(deps, target.user.id, 'admin.roles_changed');
    expect(removed[1]?.data).toEqual({ added: [], removed: ['editor'] });
  });

  it('refuses an unknown role, an empty body or an unknown field, changing nothing', async () => {
    const target = await signUp(app);
    const unknownRole = await patch(target.user.id, { name: 'X', roles: ['no-such-role'] });
    expect(unknownRole.statusCode).toBe(400);
    const problem = json<ProblemBody>(unknownRole);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors?.[0]?.field).toBe('roles');
    for (const body of [{}, { is_active: 'no' }, { email: 'x@example.com' }, { roles: 'admin' }]) {
      expect((await patch(target.user.id, body)).statusCode, JSON.stringify(body)).toBe(400);
    }
    const user = await deps.services.accounts.getUser(target.user.id);
    expect(user).toMatchObject({ name: null, roles: ['user'], is_active: true });
    expect(await auditEventsOf(deps, target.user.id, 'admin.user_updated')).toHaveLength(0);
  });

  it('404 for an unknown user', async () => {
    const response = await patch('00000000-0000-4000-8000-000000000000', { name: 'x' });
    expect(response.statusCode).toBe(404);
  });

  it('deactivating refuses the user’s tokens at once and their sign-in', async () => {
    const target = await signedInUser(app);
    expect((await me(target.tokens.access_token)).statusCode).toBe(200);
    const response = await patch(target.user.id, { is_active: false });
    expect(response.statusCode).toBe(200);
    expect(json<UserView>(response).is_active).toBe(false);
    expect((await me(target.tokens.access_token)).statusCode).toBe(401);
    const refresh = await app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refresh_token: target.tokens.refresh_token },
    });
    expect(refresh.statusCode).toBe(401);
    const signin = await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email: target.email, password: target.password },
    });
    expect(signin.statusCode).toBe(403);
    expect(json<ProblemBody>(signin).code).toBe('account_disabled');

    // Reactivated, they sign in again.
    await patch(target.user.id, { is_active: true });
    expect((await signIn(app, target.email, target.password)).access_token).toBeTruthy();
  });
});

describe('the last admin', () => {
  it('cannot be demoted or deactivated by themself: 409, nothing changed', async () => {
    const { app: soloApp, deps: soloDeps } = await startTestApp();
    const solo = await signedInAdmin(soloApp, soloDeps);
    for (const body of [{ roles: ['user'] }, { is_active: false }]) {
      const response = await soloApp.inject({
        method: 'PATCH',
        url: `/api/admin/users/${solo.user.id}`,
        headers: solo.auth,
        payload: body,
      });
      expect(response.statusCode, JSON.stringify(body)).toBe(409);
      expect(json<ProblemBody>(response).code).toBe('conflict');
    }
    const remove = await soloApp.inject({
      method: 'DELETE',
      url: `/api/admin/users/${solo.user.id}`,
      headers: solo.auth,
    });
    expect(remove.statusCode).toBe(409);
    const user = await soloDeps.services.accounts.getUser(solo.user.id);
    expect(user).toMatchObject({ is_active: true, roles: ['admin', 'user'] });
    expect(await auditEventsOf(soloDeps, solo.user.id, 'admin.user_updated')).toHaveLength(0);
    expect((await me(solo.tokens.access_token, soloApp)).statusCode).toBe(200);
  });

  it('two admins demoting each other at once: exactly one succeeds', async () => {
    const { app: pairApp, deps: pairDeps } = await startTestApp();
    const first = await signedInAdmin(pairApp, pairDeps);
    const second = await signedInAdmin(pairApp, pairDeps);
    const demote = (by: typeof first, target: typeof first) =>
      pairApp.inject({
        method: 'PATCH',
        url: `/api/admin/users/${target.user.id}`,
        headers: by.auth,
        payload: { roles: ['user'] },
      });
    const results = await Promise.all([demote(first, second), demote(second, first)]);
    // The loser is refused either by the last-admin rule (409) or, if the winner committed
    // first, because it is no longer an admin (403).
    const statuses = results.map((response) => response.statusCode).sort();
    expect(statuses[0]).toBe(200);
    expect([403, 409]).toContain(statuses[1]);
    const admins = await pairDeps.db
      .selectFrom('user_roles')
      .select('user_id')
      .where('role_name', '=', 'admin')
      .execute();
    expect(admins).toHaveLength(1);
  });
});

describe('POST /api/admin/users/{id}/signout', () => {
  it('revokes every session of the user', async () => {
    const target = await signedInUser(app);
    const other = await signIn(app, target.email, target.password);
    const response = await app.inject({
      method: 'POST',
      url: `/api/admin/users/${target.user.id}/signout`,
      headers: admin.auth,
    });
    expect(response.statusCode).toBe(204);
    expect((await me(target.tokens.access_token)).statusCode).toBe(401);
    const refresh = await app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refresh_token: other.refresh_token },
    });
    expect(refresh.statusCode).toBe(401);
    const [event] = await auditEventsOf(deps, target.user.id, 'user.signout');
    expect(event?.actor_id).toBe(admin.user.id);
    expect(event?.data).toMatchObject({ all: true, by_admin: true });
    // The user can still sign in again: sign-out is not deactivation.
    expect((await signIn(app, target.email, GOOD_PASSWORD)).access_token).toBeTruthy();
  });

  it('404 for an unknown user', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/admin/users/00000000-0000-4000-8000-000000000000/signout',
      headers: admin.auth,
    });
    expect(response.statusCode).toBe(404);
  });
});

describe('DELETE /api/admin/users/{id}', () => {
  it('deletes the user: 204, their token refused, gone from the list, audited', async () => {
    const target = await signedInUser(app);
    const response = await app.inject({
      method: 'DELETE',
      url: `/api/admin/users/${target.user.id}`,
      headers: admin.auth,
    });
    expect(response.statusCode).toBe(204);
    expect((await me(target.tokens.access_token)).statusCode).toBe(401);
    const again = await app.inject({
      method: 'GET',
      url: `/api/admin/users/${target.user.id}`,
      headers: admin.auth,
    });
    expect(again.statusCode).toBe(404);
    const [event] = await auditEventsOf(deps, target.user.id, 'user.deleted');
    expect(event?.actor_id).toBe(admin.user.id);
    const gone = await app.inject({
      method: 'DELETE',
      url: `/api/admin/users/${target.user.id}`,
      headers: admin.auth,
    });
    expect(gone.statusCode).toBe(404);
  });
});

describe('two instances on one database', () => {
  it('a user deactivated through one instance has their token refused by the other', async () => {
    const { app: first, deps: firstDeps, database, clock: sharedClock } = await startTestApp();
    const second = await startTestApp({ database, clock: sharedClock });
    const boss = await signedInAdmin(first, firstDeps);
    const target = await signedInUser(first);
    // The second instance has seen (and, with Redis, cached) the live session.
    expect((await me(target.tokens.access_token, second.app)).statusCode).toBe(200);
    expect((await me(target.tokens.access_token, second.app)).statusCode).toBe(200);
    const response = await first.inject({
      method: 'PATCH',
      url: `/api/admin/users/${target.user.id}`,
      headers: boss.auth,
      payload: { is_active: false },
    });
    expect(response.statusCode).toBe(200);
    const started = Date.now();
    let status = 200;
    while (status !== 401 && Date.now() - started < 1_000) {
      status = (await me(target.tokens.access_token, second.app)).statusCode;
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
  });
});
