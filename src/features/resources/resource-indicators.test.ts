import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { json, signUp } from '../../../test/app.js';
import { injectAgent } from '../../../test/oidc-flow.js';
import { InjectBrowser } from '../../../test/oidc-pages.js';
import {
  type OidcTestApp,
  type RegisteredClient,
  registerClient,
  relyingParty,
  startOidcApp,
} from '../../../test/oidc.js';

// RFC 8707 resource indicators through the whole flow, judged by openid-client: a token
// bound to one registered protected API (its `aud`, only the scopes it defines, its token
// lifetime), named on the consent page, and refused where it does not belong.

const REDIRECT = 'http://127.0.0.1:9/callback';
const MCP = 'https://mcp.example.com/mcp';

let t: OidcTestApp;
let client: RegisteredClient;
let rp: oidc.Configuration;

beforeAll(async () => {
  t = await startOidcApp();
  client = await registerClient(t.app, t.admin, {
    redirect_uris: [REDIRECT],
    scopes: ['openid', 'offline_access'],
  });
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/admin/resources',
    headers: t.admin,
    payload: {
      identifier: MCP,
      name: 'Team MCP server',
      scopes: [
        { name: 'tools:call', description: 'Use the team tools' },
        { name: 'files:read', description: 'Read the team files' },
      ],
      access_token_ttl: 120,
    },
  });
  expect(created.statusCode).toBe(201);
  rp = await relyingParty(t.issuer, client);
});

/** Signs a fresh person in through the pages with these parameters; the callback URL back. */
async function authorize(params: Record<string, string>, as: oidc.Configuration = rp) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(as, {
    redirect_uri: REDIRECT,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  const { email, password } = await signUp(t.app);
  const browser = new InjectBrowser(t.app, t.issuer);
  const flow = await injectAgent(browser).authorize(url, { email, password });
  return { ...flow, verifier, state };
}

describe('a token for one protected API (RFC 8707)', () => {
  it('carries the API as aud, only its scopes, its lifetime; the consent page names it', async () => {
    const run = await authorize({
      scope: 'openid offline_access tools:call',
      resource: MCP,
    });
    const consent = run.seen.find((seen) => seen.page === 'consent');
    expect(consent?.html).toContain('Team MCP server');
    expect(consent?.html).toContain('Use the team tools');
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      run.callback,
      { pkceCodeVerifier: run.verifier, expectedState: run.state },
      { resource: MCP },
    );
    const access = decodeJwt(tokens.access_token);
    expect(access.aud).toBe(MCP);
    expect(access['scope']).toBe('openid offline_access tools:call');
    expect(access['client_id']).toBe(client.client_id);
    expect(tokens.expires_in).toBe(120);
    // This service's own routes do not take a token meant for another API.
    const me = await t.app.inject({
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(me.statusCode).toBe(401);
    // A refresh stays bound to the same API; naming another is refused.
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, { resource: MCP });
    expect(decodeJwt(refreshed.access_token).aud).toBe(MCP);
    await expect(
      oidc.refreshTokenGrant(rp, refreshed.refresh_token!, { resource: 'https://other.example' }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it("is introspected as active for the API's resource server, and its client can revoke it", async () => {
    const run = await authorize({ scope: 'openid tools:call', resource: MCP });
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      run.callback,
      { pkceCodeVerifier: run.verifier, expectedState: run.state },
      { resource: MCP },
    );
    // RFC 7662: the resource server of the API asks about a token bound to it.
    const active = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(active).toMatchObject({
      active: true,
      aud: [MCP],
      scope: 'openid tools:call',
      client_id: client.client_id,
    });
    // RFC 7009: the client that holds it ends it, and then it is inactive.
    await oidc.tokenRevocation(rp, tokens.access_token);
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toEqual({ active: false });
  });

  it('refuses an unknown resource (invalid_target) and a scope the API does not define', async () => {
    const unknown = await authorize({ scope: 'openid', resource: 'https://nowhere.example/api' });
    expect(unknown.callback.searchParams.get('error')).toBe('invalid_target');
    expect(unknown.callback.searchParams.get('iss')).toBe(t.issuer);
    const foreignScope = await authorize({ scope: 'openid admin:all', resource: MCP });
    expect(foreignScope.callback.searchParams.get('error')).toBe('invalid_scope');
    // Without a resource, an API's scope means nothing either.
    const bare = await authorize({ scope: 'openid tools:call' });
    expect(bare.callback.searchParams.get('error')).toBe('invalid_scope');
  });

  it('refuses a code exchanged for another resource than it was issued for (invalid_target)', async () => {
    const run = await authorize({ scope: 'openid tools:call', resource: MCP });
    const code = run.callback.searchParams.get('code')!;
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: run.verifier,
        resource: 'https://other.example/api',
        client_id: client.client_id,
        client_secret: client.client_secret!,
      }).toString(),
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']).toBe('invalid_target');
  });

  it("gives a client whose registry scopes name an API's scopes only those (and refuses unknown names)", async () => {
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/api/admin/oauth-clients',
      headers: t.admin,
      payload: {
        name: 'Typo',
        type: 'confidential',
        redirect_uris: [REDIRECT],
        scopes: ['openid', 'tools:cal'],
      },
    });
    expect(unknown.statusCode).toBe(400);
    expect(json(unknown)['code']).toBe('validation_failed');
    const limited = await registerClient(t.app, t.admin, {
      redirect_uris: [REDIRECT],
      scopes: ['openid', 'tools:call'],
    });
    expect((limited as unknown as { scopes: string[] }).scopes).toEqual(['openid', 'tools:call']);
    const limitedRp = await relyingParty(t.issuer, limited);
    const refused = await authorize({ scope: 'openid files:read', resource: MCP }, limitedRp);
    expect(refused.callback.searchParams.get('error')).toBe('invalid_scope');
    expect(refused.callback.searchParams.get('error_description')).toContain('files:read');
    const run = await authorize({ scope: 'openid tools:call', resource: MCP }, limitedRp);
    const tokens = await oidc.authorizationCodeGrant(
      limitedRp,
      run.callback,
      { pkceCodeVerifier: run.verifier, expectedState: run.state },
      { resource: MCP },
    );
    expect(decodeJwt(tokens.access_token)['scope']).toBe('openid tools:call');
    // A client that names none of an API's scopes may ask for any of them (the default).
    const open = await authorize({ scope: 'openid files:read', resource: MCP });
    expect(open.callback.searchParams.get('code')).toBeTruthy();
  });
});

