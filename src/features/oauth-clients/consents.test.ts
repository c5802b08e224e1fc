import { describe, expect, it } from 'vitest';
import { openClientGrant } from '../../../test/oidc.js';
import {
  auditEventsOf,
  json,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import { AppError } from '../../errors.js';
import type { ProblemBody } from '../../http/problem.js';
import { OPERATOR } from '../../lib/actor.js';
import type { ConsentView } from './oauth-clients.schemas.js';

const { app, deps, clock } = await startTestApp();
const { oauthClients, consents } = deps.services;
const NO_CLIENT = { ip: null, userAgent: null };
const BROWSER = { ip: '203.0.113.7', userAgent: 'consent-test' };

let counter = 0;
async function registerClient(firstParty = false) {
  counter += 1;
  return oauthClients.create(
    {
      name: `Doc service ${counter}`,
      type: 'public',
      redirect_uris: ['https://docs.example/cb'],
      first_party: firstParty,
    },
    OPERATOR,
  );
}

/** A grant of the client to the user, as the token side opens one, and an access token of it. */
const clientGrant = (userId: string, clientId: string) =>
  openClientGrant(deps, clock.now(), { userId, clientId, scopes: ['openid', 'email'] });

const me = (auth: Record<string, string>) =>
  app.inject({ method: 'GET', url: '/api/auth/me', headers: auth });

const listConsents = (auth: Record<string, string>) =>
  app.inject({ method: 'GET', url: '/api/auth/consents', headers: auth });

const withdraw = (auth: Record<string, string>, clientId: string) =>
  app.inject({ method: 'DELETE', url: `/api/auth/consents/${clientId}`, headers: auth });

describe('the consent store', () => {
  it('remembers the scopes granted, adding to them, and audits each grant', async () => {
    const client = await registerClient();
    const { user } = await signedInUser(app);
    expect(await consents.findGranted(user.id, client.client_id)).toBeUndefined();

    expect(
      await consents.grant(user.id, client.client_id, ['openid', 'email', 'openid'], BROWSER),
    ).toEqual(['email', 'openid']);
    clock.advance(10);
    expect(await consents.grant(user.id, client.client_id, ['profile', 'email'], BROWSER)).toEqual([
      'email',
      'openid',
      'profile',
    ]);
    expect(await consents.findGranted(user.id, client.client_id)).toEqual([
      'email',
      'openid',
      'profile',
    ]);

    const row = await deps.db
      .selectFrom('oauth_consents')
      .selectAll()
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    // First granted then, extended since.
    expect(row.granted_at.getTime()).toBe(clock.now().getTime() - 10_000);
    expect(row.updated_at).toEqual(clock.now());

    const events = await auditEventsOf(deps, user.id, 'oauth.consent_granted');
    expect(events.map((e) => [e.actor_id, e.ip, e.user_agent, e.data])).toEqual([
      [
        user.id,
        BROWSER.ip,
        BROWSER.userAgent,
        { client_id: client.client_id, scopes: ['email', 'openid'], granted: ['email', 'openid'] },
      ],
      [
        user.id,
        BROWSER.ip,
        BROWSER.userAgent,
        {
          client_id: client.client_id,
          scopes: ['email', 'profile'],
          granted: ['email', 'openid', 'profile'],
        },
      ],
    ]);
  });

  it('keeps consents per user and per client', async () => {
    const [a, b] = [await registerClient(), await registerClient()];
    const [alice, bob] = [await signedInUser(app), await signedInUser(app)];
    await consents.grant(alice.user.id, a.client_id, ['openid'], NO_CLIENT);
    await consents.grant(bob.user.id, b.client_id, ['email'], NO_CLIENT);
    expect(await consents.findGranted(alice.user.id, b.client_id)).toBeUndefined();
    expect(await consents.findGranted(bob.user.id, a.client_id)).toBeUndefined();
    expect(await consents.findGranted(bob.user.id, b.client_id)).toEqual(['email']);
  });

  it('refuses consent to a client that does not exist (404), storing nothing', async () => {
    const { user } = await signedInUser(app);
    const failure = consents.grant(user.id, 'no-such-client', ['openid'], NO_CLIENT);
    await expect(failure).rejects.toBeInstanceOf(AppError);
    await expect(failure).rejects.toMatchObject({ code: 'not_found' });
    expect(await consents.findGranted(user.id, 'no-such-client')).toBeUndefined();
  });
});

describe('GET /api/auth/consents', () => {
  it('401 without a token', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/auth/consents' });
    expect(response.statusCode).toBe(401);
    expect(json<ProblemBody>(response).code).toBe('unauthorized');
  });

  it("lists the signed-in user's consents, newest first, with the client's name", async () => {
    const person = await signedInUser(app);
    expect(json(await listConsents(person.auth))).toEqual({ items: [], next_cursor: null });
    const [older, newer] = [await registerClient(), await registerClient()];
    await consents.grant(person.user.id, older.client_id, ['openid'], NO_CLIENT);
    clock.advance(1);
    await consents.grant(person.user.id, newer.client_id, ['openid', 'email'], NO_CLIENT);
    const someoneElse = await signedInUser(app);
    await consents.grant(someoneElse.user.id, older.client_id, ['phone'], NO_CLIENT);

    const response = await listConsents(person.auth);
    expect(response.statusCode).toBe(200);
    expect(json<{ items: ConsentView[]; next_cursor: null }>(response)).toEqual({
      items: [
        {
          client_id: newer.client_id,
          client_name: newer.name,
          scopes: ['email', 'openid'],
          granted_at: clock.now().toISOString(),
        },
        {
          client_id: older.client_id,
          client_name: older.name,
          scopes: ['openid'],
          granted_at: new Date(clock.now().getTime() - 1000).toISOString(),
        },
      ],
      next_cursor: null,
    });
  });
});

