import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditEventsOf, json, signedInUser } from '../../../test/app.js';
import {
  type OidcTestApp,
  type RegisteredClient,
  openClientGrant,
  signedClientGrant,
  registerClient,
  startOidcApp,
} from '../../../test/oidc.js';

// RFC 8693 token exchange, as an independent client (oauth4webapi, over real HTTP, the
// server found by discovery) meets it: a user's token for a protected API becomes a narrower
// one naming the exchanging client in `act`, never broader, and dies with the user's session.

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const REDIRECT = 'http://127.0.0.1:9/callback';
const NOTES = 'https://notes.example.com/api';
const OTHER = 'https://other.example.com/api';
/** Its tokens live 60 s, the shortest a resource may set. */
const SHORT = 'https://short.example.com/api';
const insecure = { [oauth.allowInsecureRequests]: true };

let t: OidcTestApp;
let as: oauth.AuthorizationServer;
/** The app the person signed in to; its token is the subject. */
let app: RegisteredClient;
/** An agent an admin allowed token exchange. */
let agent: RegisteredClient;

async function createResource(identifier: string, scopes: string[], ttl: number) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/api/admin/resources',
    headers: t.admin,
    payload: {
      identifier,
      name: identifier,
      scopes: scopes.map((name) => ({ name, description: name })),
      access_token_ttl: ttl,
    },
  });
  expect(response.statusCode).toBe(201);
}

beforeAll(async () => {
  t = await startOidcApp({ env: { OAUTH_DYNAMIC_REGISTRATION: 'open' } });
  await createResource(NOTES, ['notes:read', 'notes:write', 'notes:admin'], 600);
  // Defines a scope of the same name: a token for NOTES must not become one for it.
  await createResource(OTHER, ['notes:read'], 600);
  await createResource(SHORT, ['notes:read'], 60);
  app = await registerClient(t.app, t.admin, { redirect_uris: [REDIRECT] });
  agent = await registerClient(t.app, t.admin, {
    redirect_uris: [REDIRECT],
    grant_types: [EXCHANGE],
    scopes: ['openid'],
  });
  const issuer = new URL(t.issuer);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }),
  );
});

/**
 * A person's grant to `app` for NOTES with these scopes, and its access token signed by the
 * provider's own client-token signer (as a code exchange signs it).
 */
async function subjectFor(scopes: string[], resource: string | null = NOTES) {
  const person = await signedInUser(t.app);
  const userId = person.user.id;
  const { session, token } = await signedClientGrant(t.deps, t.clock.now(), {
    userId,
    clientId: app.client_id,
    scopes,
    resource,
  });
  return { person, userId, sessionId: session.id, token };
}

/** A token-exchange request from `client` (client_secret_basic), answered or thrown. */
async function exchange(
  client: RegisteredClient,
  params: Record<string, string>,
): Promise<oauth.TokenEndpointResponse> {
  const response = await oauth.genericTokenEndpointRequest(
    as,
    { client_id: client.client_id },
    oauth.ClientSecretBasic(client.client_secret!),
    EXCHANGE,
    new URLSearchParams({ subject_token_type: ACCESS_TOKEN, ...params }),
    insecure,
  );
  return oauth.processGenericTokenEndpointResponse(as, { client_id: client.client_id }, response);
}

/** What the exchange was refused with. */
async function refusal(client: RegisteredClient, params: Record<string, string>) {
  const error = await exchange(client, params).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(oauth.ResponseBodyError);
  const { error: code, error_description, status } = error as oauth.ResponseBodyError;
  return { code, description: error_description ?? '', status };
}

