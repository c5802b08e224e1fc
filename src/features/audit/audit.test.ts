import { describe, expect, it } from 'vitest';
import {
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
import type { AuditEventView } from './audit.schemas.js';
import { AUDIT_EVENT_TYPES } from './audit.types.js';

const { app, deps, clock, config } = await startTestApp();
let admin = await signedInAdmin(app, deps);

type Page = { items: AuditEventView[]; next_cursor: string | null };

const query = async (search: string, headers?: Record<string, string>) => {
  const response = await app.inject({
    method: 'GET',
    url: `/api/admin/audit-events${search}`,
    headers: headers ?? admin.auth,
  });
  return response;
};
const events = async (search: string) => json<Page>(await query(search)).items;

describe('who may read the audit trail', () => {
  it('401 without a token, 403 for a plain user, 200 with audit:read', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/admin/audit-events' })).statusCode).toBe(
      401,
    );
    const user = await signedInUser(app);
    const refused = await query('', user.auth);
    expect(refused.statusCode).toBe(403);
    expect(json<ProblemBody>(refused).code).toBe('forbidden');
    await grantPermissions(deps, user.user.id, 'auditor', ['audit:read']);
    expect((await query('', user.auth)).statusCode).toBe(200);
  });
});

describe('what the trail records', () => {
  it('sign-up, sign-in, a failed sign-in and sign-out, with address, user agent and outcome', async () => {
    const { email, password, user } = await signUp(app);
    await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      headers: { 'user-agent': 'audit-test/1.0' },
      payload: { email, password: 'wrong-password-123' },
    });
    const tokens = await signIn(app, email, password);
    await app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });

    const trail = await events(`?user_id=${user.id}`);
    expect(trail.map((event) => event.type).sort()).toEqual(
      ['user.signin', 'user.signin_failed', 'user.signout', 'user.signup'].sort(),
    );
    const failed = trail.find((event) => event.type === 'user.signin_failed');
    expect(failed).toMatchObject({
      outcome: 'failure',
      user_agent: 'audit-test/1.0',
      ip: '127.0.0.1',
      actor_id: null,
      data: { reason: 'invalid_credentials' },
    });
    expect(JSON.stringify(trail)).not.toContain('wrong-password-123');
    expect(trail.find((event) => event.type === 'user.signin')?.outcome).toBe('success');
  });

  it('a failed sign-in for an unknown address is recorded without a user', async () => {
    const email = uniqueEmail('ghost');
    await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: 'whatever-123456' },
    });
    const failures = await events('?type=user.signin_failed&outcome=failure&limit=100');
    expect(failures.some((event) => event.user_id === null)).toBe(true);
  });
});

