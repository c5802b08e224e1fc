import type { OidcTestApp } from '../../../test/oidc.js';
import { json } from '../../../test/app.js';

// Shared steps of the kit's tests: a protected API registered at the running service, and
// access tokens for it signed by the service's own signer (as a client grant's are).

/** Registers a protected API (RFC 8707 resource) through the admin API. */
export async function registerResource(
  t: OidcTestApp,
  identifier: string,
  scopes: string[],
): Promise<void> {
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/admin/resources',
    headers: t.admin,
    payload: {
      identifier,
      name: `API ${identifier}`,
      scopes: scopes.map((name) => ({ name, description: `Lets a client ${name}` })),
      access_token_ttl: 300,
    },
  });
  if (created.statusCode !== 201)
    throw new Error(`resource: ${created.statusCode} ${created.body}`);
}

/**
 * An access token bound to a resource, as the token signer issues one for a client grant
 * (`aud` the resource, `client_id`, `scope`, `sid` the grant's session).
 */
export async function resourceToken(
  t: OidcTestApp,
  resource: string,
  claims: { scope: string; sid?: string; sub?: string; ttl?: number },
): Promise<string> {
  return t.deps.tokens.sign(
    {
      sub: claims.sub ?? '5b7f7a3e-2a7e-4d39-9a35-2d8f3d6f0c11',
      ...(claims.sid ? { sid: claims.sid } : {}),
      client_id: 'kit-test-client',
      scope: claims.scope,
    },
    claims.ttl ?? 300,
    { audience: resource },
  );
}

/** A service account with these scopes, and its client credentials. */
export async function serviceAccount(t: OidcTestApp, scopes: string[]) {
  return json<{ client_id: string; client_secret: string }>(
    await t.app.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: t.admin,
      payload: { name: `kit ${scopes.join(' ')}`, scopes },
    }),
  );
}
