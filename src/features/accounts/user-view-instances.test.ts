import { decodeJwt } from 'jose';
import { generate } from 'otplib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  type TestApp,
  type TokenBody,
  json,
  signIn,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import { startRedisProcess } from '../../../test/redis-process.js';
import { startSmtpSink } from '../../../test/smtp.js';
import { toEpochSeconds } from '../../lib/clock.js';
import type { UserView } from './accounts.schemas.js';
import { eventually } from '../../../test/eventually.js';

// Two instances on one database and one Redis of this file's own (stopped and started again
// by the outage test), as behind a load balancer. The first takes the changes; the second
// answers GET /me from its cache, which the changes must reach at once.
const redis = await startRedisProcess();
const sink = await startSmtpSink();
const env = { REDIS_URL: redis.url, SMTP_URL: sink.url };
const first = await startTestApp({ redis: false, env });
const second = await startTestApp({
  redis: false,
  env,
  database: first.database,
  clock: first.clock,
});
const instances = [first, second];
const { auth: admin } = await signedInAdmin(first.app, first.deps);

const bothTrusted = () => instances.every((instance) => instance.deps.broadcast.trusted);

const meOn = (instance: TestApp, tokens: TokenBody) =>
  instance.app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });

/** The user as the instance's GET /me shows them (expecting a 200). */
async function viewOn(instance: TestApp, tokens: TokenBody): Promise<UserView> {
  const response = await meOn(instance, tokens);
  expect(response.statusCode, response.body).toBe(200);
  return json<UserView>(response);
}

/**
 * Whether the second instance shows the change within a second: the change's message is
 * published before the first instance answers, and only has to be read off the socket.
 */
const secondShows = (tokens: TokenBody, check: (view: UserView) => boolean) =>
  eventually(async () => check(await viewOn(second, tokens)), 1_000);

const secondRefuses = (tokens: TokenBody) =>
  eventually(async () => (await meOn(second, tokens)).statusCode === 401, 1_000);