describe('GET /api/admin/audit-events filters', () => {
  it('by type, actor and outcome', async () => {
    const target = await signUp(app);
    await app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${target.user.id}`,
      headers: admin.auth,
      payload: { name: 'Audited' },
    });
    const byActor = await events(`?actor_id=${admin.user.id}&type=admin.user_updated`);
    expect(byActor.length).toBeGreaterThan(0);
    expect(byActor.every((event) => event.type === 'admin.user_updated')).toBe(true);
    expect(byActor.every((event) => event.actor_id === admin.user.id)).toBe(true);
    const failures = await events('?outcome=failure&limit=100');
    expect(failures.every((event) => event.outcome === 'failure')).toBe(true);
  });

  it('by time range: since inclusive, until exclusive', async () => {
    clock.advance(3600);
    // The admin's access token has expired meanwhile.
    admin = await signedInAdmin(app, deps);
    const from = clock.now();
    const { user } = await signUp(app);
    clock.advance(60);
    const until = clock.now();
    await signIn(
      app,
      (await deps.services.accounts.getUser(user.id)).email,
      'violet-Harbor-917-quiet',
    );
    const inRange = await events(
      `?user_id=${user.id}&since=${from.toISOString()}&until=${until.toISOString()}`,
    );
    expect(inRange.map((event) => event.type)).toEqual(['user.signup']);
    const after = await events(`?user_id=${user.id}&since=${until.toISOString()}`);
    expect(after.map((event) => event.type)).toEqual(['user.signin']);
  });

  it('400 for an unknown type, a bad id, time, cursor or limit', async () => {
    for (const search of [
      '?type=user.hacked',
      '?user_id=42',
      '?since=yesterday',
      '?cursor=abc',
      '?limit=1000',
      '?outcome=maybe',
    ]) {
      const response = await query(search);
      expect(response.statusCode, search).toBe(400);
      expect(json<ProblemBody>(response).code).toBe('validation_failed');
    }
  });

  it('every documented type is accepted as a filter', async () => {
    for (const type of AUDIT_EVENT_TYPES)
      expect((await query(`?type=${type}&limit=1`)).statusCode, type).toBe(200);
  });

  it('pages newest first, each event exactly once', async () => {
    const { user } = await signUp(app);
    for (let i = 0; i < 6; i += 1) {
      clock.advance(1);
      await deps.services.audit.record({ type: 'user.signin', userId: user.id, data: { i } });
    }
    const seen: AuditEventView[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = json<Page>(
        await query(`?user_id=${user.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`),
      );
      seen.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen.map((event) => event.id)).size).toBe(7);
    const times = seen.map((event) => event.at);
    expect(times).toEqual([...times].sort().reverse());
    expect(seen.at(-1)?.type).toBe('user.signup');
  });
});

describe('retention', () => {
  it('deletes events older than AUDIT_RETENTION in batches, keeping the rest', async () => {
    const {
      app: ownApp,
      deps: ownDeps,
      clock: ownClock,
    } = await startTestApp({
      env: { AUDIT_RETENTION: '30d' },
    });
    void ownApp;
    const now = ownClock.now();
    const old = new Date(now.getTime() - 31 * 86_400_000);
    const rows = Array.from({ length: 2_345 }, (_, i) => ({
      type: 'user.signin',
      at: old,
      data: JSON.stringify({ i }),
    }));
    await ownDeps.db.insertInto('audit_events').values(rows).execute();
    await ownDeps.services.audit.record({ type: 'user.signin', data: { recent: true } });
    const keptOld = new Date(now.getTime() - 29 * 86_400_000);
    await ownDeps.db
      .insertInto('audit_events')
      .values({ type: 'user.signup', at: keptOld, data: '{}' })
      .execute();

    expect(await ownDeps.services.audit.runRetentionOnce()).toBe(2_345);
    const left = await ownDeps.db.selectFrom('audit_events').select(['type', 'at']).execute();
    expect(left.every((row) => row.at.getTime() >= keptOld.getTime())).toBe(true);
    expect(left.map((row) => row.type).sort()).toEqual(
      expect.arrayContaining(['user.signin', 'user.signup']),
    );
    expect(await ownDeps.services.audit.runRetentionOnce()).toBe(0);
  });

  it('is configured from AUDIT_RETENTION (default 90 days)', () => {
    expect(config.auditRetention).toBe(90 * 86_400);
  });
});

describe('the retention job', async () => {
  const own = await startTestApp({ env: { AUDIT_RETENTION: '30d' } });
  const stillThere = async (ids: string[]) =>
    (
      await own.deps.db.selectFrom('audit_events').select('id').where('id', 'in', ids).execute()
    ).map((row) => row.id);

  it('deletes expired events as soon as it starts, by the injected clock', async () => {
    const { audit } = own.deps.services;
    // The app's job already ran once at start; stopped, it runs again when started.
    await audit.stopRetention();
    const insert = async (at: Date) =>
      (
        await own.deps.db
          .insertInto('audit_events')
          .values({ type: 'user.signin', at, data: '{}' })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    // A day old by the wall clock, 31 days by the service's clock: only the injected clock
    // makes it expired.
    const expired = await insert(new Date(own.clock.now().getTime() - 86_400_000));
    own.clock.advance(30 * 86_400);
    const kept = await insert(new Date(own.clock.now().getTime() - 29 * 86_400_000));

    audit.startRetention();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await stillThere([expired])).length > 0)
      await new Promise((resolve) => setTimeout(resolve, 25));
    await audit.stopRetention();
    expect(await stillThere([expired, kept])).toEqual([kept]);
  });
});