describe('DELETE /api/auth/consents/{client_id}', () => {
  it("withdraws the consent and stops the client's tokens for that user at once", async () => {
    const [client, other] = [await registerClient(), await registerClient()];
    const person = await signedInUser(app);
    const neighbour = await signedInUser(app);
    await consents.grant(person.user.id, client.client_id, ['openid', 'email'], NO_CLIENT);
    await consents.grant(person.user.id, other.client_id, ['openid'], NO_CLIENT);
    await consents.grant(neighbour.user.id, client.client_id, ['openid'], NO_CLIENT);
    const grant = await clientGrant(person.user.id, client.client_id);
    const otherGrant = await clientGrant(person.user.id, other.client_id);
    const neighbourGrant = await clientGrant(neighbour.user.id, client.client_id);
    expect((await me(grant.auth)).statusCode).toBe(200);

    const response = await withdraw(person.auth, client.client_id);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');

    const refused = await me(grant.auth);
    expect(refused.statusCode).toBe(401);
    expect(json<ProblemBody>(refused).code).toBe('unauthorized');
    // Only that client's grant of that user ended: not their other apps, not their own
    // sign-in, not another user's grant of the same client.
    expect((await me(otherGrant.auth)).statusCode).toBe(200);
    expect((await me(person.auth)).statusCode).toBe(200);
    expect((await me(neighbourGrant.auth)).statusCode).toBe(200);

    const session = await deps.db
      .selectFrom('sessions')
      .select(['revoked_at', 'revoked_reason'])
      .where('id', '=', grant.session.id)
      .executeTakeFirstOrThrow();
    expect(session).toEqual({ revoked_at: clock.now(), revoked_reason: 'consent_revoked' });
    expect(await consents.findGranted(person.user.id, client.client_id)).toBeUndefined();
    expect(await consents.findGranted(person.user.id, other.client_id)).toEqual(['openid']);
    expect(await consents.findGranted(neighbour.user.id, client.client_id)).toEqual(['openid']);
    const listed = json<{ items: ConsentView[] }>(await listConsents(person.auth));
    expect(listed.items.map((c) => c.client_id)).toEqual([other.client_id]);

    const events = await auditEventsOf(deps, person.user.id, 'oauth.consent_revoked');
    expect(events.map((e) => [e.actor_id, e.data])).toEqual([
      [
        person.user.id,
        {
          client_id: client.client_id,
          scopes: ['email', 'openid'],
          session_ids: [grant.session.id],
        },
      ],
    ]);

    // Nothing left to withdraw: 404, and no second event.
    const again = await withdraw(person.auth, client.client_id);
    expect(again.statusCode).toBe(404);
    expect(json<ProblemBody>(again).code).toBe('not_found');
    expect(await auditEventsOf(deps, person.user.id, 'oauth.consent_revoked')).toHaveLength(1);
  });

  it("ends a first-party client's grant too, though it never asked consent", async () => {
    const client = await registerClient(true);
    const person = await signedInUser(app);
    const grant = await clientGrant(person.user.id, client.client_id);
    expect((await withdraw(person.auth, client.client_id)).statusCode).toBe(204);
    expect((await me(grant.auth)).statusCode).toBe(401);
    const [event] = await auditEventsOf(deps, person.user.id, 'oauth.consent_revoked');
    expect(event?.data).toEqual({
      client_id: client.client_id,
      scopes: [],
      session_ids: [grant.session.id],
    });
  });

  it('404 for a client the user never allowed, or that does not exist; 400 for a bad id', async () => {
    const client = await registerClient();
    const person = await signedInUser(app);
    for (const clientId of [client.client_id, 'no-such-client']) {
      const response = await withdraw(person.auth, clientId);
      expect(response.statusCode, clientId).toBe(404);
      expect(json<ProblemBody>(response).code).toBe('not_found');
    }
    expect((await withdraw(person.auth, 'a%20b')).statusCode).toBe(400);
  });

  it("401 without a token, and a user cannot withdraw someone else's consent", async () => {
    const client = await registerClient();
    const owner = await signedInUser(app);
    await consents.grant(owner.user.id, client.client_id, ['openid'], NO_CLIENT);
    const anonymous = await app.inject({
      method: 'DELETE',
      url: `/api/auth/consents/${client.client_id}`,
    });
    expect(anonymous.statusCode).toBe(401);
    // An admin's DELETE acts on the admin's own consents only.
    const admin = await signedInAdmin(app, deps);
    expect((await withdraw(admin.auth, client.client_id)).statusCode).toBe(404);
    expect(await consents.findGranted(owner.user.id, client.client_id)).toEqual(['openid']);
  });
});