async function call(method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  const response = await first.app.inject({
    method,
    url,
    headers: admin,
    ...(payload ? { payload } : {}),
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response;
}

let counter = 0;
async function newRole(): Promise<string> {
  counter += 1;
  const name = `viewer_${counter}_${Date.now().toString(36)}`;
  await call('POST', '/api/admin/roles', { name, permissions: ['users:read'] });
  return name;
}

/**
 * Lets messages already published reach the second instance. A publish is answered once
 * Redis has handed the message to every subscriber's connection; reading it off the socket
 * is the second instance's next turn of the event loop. Only needed before showing that
 * something stays cached: a message landing after the read would (rightly) drop it.
 */
async function delivered(): Promise<void> {
  // Ready again after an outage: what it kept is published at once, before the PING.
  expect(await eventually(() => first.deps.redis?.status === 'ready')).toBe(true);
  await first.deps.redis?.ping();
  await new Promise((resolve) => setTimeout(resolve, 200));
}

/** A user signed in on the first instance, whose /me the second has cached. */
async function cachedOnSecond() {
  const user = await signedInUser(first.app);
  // The sign-in announced the user.
  await delivered();
  await viewOn(second, user.tokens);
  return user;
}

/** Changes the user's name in the database only, announcing nothing. */
async function renameSilently(userId: string, name: string): Promise<void> {
  await first.deps.db.updateTable('users').set({ name }).where('id', '=', userId).execute();
}

describe('GET /api/auth/me on two instances', () => {
  afterEach(async () => {
    if (!redis.running) await redis.start();
    expect(await eventually(bothTrusted)).toBe(true);
  });

  it('is answered from the cache: a silent change is not seen, an announced one at once', async () => {
    expect(await eventually(bothTrusted)).toBe(true);
    const { user, tokens } = await cachedOnSecond();
    await renameSilently(user.id, 'Silent');
    expect((await viewOn(second, tokens)).name).toBeNull();
    expect((await viewOn(second, tokens)).name).toBeNull();

    await call('PATCH', `/api/admin/users/${user.id}`, { name: 'Announced' });
    expect(await secondShows(tokens, (view) => view.name === 'Announced')).toBe(true);
    await call('PATCH', `/api/admin/users/${user.id}`, { email_verified: true });
    expect(await secondShows(tokens, (view) => view.email_verified)).toBe(true);
  });

  it('shows a role an admin grants or takes away on the first at once', async () => {
    const role = await newRole();
    const { user, tokens } = await cachedOnSecond();
    await call('PATCH', `/api/admin/users/${user.id}`, { roles: ['user', role] });
    expect(await secondShows(tokens, (view) => view.roles.includes(role))).toBe(true);
    await call('PATCH', `/api/admin/users/${user.id}`, { roles: ['user'] });
    expect(await secondShows(tokens, (view) => !view.roles.includes(role))).toBe(true);
  });

  it('a refresh on the second reads the cached user, and signs a role granted on the first at once', async () => {
    const role = await newRole();
    const { user, tokens } = await cachedOnSecond();
    const refreshOnSecond = async (refreshToken: string) => {
      const response = await second.app.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        payload: { refresh_token: refreshToken },
      });
      expect(response.statusCode, response.body).toBe(200);
      return json<TokenBody & { user: UserView }>(response);
    };
    // Served from the cache: a change nobody announced is not in the answer.
    await renameSilently(user.id, 'Unannounced');
    const cached = await refreshOnSecond(tokens.refresh_token);
    expect(cached.user.name).toBeNull();

    await call('PATCH', `/api/admin/users/${user.id}`, { roles: ['user', role] });
    const refreshed = await refreshOnSecond(cached.refresh_token);
    expect(refreshed.user.roles).toContain(role);
    expect(decodeJwt(refreshed.access_token)['roles']).toContain(role);
  });

  it('refuses at once a user deactivated on the first', async () => {
    const { user, tokens } = await cachedOnSecond();
    await call('PATCH', `/api/admin/users/${user.id}`, { is_active: false });
    expect(await secondRefuses(tokens)).toBe(true);
  });

  it("shows group membership and a group's roles changed on the first at once", async () => {
    const [before, after] = [await newRole(), await newRole()];
    const group = json<{ id: string }>(
      await call('POST', '/api/admin/groups', { name: `group ${before}`, roles: [before] }),
    );
    const { user, tokens } = await cachedOnSecond();

    await call('POST', `/api/admin/groups/${group.id}/members`, { user_id: user.id });
    expect(await secondShows(tokens, (view) => view.roles.includes(before))).toBe(true);
    await call('PATCH', `/api/admin/groups/${group.id}`, { roles: [after] });
    expect(
      await secondShows(
        tokens,
        (view) => view.roles.includes(after) && !view.roles.includes(before),
      ),
    ).toBe(true);
    await call('DELETE', `/api/admin/groups/${group.id}/members/${user.id}`);
    expect(await secondShows(tokens, (view) => !view.roles.includes(after))).toBe(true);

    await call('POST', `/api/admin/groups/${group.id}/members`, { user_id: user.id });
    expect(await secondShows(tokens, (view) => view.roles.includes(after))).toBe(true);
    await call('DELETE', `/api/admin/groups/${group.id}`);
    expect(await secondShows(tokens, (view) => view.roles.join() === 'user')).toBe(true);
  });

  it('shows at once that a role deleted on the first is gone', async () => {
    const role = await newRole();
    const { user, tokens } = await cachedOnSecond();
    await call('PATCH', `/api/admin/users/${user.id}`, { roles: ['user', role] });
    expect(await secondShows(tokens, (view) => view.roles.includes(role))).toBe(true);
    await call('DELETE', `/api/admin/roles/${role}`);
    expect(await secondShows(tokens, (view) => view.roles.join() === 'user')).toBe(true);
  });

  it('shows an address verified, MFA turned on and off, and a sign-in on the first at once', async () => {
    const { email, tokens } = await cachedOnSecond();
    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const post = (url: string, payload?: object) =>
      first.app.inject({ method: 'POST', url, headers: auth, ...(payload ? { payload } : {}) });

    expect((await post('/api/auth/email/verify/request')).statusCode).toBe(202);
    const mail = await sink.waitForMail((m) => m.to === email.toLowerCase(), 10_000);
    const token = /#token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    expect((await post('/api/auth/email/verify', { token })).statusCode).toBe(200);
    expect(await secondShows(tokens, (view) => view.email_verified)).toBe(true);

    const { secret } = json<{ secret: string }>(await post('/api/auth/mfa/totp/setup'));
    const code = () => generate({ secret, epoch: toEpochSeconds(first.clock.now()) });
    expect((await post('/api/auth/mfa/totp/confirm', { code: await code() })).statusCode).toBe(200);
    expect(await secondShows(tokens, (view) => view.mfa_enabled)).toBe(true);
    first.clock.advance(30);
    expect((await post('/api/auth/mfa/totp/disable', { code: await code() })).statusCode).toBe(204);
    expect(await secondShows(tokens, (view) => !view.mfa_enabled)).toBe(true);

    first.clock.advance(60);
    const again = await signIn(first.app, email, GOOD_PASSWORD);
    expect(again.user.last_signin_at).toBe(first.clock.now().toISOString());
    expect(
      await secondShows(tokens, (view) => view.last_signin_at === again.user.last_signin_at),
    ).toBe(true);
  });

  it('refuses at once an account deleted on the first', async () => {
    const { tokens } = await cachedOnSecond();
    const deletion = await first.app.inject({
      method: 'DELETE',
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${tokens.access_token}` },
      payload: { password: GOOD_PASSWORD },
    });
    expect(deletion.statusCode, deletion.body).toBe(204);
    expect(await secondRefuses(tokens)).toBe(true);
  });

  it('reads the database while Redis is down, and trusts its cache again once subscribed again', async () => {
    const { user, tokens } = await cachedOnSecond();
    await redis.stop();
    expect(await eventually(() => instances.every((i) => !i.deps.broadcast.trusted))).toBe(true);

    // Nothing can be announced: the second asks the database every time.
    await renameSilently(user.id, 'During');
    expect((await viewOn(second, tokens)).name).toBe('During');
    const started = performance.now();
    await call('PATCH', `/api/admin/users/${user.id}`, { name: 'Patched' });
    // The change's publish gave up at once instead of waiting for Redis.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect((await viewOn(second, tokens)).name).toBe('Patched');

    await redis.start();
    expect(await eventually(bothTrusted)).toBe(true);
    // The change the first could not announce during the outage is published now.
    await delivered();
    // What was cached before the outage is gone: the latest is shown...
    expect((await viewOn(second, tokens)).name).toBe('Patched');
    // ...and cached again, since the subscription is back.
    await renameSilently(user.id, 'Unseen');
    expect((await viewOn(second, tokens)).name).toBe('Patched');
    await call('PATCH', `/api/admin/users/${user.id}`, { name: 'Seen' });
    expect(await secondShows(tokens, (view) => view.name === 'Seen')).toBe(true);
  });
});
