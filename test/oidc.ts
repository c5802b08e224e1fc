import type { FastifyInstance } from 'fastify';
import type { Deps } from '../src/deps.js';
import * as oidc from 'openid-client';
import { type TestApp, type TestAppOptions, json, signedInAdmin, startTestApp } from './app.js';
import { freePort } from './free-port.js';

/** A test app listening on a real port of 127.0.0.1, its issuer (PUBLIC_URL) that address. */
export interface OidcTestApp extends TestApp {
  issuer: string;
  /** An admin's bearer headers, for the client registry. */
  admin: { authorization: string };
}

/**
 * The provider as a relying party meets it: over real HTTP, so `openid-client` (a certified
 * relying party, written by another hand) can discover it and judge its answers.
 */
export async function startOidcApp(
  options: TestAppOptions & {
    /**
     * The issuer's host name. `localhost` for WebAuthn: a relying-party ID must be a domain,
     * and Chromium refuses an IP address as one. It still listens on 127.0.0.1.
     */
    hostname?: '127.0.0.1' | 'localhost';
  } = {},
): Promise<OidcTestApp> {
  const port = await freePort();
  const issuer = `http://${options.hostname ?? '127.0.0.1'}:${port}`;
  const started = await startTestApp({
    ...options,
    env: { ...options.env, PUBLIC_URL: issuer },
  });
  await started.app.listen({ port, host: '127.0.0.1' });
  const { auth } = await signedInAdmin(started.app, started.deps);
  return { ...started, issuer, admin: auth };
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
}

/** Registers an OAuth client through the admin API. */
export async function registerClient(
  app: FastifyInstance,
  admin: { authorization: string },
  body: Record<string, unknown>,
): Promise<RegisteredClient> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/admin/oauth-clients',
    headers: admin,
    payload: { name: 'Test app', type: 'confidential', ...body },
  });
  if (response.statusCode !== 201)
    throw new Error(`client registration: ${response.statusCode} ${response.body}`);
  return json<RegisteredClient>(response);
}

/**
 * openid-client's view of the provider, found by discovery, as this client: client_secret_basic
 * for a confidential client unless `clientAuth` says otherwise, none for a public one.
 */
export async function relyingParty(
  issuer: string,
  client: RegisteredClient,
  clientAuth?: oidc.ClientAuth,
): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(issuer),
    client.client_id,
    client.client_secret ? { client_secret: client.client_secret } : undefined,
    clientAuth ??
      (client.client_secret ? oidc.ClientSecretBasic(client.client_secret) : oidc.None()),
    { execute: [oidc.allowInsecureRequests] },
  );
}

/**
 * An OAuth client's grant to a user, opened as a code exchange opens one (without the
 * browser hop), and an access token of it: for tests of what revokes a grant.
 */
export async function openClientGrant(
  deps: Deps,
  now: Date,
  grant: {
    userId: string;
    clientId: string;
    scopes?: string[];
    /** RFC 8707: the protected API the grant is for. */
    resource?: string | null;
    /** The browser (or sign-in) session the grant was authorized in. */
    parentId?: string | null;
  },
) {
  const scopes = grant.scopes ?? ['openid'];
  const later = new Date(now.getTime() + 86_400_000);
  const session = await deps.db.transaction().execute((trx) =>
    deps.services.sessions.openClientSession(trx, {
      userId: grant.userId,
      clientId: grant.clientId,
      parentId: grant.parentId ?? null,
      scopes,
      resource: grant.resource ?? null,
      authTime: now,
      amr: ['pwd'],
      now,
      expiresAt: later,
      absoluteExpiresAt: later,
      userAgent: null,
      ip: null,
      refreshTokenHash: null,
    }),
  );
  const token = await deps.tokens.sign(
    { sub: grant.userId, sid: session.id, client_id: grant.clientId, scope: scopes.join(' ') },
    300,
  );
  return { session, auth: { authorization: `Bearer ${token}` } };
}

/**
 * The same grant with its access token signed by the provider's client-token signer, exactly
 * as a code exchange signs it (`aud` the resource, its lifetime, roles, `client_id`, `scope`).
 */
export async function signedClientGrant(
  deps: Deps,
  now: Date,
  grant: Parameters<typeof openClientGrant>[2] & { resource: string | null },
) {
  const { session } = await openClientGrant(deps, now, grant);
  const user = await deps.services.accounts.findUser(grant.userId);
  if (!user) throw new Error(`no user ${grant.userId}`);
  const signed = await deps.services.clientTokens.sign(user, {
    sessionId: session.id,
    clientId: grant.clientId,
    scopes: grant.scopes ?? ['openid'],
    resource: grant.resource,
    authTime: now,
    amr: ['pwd'],
    browserSessionId: grant.parentId ?? null,
    nonce: null,
  });
  return { session, token: signed.accessToken };
}