describe('forward auth in front of a protected API', () => {
  it("admits the API's own token for a URL under it, and nowhere else", async () => {
    const run = await authorize({ scope: 'openid tools:call', resource: MCP });
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      run.callback,
      { pkceCodeVerifier: run.verifier, expectedState: run.state },
      { resource: MCP },
    );
    const bearer = { authorization: `Bearer ${tokens.access_token}` };
    const verify = (headers: Record<string, string>) =>
      t.app.inject({ url: '/api/auth/verify', headers: { ...bearer, ...headers } });
    const sub = decodeJwt(tokens.access_token).sub;

    // nginx's whole URL, and Traefik's path with the forwarded host and scheme.
    const nginx = await verify({ 'x-original-url': `${MCP}?session=1` });
    expect(nginx.statusCode).toBe(200);
    expect(nginx.headers['x-user-id']).toBe(sub);
    const traefik = await verify({
      'x-forwarded-uri': '/mcp/messages',
      'x-forwarded-host': 'mcp.example.com',
      'x-forwarded-proto': 'https',
    });
    expect(traefik.statusCode).toBe(200);
    // Another URL, or none: not this token's audience.
    const elsewhere: Record<string, string>[] = [
      { 'x-original-url': 'https://other.example/mcp' },
      {},
    ];
    for (const headers of elsewhere) {
      const refused = await verify(headers);
      expect(refused.statusCode).toBe(401);
      expect(json(refused)['code']).toBe('unauthorized');
    }
    // Having been accepted for the API does not make it good for this service's routes.
    const me = await t.app.inject({ url: '/api/auth/me', headers: bearer });
    expect(me.statusCode).toBe(401);
    // Expired (the API's lifetime is 120 s), it is told so, with the API's challenge.
    t.clock.advance(121);
    const expired = await verify({ 'x-original-url': MCP });
    expect(expired.statusCode).toBe(401);
    expect(json(expired)['code']).toBe('token_expired');
    expect(expired.headers['www-authenticate']).toContain('resource_metadata=');
  });
});