describe('token exchange (RFC 8693)', () => {
  it('is advertised in the discovery document', () => {
    expect(as.grant_types_supported).toContain(EXCHANGE);
  });

  it('issues a narrower token for the resource: act names the agent, the session is kept', async () => {
    const subject = await subjectFor(['notes:read', 'notes:write']);
    const answer = await exchange(agent, {
      subject_token: subject.token,
      resource: NOTES,
      scope: 'notes:read',
    });
    expect(answer.token_type).toBe('bearer');
    expect(answer['issued_token_type']).toBe(ACCESS_TOKEN);
    expect(answer.scope).toBe('notes:read');
    expect(answer.refresh_token).toBeUndefined();
    // As a resource server checks it: our signature, issuer, its own audience, RFC 9068 typ.
    const jwks = createRemoteJWKSet(new URL(`${t.issuer}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(answer.access_token, jwks, {
      issuer: t.issuer,
      audience: NOTES,
      typ: 'at+jwt',
      currentDate: t.clock.now(),
    });
    expect(payload).toMatchObject({
      sub: subject.userId,
      aud: NOTES,
      scope: 'notes:read',
      client_id: agent.client_id,
      act: { sub: agent.client_id },
      sid: subject.sessionId,
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    // Never past the subject token's own expiry (the API's lifetime, 600 s, is longer).
    const subjectExp = decodeJwt(subject.token).exp!;
    expect(payload.exp).toBeLessThanOrEqual(subjectExp);
    expect(answer.expires_in).toBe(subjectExp - Math.floor(t.clock.now().getTime() / 1000));
    // Not a token for this service's own routes.
    const me = await t.app.inject({
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${answer.access_token}` },
    });
    expect(me.statusCode).toBe(401);
  });

  it('by default gives every scope of the resource the subject token holds, and no more', async () => {
    const subject = await subjectFor(['openid', 'notes:read', 'notes:write']);
    const answer = await exchange(agent, { subject_token: subject.token, audience: NOTES });
    expect(answer.scope).toBe('notes:read notes:write');
  });

  it("lives no longer than the resource's token lifetime", async () => {
    // A token for this service (JWT_AUDIENCE, 300 s) holding the API's scope.
    const person = await signedInUser(t.app);
    const { auth } = await openClientGrant(t.deps, t.clock.now(), {
      userId: person.user.id,
      clientId: app.client_id,
      scopes: ['openid', 'notes:read'],
    });
    const subjectToken = auth.authorization.slice('Bearer '.length);
    const answer = await exchange(agent, { subject_token: subjectToken, resource: SHORT });
    expect(answer.expires_in).toBe(60);
    expect(answer.scope).toBe('notes:read');
    const claims = decodeJwt(answer.access_token);
    expect(claims.exp! - claims.iat!).toBe(60);
    expect(claims.aud).toBe(SHORT);
  });

  it('nests the previous actor when an exchanged token is exchanged again', async () => {
    const subject = await subjectFor(['notes:read', 'notes:write']);
    const first = await exchange(agent, { subject_token: subject.token, resource: NOTES });
    const second = await exchange(agent, {
      subject_token: first.access_token,
      resource: NOTES,
      scope: 'notes:read',
    });
    expect(decodeJwt(second.access_token)['act']).toEqual({
      sub: agent.client_id,
      act: { sub: agent.client_id },
    });
  });

  it('never widens: a scope the subject token lacks is invalid_scope', async () => {
    const subject = await subjectFor(['notes:read']);
    const refused = await refusal(agent, {
      subject_token: subject.token,
      resource: NOTES,
      scope: 'notes:read notes:admin',
    });
    expect(refused).toMatchObject({ code: 'invalid_scope', status: 400 });
    expect(refused.description).toContain('notes:admin');
    const undefinedScope = await refusal(agent, {
      subject_token: subject.token,
      resource: NOTES,
      scope: 'billing:pay',
    });
    expect(undefinedScope.code).toBe('invalid_scope');
  });

  it("keeps to the client's own scopes when its registry entry names any", async () => {
    const narrow = await registerClient(t.app, t.admin, {
      redirect_uris: [REDIRECT],
      grant_types: [EXCHANGE],
      scopes: ['openid', 'notes:read'],
    });
    const subject = await subjectFor(['notes:read', 'notes:write']);
    const refused = await refusal(narrow, {
      subject_token: subject.token,
      resource: NOTES,
      scope: 'notes:write',
    });
    expect(refused.code).toBe('invalid_scope');
    const answer = await exchange(narrow, { subject_token: subject.token, resource: NOTES });
    expect(answer.scope).toBe('notes:read');
  });

  it('refuses an unknown resource, and a subject token for another API (invalid_target / invalid_grant)', async () => {
    const subject = await subjectFor(['notes:read']);
    expect(
      await refusal(agent, { subject_token: subject.token, resource: 'https://nowhere.example' }),
    ).toMatchObject({ code: 'invalid_target' });
    // OTHER defines notes:read too, but the subject's notes:read was granted for NOTES.
    expect(await refusal(agent, { subject_token: subject.token, resource: OTHER })).toMatchObject({
      code: 'invalid_grant',
    });
    expect(
      await refusal(agent, { subject_token: subject.token, resource: NOTES, audience: OTHER }),
    ).toMatchObject({ code: 'invalid_target' });
  });

  it("takes the person's own sign-in token (unscoped): the client's share of the API, acting for them", async () => {
    const person = await signedInUser(t.app);
    const sid = decodeJwt(person.tokens.access_token)['sid'];
    const narrowed = await exchange(agent, {
      subject_token: person.tokens.access_token,
      resource: NOTES,
      scope: 'notes:read',
    });
    const claims = decodeJwt(narrowed.access_token);
    expect(claims).toMatchObject({
      sub: person.user.id,
      aud: NOTES,
      scope: 'notes:read',
      client_id: agent.client_id,
      act: { sub: agent.client_id },
      sid,
    });
    // Without a scope: every scope of the API the client may have (this agent's registry
    // scopes name none of the API's, so all of them).
    const all = await exchange(agent, {
      subject_token: person.tokens.access_token,
      resource: NOTES,
    });
    expect(all.scope?.split(' ').sort()).toEqual(['notes:admin', 'notes:read', 'notes:write']);
    // Signing out ends the exchanged token's session with the person's.
    await t.app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: person.auth,
      payload: {},
    });
    expect(
      await refusal(agent, { subject_token: person.tokens.access_token, resource: NOTES }),
    ).toMatchObject({ code: 'invalid_grant' });
  });

  it("refuses a service account's token, a forged one and an expired one (invalid_grant)", async () => {
    const service = await t.deps.tokens.sign(
      { sub: 'sa_robot', client_id: 'sa_robot', scope: 'notes:read' },
      300,
      { audience: NOTES },
    );
    expect(await refusal(agent, { subject_token: service, resource: NOTES })).toMatchObject({
      code: 'invalid_grant',
    });
    const subject = await subjectFor(['notes:read']);
    const [header, payload] = subject.token.split('.');
    expect(
      await refusal(agent, { subject_token: `${header}.${payload}.AAAA`, resource: NOTES }),
    ).toMatchObject({ code: 'invalid_grant' });
    // SHORT's tokens live 60 s: its subject token expires without ending the admin's.
    const brief = await subjectFor(['notes:read'], SHORT);
    t.clock.advance(61);
    const expired = await refusal(agent, { subject_token: brief.token, resource: SHORT });
    expect(expired.code).toBe('invalid_grant');
    expect(expired.description).toContain('expired');
  });

  it('refuses a client an admin did not allow the grant (unauthorized_client)', async () => {
    const subject = await subjectFor(['notes:read']);
    expect(await refusal(app, { subject_token: subject.token, resource: NOTES })).toMatchObject({
      code: 'unauthorized_client',
    });
  });

  it('refuses other token types and actor tokens (invalid_request)', async () => {
    const subject = await subjectFor(['notes:read']);
    const idToken = await refusal(agent, {
      subject_token: subject.token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      resource: NOTES,
    });
    expect(idToken.code).toBe('invalid_request');
    expect(idToken.description).toContain('subject_token_type');
    expect(
      await refusal(agent, {
        subject_token: subject.token,
        resource: NOTES,
        requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
      }),
    ).toMatchObject({ code: 'invalid_request' });
    expect(
      await refusal(agent, {
        subject_token: subject.token,
        resource: NOTES,
        actor_token: subject.token,
        actor_token_type: ACCESS_TOKEN,
      }),
    ).toMatchObject({ code: 'invalid_request' });
    expect(await refusal(agent, { subject_token: subject.token })).toMatchObject({
      code: 'invalid_request',
    });
  });

  it('needs a confidential client: a public one is unauthorized_client', async () => {
    const publicAgent = await registerClient(t.app, t.admin, {
      type: 'public',
      redirect_uris: [REDIRECT],
      grant_types: [EXCHANGE],
    });
    const subject = await subjectFor(['notes:read']);
    const response = await oauth.genericTokenEndpointRequest(
      as,
      { client_id: publicAgent.client_id },
      oauth.None(),
      EXCHANGE,
      new URLSearchParams({
        subject_token: subject.token,
        subject_token_type: ACCESS_TOKEN,
        resource: NOTES,
      }),
      insecure,
    );
    await expect(
      oauth.processGenericTokenEndpointResponse(as, { client_id: publicAgent.client_id }, response),
    ).rejects.toMatchObject({ error: 'unauthorized_client' });
  });

  it("ends when the person signs out: neither token is taken, the API's feed lists the session", async () => {
    // The grant opened under the person's sign-in, as a code exchange opens it under theirs.
    const person = await signedInUser(t.app);
    const signInSession = decodeJwt(person.tokens.access_token)['sid'] as string;
    const { session: grant, token: subjectToken } = await signedClientGrant(t.deps, t.clock.now(), {
      userId: person.user.id,
      clientId: app.client_id,
      parentId: signInSession,
      scopes: ['notes:read'],
      resource: NOTES,
    });
    const exchanged = await exchange(agent, { subject_token: subjectToken, resource: NOTES });
    expect(decodeJwt(exchanged.access_token)['sid']).toBe(grant.id);
    // A resource server follows the revocation feed with a service token.
    const reader = json<{ client_id: string; client_secret: string }>(
      await t.app.inject({
        method: 'POST',
        url: '/api/admin/service-accounts',
        headers: t.admin,
        payload: { name: 'notes api', scopes: ['revocations:read'] },
      }),
    );
    const readerToken = json<{ access_token: string }>(
      await t.app.inject({
        method: 'POST',
        url: '/api/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: reader.client_id,
          client_secret: reader.client_secret,
        }).toString(),
      }),
    ).access_token;
    const signout = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signout',
      headers: person.auth,
      payload: {},
    });
    expect(signout.statusCode).toBe(204);
    const again = await refusal(agent, { subject_token: subjectToken, resource: NOTES });
    expect(again).toMatchObject({ code: 'invalid_grant' });
    expect(again.description).toContain('session');
    // The exchanged token carries the same session: the session guard refuses it as well.
    expect(
      await refusal(agent, { subject_token: exchanged.access_token, resource: NOTES }),
    ).toMatchObject({ code: 'invalid_grant' });
    const feed = await t.app.inject({
      url: '/api/auth/revocations',
      headers: { authorization: `Bearer ${readerToken}` },
    });
    expect(feed.statusCode).toBe(200);
    const revoked = json<{ items: { session_id: string }[] }>(feed).items.map(
      (item) => item.session_id,
    );
    expect(revoked).toContain(grant.id);
  });

  it('is audited with the client, the resource, the scopes and the session', async () => {
    const subject = await subjectFor(['notes:read', 'notes:write']);
    await exchange(agent, { subject_token: subject.token, resource: NOTES, scope: 'notes:read' });
    const events = await auditEventsOf(t.deps, subject.userId, 'oauth.token_exchanged');
    expect(events).toHaveLength(1);
    expect(events[0]!.outcome).toBe('success');
    const data =
      typeof events[0]!.data === 'string' ? JSON.parse(events[0]!.data) : events[0]!.data;
    expect(data).toMatchObject({
      client_id: agent.client_id,
      resource: NOTES,
      scopes: ['notes:read'],
      session_id: subject.sessionId,
      subject_client_id: app.client_id,
      act: { sub: agent.client_id },
    });
    const metrics = await t.app.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(
      new RegExp(
        `hyperion_oauth_token_exchanges_total\\{client_id="${agent.client_id}",outcome="success"\\} \\d+`,
      ),
    );
  });

  it('cannot be given by dynamic registration', async () => {
    const registered = await t.app.inject({
      method: 'POST',
      url: '/oauth/register',
      payload: { redirect_uris: [REDIRECT], grant_types: ['authorization_code', EXCHANGE] },
    });
    expect(registered.statusCode).toBe(400);
    expect(json(registered)['error']).toBe('invalid_client_metadata');
  });
});
